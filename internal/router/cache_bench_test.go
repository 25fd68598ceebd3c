package router

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portico-proxy/portico/internal/cache"
	"github.com/portico-proxy/portico/internal/cache/memstore"
	"github.com/portico-proxy/portico/internal/config"
)

// benchWriter is a ResponseWriter that keeps nothing, so the benchmark
// counts the chain's own allocations.
type benchWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(code int)        { w.status = code }
func (w *benchWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// benchGeneration builds a generation with one route to a 10 KiB
// `Cache-Control: public, max-age=3600` backend, the cache-hit scenario of
// bench/portico/cache-hit.yaml.
func benchGeneration(b testing.TB, cacheKey string) http.Handler {
	body := bytes.Repeat([]byte("x"), 10<<10)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	}))
	b.Cleanup(backend.Close)
	yaml := "listeners: [{addr: \"127.0.0.1:0\", name: web}]\nroutes:\n  - match: /\n    proxy: \"" + backend.URL + "\"\n" + cacheKey
	cfg, err := config.Parse("bench.yaml", []byte(yaml))
	if err != nil {
		b.Fatal(err)
	}
	c, err := cache.New(cache.Options{Memory: memstore.New(64 << 20)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	g, err := Build(cfg, Shared{Cache: c})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(g.Retire)
	return g.Handler("web")
}

func benchServe(b *testing.B, h http.Handler) {
	r := httptest.NewRequest(http.MethodGet, "http://bench.test/asset.css", nil)
	w := &benchWriter{h: http.Header{}}
	h.ServeHTTP(w, r) // warm: the miss that stores
	b.ReportAllocs()
	b.SetBytes(10 << 10)
	for b.Loop() {
		clear(w.h)
		w.n = 0
		h.ServeHTTP(w, r)
		if w.n != 10<<10 {
			b.Fatalf("wrote %d bytes", w.n)
		}
	}
	if cs := w.h.Get("Cache-Status"); cs != "" && !strings.Contains(cs, "hit") {
		b.Fatalf("Cache-Status %q, want a hit", cs)
	}
}

// BenchmarkCacheHit is a memory hit through the whole per-generation chain
// (request ID, router, route middleware, cache).
func BenchmarkCacheHit(b *testing.B) {
	benchServe(b, benchGeneration(b, "    cache: {}\n"))
}

// BenchmarkProxyNoCache is the same request proxied to the backend every
// time, for the ratio.
func BenchmarkProxyNoCache(b *testing.B) {
	benchServe(b, benchGeneration(b, ""))
}
