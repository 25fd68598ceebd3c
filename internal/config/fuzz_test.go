package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, that a failure is
// always Errors with a position a user can jump to, and that a success is
// stable under a second Validate.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/valid/*.yaml", "testdata/invalid/*.yaml", "../../examples/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.yaml", data)
		if err == nil {
			if c == nil {
				t.Fatal("got nil Config and nil error")
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("second Validate of a valid config: %v", err)
			}
			return
		}
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("got error %T %v, want non-empty Errors", err, err)
		}
		if len(data) == 0 {
			return
		}
		for _, e := range errs {
			if e.Line <= 0 || e.Column <= 0 {
				t.Errorf("error without a position: %q", e.Error())
			}
		}
	})
}

// FuzzParseStatusRange: any text either parses to an ordered range
// within 100..599 or is refused; never a panic.
func FuzzParseStatusRange(f *testing.F) {
	for _, s := range []string{"200-399", "200", "399-200", "-", "1-2-3", " 204 - 204 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lo, hi, err := ParseStatusRange(s)
		if err == nil && (lo < 100 || hi > 599 || lo > hi) {
			t.Fatalf("%q: accepted %d-%d", s, lo, hi)
		}
	})
}
