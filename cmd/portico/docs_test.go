package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/portico-proxy/portico/internal/config"
)

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// TestDocsConfigsAreValid loads every complete config (one with both
// listeners and routes) shown in README.md and docs/, so the docs cannot
// drift from the format. Snippets of one section are skipped.
func TestDocsConfigsAreValid(t *testing.T) {
	files, _ := filepath.Glob("../../docs/*.md")
	files = append(files, "../../README.md")
	checked := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range yamlBlock.FindAllSubmatch(data, -1) {
			block := string(m[1])
			if !strings.Contains(block, "listeners:") || !strings.Contains(block, "routes:") {
				continue
			}
			checked++
			if _, err := config.Parse(filepath.Base(f), []byte(block)); err != nil {
				t.Errorf("%s, yaml block %d:\n%v", f, i+1, err)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no complete config found in the docs")
	}
}
