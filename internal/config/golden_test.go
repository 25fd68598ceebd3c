package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/invalid/*.err with the current errors")

func goldenFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/%s/*.yaml files (err %v)", dir, err)
	}
	return files
}

// parseGolden parses a testdata file under its base name, so the .err
// files do not depend on where the tests run from.
func parseGolden(t *testing.T, file string) (*Config, error) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return Parse(filepath.Base(file), data)
}

func TestGoldenValid(t *testing.T) {
	for _, f := range goldenFiles(t, "valid") {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := parseGolden(t, f); err != nil {
				t.Errorf("got errors:\n%v\nwant none", err)
			}
		})
	}
}

func TestGoldenInvalid(t *testing.T) {
	for _, f := range goldenFiles(t, "invalid") {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := parseGolden(t, f)
			if err == nil {
				t.Fatal("got no error, want some")
			}
			if c != nil {
				t.Errorf("got a Config with the errors, want nil")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("got error type %T, want Errors", err)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(f, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("got:\n%swant:\n%s", got, want)
			}
		})
	}
}
