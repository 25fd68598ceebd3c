package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildBinary compiles the portico command once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "portico")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestBinaryValidatesEveryExample runs `portico validate` on each file in
// examples/, as a user would.
func TestBinaryValidatesEveryExample(t *testing.T) {
	bin := buildBinary(t)
	files, _ := filepath.Glob("../../examples/*.yaml")
	if len(files) == 0 {
		t.Fatal("no examples found")
	}
	for _, f := range files {
		// From the repository root, as a user of a checkout would: the
		// static example names its root relative to it.
		cmd := exec.Command(bin, "validate", "-c", strings.TrimPrefix(f, "../../"))
		cmd.Dir = "../.."
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("portico validate %s: %v\n%s", f, err, out)
		}
	}
}

// TestBinaryReloadsOnSIGHUPAndDrainsOnSIGTERM starts the built binary,
// changes its config, sends SIGHUP, then SIGTERM, and expects a clean exit.
func TestBinaryReloadsOnSIGHUPAndDrainsOnSIGTERM(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "portico.yaml")
	write := func(body string) {
		yaml := "listeners:\n  - addr: \"127.0.0.1:0\"\nroutes:\n  - match: /\n    respond: " + body + "\n"
		if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("first")
	cmd := exec.Command(bin, "run", "-c", cfg)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	logs := bufio.NewScanner(stderr)
	next := func(msg string) map[string]any {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) && logs.Scan() {
			var line map[string]any
			if json.Unmarshal(logs.Bytes(), &line) == nil && line["msg"] == msg {
				return line
			}
		}
		t.Fatalf("no %q log line", msg)
		return nil
	}
	addr, _ := next("listening")["addr"].(string)
	get := func() string {
		res, err := http.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	if got := get(); got != "first" {
		t.Fatalf("got %q, want first", got)
	}
	write("second")
	cmd.Process.Signal(syscall.SIGHUP)
	next("reloaded")
	if got := get(); got != "second" {
		t.Fatalf("after SIGHUP got %q, want second", got)
	}
	os.WriteFile(cfg, []byte("routes: [oops"), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	if line := next("reload failed"); !strings.Contains(line["err"].(string), "portico.yaml:1") {
		t.Fatalf("reload error %v does not name file and line", line["err"])
	}
	if got := get(); got != "second" {
		t.Fatalf("after a broken reload got %q, want second", got)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { io.Copy(io.Discard, stderr); done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}

// TestBinaryRefusesBrokenConfigAtStart: a bad config at start exits
// non-zero with file:line errors.
func TestBinaryRefusesBrokenConfigAtStart(t *testing.T) {
	bin := buildBinary(t)
	cfg := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(cfg, []byte("listeners: [{addr: \"127.0.0.1:0\"}]\nroutes:\n  - match: api\n    proxy: nowhere\n"), 0o644)
	out, err := exec.Command(bin, "run", "-c", cfg).CombinedOutput()
	if err == nil {
		t.Fatal("want a non-zero exit")
	}
	if !strings.Contains(string(out), "bad.yaml:3:") || !strings.Contains(string(out), "bad.yaml:4:") {
		t.Fatalf("want both errors with file:line, got:\n%s", out)
	}
}
