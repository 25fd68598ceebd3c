package admin

import (
	"log/slog"
	"net"
	"testing"
)

// The admin listener binds loopback only, whatever it is handed: config
// validation checks the address, and New checks again, so a caller that
// skips validation cannot put the API on every interface.
func TestNewRefusesANonLoopbackAddress(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:0", "example.com:0"} {
		s, err := New(addr, Sources{}, slog.New(slog.DiscardHandler))
		if err == nil {
			t.Errorf("New(%q): bound %s, want an error", addr, s.Addr())
			s.ln.Close()
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0"} {
		s, err := New(addr, Sources{}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Errorf("New(%q): %v, want it bound", addr, err)
			continue
		}
		if ip := s.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
			t.Errorf("New(%q): bound %s, want loopback", addr, s.Addr())
		}
		s.ln.Close()
	}
}
