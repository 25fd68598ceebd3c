package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-proxy/portico/internal/testpki"
)

// TestBenchConfigsLoad keeps bench/portico/ true to the config format:
// every file there, with compare.sh's placeholders filled in, must load.
func TestBenchConfigsLoad(t *testing.T) {
	files, err := filepath.Glob("../../bench/portico/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bench configs found (err %v)", err)
	}
	cert, key, _ := testpki.NewCA(t).Issue(t, testpki.Leaf{Names: []string{"127.0.0.1"}})
	fill := strings.NewReplacer(
		"{{PORT}}", "18150", "{{BACKEND_PORT}}", "18080",
		"{{CERT}}", cert, "{{KEY}}", key, "{{STATIC_ROOT}}", t.TempDir())
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			template, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			rendered := fill.Replace(string(template))
			if strings.Contains(rendered, "{{") {
				t.Fatalf("a placeholder compare.sh does not fill:\n%s", rendered)
			}
			if _, err := Parse(f, []byte(rendered)); err != nil {
				t.Errorf("Parse:\n%v", err)
			}
		})
	}
}
