// Package h1test runs a handler on Portico's HTTP/1.1 engine on a
// loopback port, as net/http/httptest does for net/http's server. Only
// _test.go files import it.
package h1test

import (
	"errors"
	"net"
	"net/http"
	"testing"

	"github.com/portico-proxy/portico/internal/listener/h1"
)

// Serve starts h on 127.0.0.1 and returns its base URL; the server is
// closed, and must have stopped cleanly, when the test ends.
func Serve(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := h1.NewServer(h, h1.Options{})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, h1.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}
