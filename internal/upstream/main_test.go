package upstream

import (
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestMain re-runs the test binary with GODEBUG=http2xconnect=1: Go's
// HTTP/2 server reads that setting once at start, and the extended
// CONNECT (WebSocket over HTTP/2) tests need it. Nothing else in this
// package depends on it.
func TestMain(m *testing.M) {
	godebug := os.Getenv("GODEBUG")
	if !strings.Contains(godebug, "http2xconnect=1") {
		if godebug != "" {
			godebug += ","
		}
		os.Setenv("GODEBUG", godebug+"http2xconnect=1")
		if exe, err := os.Executable(); err == nil {
			err = syscall.Exec(exe, os.Args, os.Environ())
			panic("re-exec with GODEBUG failed: " + err.Error())
		}
	}
	os.Exit(m.Run())
}
