package h2_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/summerwind/h2spec/config"
	"github.com/summerwind/h2spec/generic"
	"github.com/summerwind/h2spec/hpack"
	h2spechttp2 "github.com/summerwind/h2spec/http2"
	"github.com/summerwind/h2spec/spec"

	"github.com/portico-proxy/portico/internal/listener/h2"
)

// TestH2Spec runs h2spec, the HTTP/2 conformance suite (RFC 7540 and
// RFC 7541, generic and strict cases), against the server over h2c.
// Every case must pass.
func TestH2Spec(t *testing.T) {
	if testing.Short() {
		t.Skip("h2spec takes about 10 s")
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "hello from portico\n")
	})
	addr := serveH2C(t, h2.NewServer(h, h2.Options{}))
	host, port, _ := net.SplitHostPort(addr)
	var portNum int
	fmt.Sscan(port, &portNum)
	c := &config.Config{
		Host:         host,
		Port:         portNum,
		Path:         "/",
		Timeout:      2 * time.Second,
		MaxHeaderLen: 4000,
		Strict:       true,
	}
	groups := []*spec.TestGroup{generic.Spec(), h2spechttp2.Spec(), hpack.Spec()}

	// h2spec prints its progress on stdout; keep it for failures only.
	out, err := os.CreateTemp(t.TempDir(), "h2spec")
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = out
	for _, g := range groups {
		g.Test(c)
	}
	os.Stdout = stdout

	passed := 0
	var failed []string
	var walk func(g *spec.TestGroup)
	walk = func(g *spec.TestGroup) {
		for i, tc := range append(g.Tests, g.StrictTests...) {
			switch {
			case tc.Result == nil || tc.Result.Skipped:
			case tc.Result.Failed:
				failed = append(failed, fmt.Sprintf("%s/%d %s: %v", g.ID(), i+1, tc.Desc, tc.Result.Error))
			default:
				passed++
			}
		}
		for _, sub := range g.Groups {
			walk(sub)
		}
	}
	for _, g := range groups {
		walk(g)
	}
	if len(failed) > 0 {
		t.Errorf("h2spec: %d passed, %d failed:\n%s", passed, len(failed), strings.Join(failed, "\n"))
	}
	if passed < 140 {
		t.Errorf("h2spec: only %d cases passed; the suite did not run", passed)
	}
	t.Logf("h2spec: %d cases passed", passed)
}

// serveH2C serves s on a loopback listener, every connection as h2c with
// prior knowledge, and returns the address.
func serveH2C(t testing.TB, s *h2.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.ServeConn(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.Close()
	})
	return ln.Addr().String()
}
