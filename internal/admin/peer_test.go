package admin

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// A peer that is not on this machine is refused, should one ever reach
// the handler (a port forward, an embedding on another listener).
func TestGuardRefusesANonLoopbackPeer(t *testing.T) {
	reloaded := 0
	h := Handler(Sources{Reload: func() error { reloaded++; return nil },
		Status: func() Status { return Status{} }})
	for _, tt := range []struct {
		method, path string
	}{{"POST", "/api/reload"}, {"GET", "/api/status"}} {
		r := httptest.NewRequest(tt.method, tt.path, nil)
		r.Host = "127.0.0.1:9901"
		r.RemoteAddr = "192.0.2.7:40000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusForbidden {
			t.Errorf("%s %s from 192.0.2.7: got %d %s, want 403", tt.method, tt.path, w.Code, w.Body)
		}
	}
	if reloaded != 0 {
		t.Errorf("got %d reloads, want none", reloaded)
	}
}
