package admin

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/cache"
	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/router"
	"github.com/portico-proxy/portico/internal/upstream"
)

const (
	backendA = "http://127.0.0.1:9001"
	backendB = "http://127.0.0.1:9002"
)

// poolGeneration builds a generation with one pool, app, of two backends,
// sharing drains with any other generation built on the same set.
func poolGeneration(t *testing.T, drains *upstream.DrainSet) *router.Generation {
	t.Helper()
	cfg := &config.Config{
		Listeners: []config.Listener{{Addr: "127.0.0.1:0"}},
		Upstreams: map[string]*config.Upstream{
			"app": {Backends: []config.Backend{{URL: backendA}, {URL: backendB}}, Balance: "round_robin"},
		},
		UpstreamOrder: []string{"app"},
		Routes:        []config.Route{{Name: "app", Match: config.Match{Path: "/"}, Proxy: "app"}},
	}
	config.ApplyDefaults(cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	g, err := router.Build(cfg, router.Shared{Drains: drains})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Retire)
	return g
}

func draining(t *testing.T, g *router.Generation) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, b := range g.Pools()[0].State().Backends {
		out[b.URL] = b.Draining
	}
	return out
}

// recordingStore is a cache store that only records the purges it gets.
type recordingStore struct {
	mu    sync.Mutex
	calls []string
}

func (s *recordingStore) Get(context.Context, string) (*cache.Entry, error) { return nil, nil }

func (s *recordingStore) Put(context.Context, *cache.Entry) error { return nil }

func (s *recordingStore) Delete(context.Context, string) error { return nil }

func (s *recordingStore) Close() error { return nil }

func (s *recordingStore) DeletePrefix(_ context.Context, p string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, "prefix "+p)
	return 0, nil
}

func (s *recordingStore) DeleteTag(_ context.Context, tag string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, "tag "+tag)
	return 0, nil
}

func (s *recordingStore) taken() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.calls
	s.calls = nil
	return out
}

func recordingCache(t *testing.T) (*cache.Cache, *recordingStore) {
	t.Helper()
	s := &recordingStore{}
	c, err := cache.New(cache.Options{Memory: s})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, s
}

// serve runs the admin server on addr and returns its base URL.
func serve(t *testing.T, addr string, src Sources) string {
	t.Helper()
	s, err := New(addr, src, slog.New(slog.DiscardHandler))
	return runServer(t, s, err)
}

// runServer serves s (New's or NewRelay's) until the test ends and
// returns its base URL.
func runServer(t *testing.T, s *Server, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return "http://" + s.Addr().String()
}

// browserCall is a call to /api/reload as a browser or script on this
// machine might send it, to test the guard.
type browserCall struct{ method, host, peer, ctype, body, origin string }

func (c browserCall) send(h http.Handler) *httptest.ResponseRecorder {
	r := httptest.NewRequest(c.method, "/api/reload", strings.NewReader(c.body))
	r.Host, r.RemoteAddr = c.host, c.peer
	if c.ctype != "" {
		r.Header.Set("Content-Type", c.ctype)
	}
	if c.origin != "" {
		r.Header.Set("Origin", c.origin)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

var client = &http.Client{Timeout: 5 * time.Second}

// trim shortens a body for a test message.
func trim(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
