package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCLI(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("listeners: [{addr: \"127.0.0.1:0\"}]\nroutes: [{match: /, respond: hi}]\n"), 0o644)
	os.WriteFile(bad, []byte("listeners: [{addr: \"127.0.0.1:0\"}]\nroutes:\n  - match: /\n    proxy: nope\n    colour: blue\n"), 0o644)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"version", []string{"version"}, 0, "portico "},
		{"no command", nil, 2, "usage"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"validate good", []string{"validate", "--config", good}, 0, "ok"},
		{"validate short flag", []string{"validate", "-c", good}, 0, "ok"},
		{"validate bad lists every error", []string{"validate", "-c", bad}, 1, "bad.yaml:4:"},
		{"validate without file", []string{"validate"}, 2, "--config FILE is required"},
		{"proxy without target", []string{"proxy", "--from", "127.0.0.1:0"}, 2, "--to URL is required"},
		{"proxy with bad target", []string{"proxy", "--from", "127.0.0.1:0", "--to", "ftp://x"}, 1, "proxy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := runCLI(tt.args, &out, &errOut)
			all := out.String() + errOut.String()
			if code != tt.wantCode || !strings.Contains(all, tt.wantOut) {
				t.Fatalf("got code %d output %q, want code %d containing %q", code, all, tt.wantCode, tt.wantOut)
			}
		})
	}
	var out, errOut bytes.Buffer
	runCLI([]string{"validate", "-c", bad}, &out, &errOut)
	if n := strings.Count(errOut.String(), "bad.yaml:"); n < 2 {
		t.Errorf("validate reported %d errors, want both (undefined upstream and unknown key):\n%s", n, errOut.String())
	}
}
