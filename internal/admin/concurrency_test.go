package admin

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/cache"
	"github.com/portico-proxy/portico/internal/cache/memstore"
	"github.com/portico-proxy/portico/internal/router"
	"github.com/portico-proxy/portico/internal/upstream"
)

// A reload that swaps the generation while a drain is being applied must
// not lose the mark: the live pool is the one that has to stop getting
// requests, not the retired one.
func TestDrainReachesAGenerationSwappedInDuringTheCall(t *testing.T) {
	drains := upstream.NewDrainSet()
	old, next := poolGeneration(t, drains), poolGeneration(t, drains)
	var calls atomic.Int32
	// The first look finds the old generation; the reload has built the
	// next one (before the mark existed) and swaps it in right after.
	gen := func() *router.Generation {
		if calls.Add(1) == 1 {
			return old
		}
		return next
	}
	h := Handler(Sources{Generation: gen})
	w := call(h, "POST", "/api/upstreams/app/drain", "application/json", `{"backend": "`+backendA+`"}`)
	if w.Code != 200 {
		t.Fatalf("drain: got %d %s", w.Code, w.Body)
	}
	if !draining(t, next)[backendA] {
		t.Errorf("live generation after the drain: %v, want %s draining", draining(t, next), backendA)
	}
	var st upstream.PoolState
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || len(st.Backends) != 2 || !st.Backends[0].Draining {
		t.Errorf("answer: %s (%v), want the live pool with a draining", w.Body, err)
	}
}

// Reloads, drains, undrains, purges and reads all at once, with reloads
// swapping generations: no panic, no deadlock, no race (-race).
func TestConcurrentCallsDoNotRaceOrDeadlock(t *testing.T) {
	drains := upstream.NewDrainSet()
	var cur atomic.Pointer[router.Generation]
	cur.Store(poolGeneration(t, drains))
	var mu sync.Mutex // the instance serialises reloads the same way
	reload := func() error {
		mu.Lock()
		defer mu.Unlock()
		cur.Store(poolGeneration(t, drains))
		return nil
	}
	mem, err := cache.New(cache.Options{Memory: memstore.New(1 << 20)})
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	h := Handler(Sources{Generation: cur.Load, Reload: reload, Cache: mem,
		Status: func() Status { return Status{} }})
	calls := []struct{ method, path, body string }{
		{"POST", "/api/reload", ""},
		{"POST", "/api/upstreams/app/drain", `{"backend": "` + backendA + `"}`},
		{"POST", "/api/upstreams/app/undrain", `{"backend": "` + backendA + `"}`},
		{"POST", "/api/cache/purge", `{"prefix": "example.com/"}`},
		{"GET", "/api/upstreams", ""},
		{"GET", "/api/routes", ""},
		{"GET", "/api/cache", ""},
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 30 {
				c := calls[(i+j)%len(calls)]
				ct := ""
				if c.body != "" {
					ct = "application/json"
				}
				if w := call(h, c.method, c.path, ct, c.body); w.Code != 200 {
					t.Errorf("%s %s: got %d %s", c.method, c.path, w.Code, w.Body)
				}
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("concurrent admin calls did not finish: deadlock")
	}
	// The last word wins, and it reaches the live generation.
	if w := call(h, "POST", "/api/upstreams/app/drain", "application/json", `{"backend": "`+backendB+`"}`); w.Code != 200 {
		t.Fatal(w.Body)
	}
	if !draining(t, cur.Load())[backendB] {
		t.Error("drain after the storm did not reach the live pool")
	}
}
