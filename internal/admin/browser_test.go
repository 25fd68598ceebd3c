package admin

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/portico-proxy/portico/internal/router"
	"github.com/portico-proxy/portico/internal/upstream"
)

// Over a real loopback socket: a rebound name, a foreign Origin and GET on
// a state-changing call are refused and change nothing; curl's call works.
func TestGuardOverALoopbackSocket(t *testing.T) {
	var reloads atomic.Int32
	base := serve(t, "127.0.0.1:0", Sources{Reload: func() error { reloads.Add(1); return nil }})
	send := func(method, host, origin string) int {
		t.Helper()
		req, _ := http.NewRequest(method, base+"/api/reload", nil)
		if host != "" {
			req.Host = host
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	if code := send("POST", "evil.test:9901", ""); code != http.StatusForbidden {
		t.Errorf("rebound Host: got %d, want 403", code)
	}
	if code := send("POST", "", "http://evil.test"); code != http.StatusForbidden {
		t.Errorf("foreign Origin: got %d, want 403", code)
	}
	if code := send("GET", "", ""); code != http.StatusMethodNotAllowed {
		t.Errorf("GET: got %d, want 405", code)
	}
	if n := reloads.Load(); n != 0 {
		t.Errorf("refused calls reloaded %d times", n)
	}
	if code := send("POST", "", ""); code != http.StatusOK {
		t.Errorf("plain POST: got %d, want 200", code)
	}
}

// A link, an <img> or a redirect sends GET (or HEAD): it must never drain,
// purge or reload. Nor may a method a browser form could not even send.
func TestStateChangingCallsRefuseOtherMethods(t *testing.T) {
	drains := upstream.NewDrainSet()
	g := poolGeneration(t, drains)
	c, store := recordingCache(t)
	reloaded := 0
	h := Handler(Sources{Generation: func() *router.Generation { return g },
		Reload: func() error { reloaded++; return nil }, Cache: c})
	paths := []string{"/api/reload", "/api/cache/purge?tag=x", "/api/upstreams/app/drain?backend=" + backendA,
		"/api/upstreams/app/undrain?backend=" + backendA}
	for _, p := range paths {
		for _, m := range []string{"GET", "HEAD", "PUT", "DELETE", "OPTIONS"} {
			w := call(h, m, p, "", "")
			if w.Code != http.StatusMethodNotAllowed || !strings.Contains(w.Header().Get("Allow"), "POST") {
				t.Errorf("%s %s: got %d (Allow %q), want 405 allowing POST", m, p, w.Code, w.Header().Get("Allow"))
			}
		}
	}
	if reloaded != 0 || len(store.taken()) != 0 || draining(t, g)[backendA] {
		t.Errorf("refused methods did work: %d reloads, drained %v", reloaded, draining(t, g))
	}
}

// Look-alike names and origins are not loopback.
func TestGuardRefusesLookAlikeHostsAndOrigins(t *testing.T) {
	reloaded := 0
	h := Handler(Sources{Reload: func() error { reloaded++; return nil }})
	for _, host := range []string{"127.0.0.1.evil.test", "localhost.evil.test:9901", "evil.localhost:9901", "", "0x7f000001:9901", "2130706433"} {
		r := httptest.NewRequest("POST", "/api/reload", nil)
		r.Host = host
		r.RemoteAddr = "127.0.0.1:40000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusForbidden {
			t.Errorf("Host %q: got %d, want 403", host, w.Code)
		}
	}
	for _, origin := range []string{"null", "http://127.0.0.1.evil.test", "http://localhost.evil.test:9901",
		"http://evil.test#@127.0.0.1", "file://", "127.0.0.1"} {
		if w := call(h, "POST", "/api/reload", "", "", "Origin", origin); w.Code != http.StatusForbidden {
			t.Errorf("Origin %q: got %d, want 403", origin, w.Code)
		}
	}
	if reloaded != 0 {
		t.Errorf("got %d reloads, want none", reloaded)
	}
}
