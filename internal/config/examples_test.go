package config

import (
	"path/filepath"
	"testing"
)

// TestExamplesLoad keeps examples/ true: every file there must load.
func TestExamplesLoad(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples found (err %v)", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := Load(f); err != nil {
				t.Errorf("Load:\n%v", err)
			}
		})
	}
}
