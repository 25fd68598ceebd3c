//go:build !race

// Under the race detector sync.Pool drops items on purpose, so the count
// below only holds in a normal build.

package router

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestCacheHitDoesNotAllocate keeps BenchmarkCacheHit's promise (and
// docs/performance.md's) in the test run: a memory hit through the whole
// chain, request ID included, allocates nothing.
func TestCacheHitDoesNotAllocate(t *testing.T) {
	h := benchGeneration(t, "    cache: {}\n")
	r := httptest.NewRequest(http.MethodGet, "http://bench.test/asset.css", nil)
	w := &benchWriter{h: http.Header{}}
	h.ServeHTTP(w, r) // the miss that stores
	if n := testing.AllocsPerRun(100, func() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}); n != 0 {
		t.Errorf("%v allocations per cache hit, want 0", n)
	}
}
