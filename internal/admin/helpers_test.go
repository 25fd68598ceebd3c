package admin

import (
	"context"
	"log/slog"
	"net/http"
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

var client = &http.Client{Timeout: 5 * time.Second}

// trim shortens a body for a test message.
func trim(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
