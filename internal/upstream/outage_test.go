package upstream

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// switchable answers its name, or 503 while failing is set.
func switchable(t *testing.T, name string, failing *atomic.Bool) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(503)
			return
		}
		w.Write([]byte(name))
	}))
	t.Cleanup(s.Close)
	return s
}

// getWithin is get with a bound on how long the answer may take.
func getWithin(t *testing.T, url string, within time.Duration) (int, string, http.Header) {
	t.Helper()
	start := time.Now()
	code, body, hdr := get(t, url)
	if d := time.Since(start); d > within {
		t.Fatalf("answer took %v, want under %v", d, within)
	}
	return code, body, hdr
}

// TestAllBackendsFailingActiveChecksIsFast503ThenRecovers: with every
// backend out by its health checks, a request gets a fast 503 with
// Retry-After: 1; when one passes its checks again it gets traffic
// without anything else happening.
func TestAllBackendsFailingActiveChecksIsFast503ThenRecovers(t *testing.T) {
	var aDown, bDown atomic.Bool
	a, b := switchable(t, "a", &aDown), switchable(t, "b", &bDown)
	p := mustPool(t, PoolOptions{Eject: EjectOptions{Off: true}}, a.URL, b.URL)
	hc := p.newHealthChecker(HealthOptions{Path: "/h", Timeout: time.Second, Rise: 2, Fall: 2})
	front := newTestProxy(t, &Proxy{Pool: p})
	aDown.Store(true)
	bDown.Store(true)
	for range 2 {
		p.checkAll(context.Background(), hc)
	}
	for range 5 {
		code, _, hdr := getWithin(t, front.URL, time.Second)
		if code != 503 || hdr.Get("Retry-After") != "1" {
			t.Fatalf("all down: %d, Retry-After %q; want 503 with Retry-After: 1", code, hdr.Get("Retry-After"))
		}
	}
	bDown.Store(false)
	p.checkAll(context.Background(), hc)
	if code, _, _ := get(t, front.URL); code != 503 {
		t.Fatalf("after one pass: %d, want 503 (rise is 2)", code)
	}
	p.checkAll(context.Background(), hc)
	for i := range 10 {
		if code, body, _ := getWithin(t, front.URL, time.Second); code != 200 || body != "b" {
			t.Fatalf("request %d after b recovered: %d %q, want 200 b", i, code, body)
		}
	}
}

// TestAllBackendsEjectedRecoverAfterTheEjectionTime: with max_percent
// letting the whole pool be ejected, a pool-wide failure leaves clients a
// fast 503; once the ejection time is over, the backends take traffic
// again by themselves.
func TestAllBackendsEjectedRecoverAfterTheEjectionTime(t *testing.T) {
	var failing atomic.Bool
	a, b := switchable(t, "a", &failing), switchable(t, "b", &failing)
	clock := newFakeClock()
	p := mustPool(t, PoolOptions{Now: clock.Now, Balance: PolicyRoundRobin,
		Eject: EjectOptions{Failures: 2, Duration: 10 * time.Second, MaxPercent: 100}}, a.URL, b.URL)
	front := newTestProxy(t, &Proxy{Pool: p})
	failing.Store(true)
	for range 4 {
		if code, _, _ := get(t, front.URL); code != 503 {
			t.Fatalf("failing backends: %d, want their 503", code)
		}
	}
	for _, be := range p.set.Load().all {
		if be.ejectedUntil.Load() <= clock.Now().UnixNano() {
			t.Fatalf("%s not ejected after 2 failures", be.addr)
		}
	}
	failing.Store(false)
	if code, _, hdr := getWithin(t, front.URL, time.Second); code != 503 || hdr.Get("Retry-After") != "1" {
		t.Fatalf("all ejected: %d, want the pool's fast 503", code)
	}
	clock.Advance(10*time.Second + time.Millisecond)
	seen := map[string]bool{}
	for range 10 {
		code, body, _ := getWithin(t, front.URL, time.Second)
		if code != 200 {
			t.Fatalf("after the ejection time: %d, want 200", code)
		}
		seen[body] = true
	}
	if !seen["a"] || !seen["b"] {
		t.Errorf("after the ejection time: served by %v, want both", seen)
	}
}

// TestEjectionCapHoldsUnderABurstOnEveryBackend: failures racing on
// every backend of the pool at once never eject more than max_percent.
func TestEjectionCapHoldsUnderABurstOnEveryBackend(t *testing.T) {
	for _, tt := range []struct{ n, percent, want int }{{4, 50, 2}, {5, 50, 2}, {10, 30, 3}, {1, 50, 0}, {3, 100, 3}} {
		clock := newFakeClock()
		urls := make([]string, tt.n)
		for i := range urls {
			urls[i] = "http://127.0.0." + strconv.Itoa(i+1) + ":1"
		}
		p := mustPool(t, PoolOptions{Now: clock.Now, Eject: EjectOptions{Failures: 3, Duration: time.Minute, MaxPercent: tt.percent}}, urls...)
		s := p.set.Load()
		now := clock.Now().UnixNano()
		var wg sync.WaitGroup
		for _, b := range s.all {
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 20 {
						p.observe(b, false, now)
					}
				}()
			}
		}
		wg.Wait()
		if got := p.ejectedCount(s, now); got != tt.want {
			t.Errorf("%d backends, cap %d%%: %d ejected, want %d", tt.n, tt.percent, got, tt.want)
		}
		if tt.want < tt.n && p.pick(Input{Now: now}) == nil {
			t.Errorf("%d backends, cap %d%%: nothing left to pick", tt.n, tt.percent)
		}
	}
}

// TestClientGoingAwayNeverCountsAgainstTheBackend: requests whose client
// leaves while the backend works are not failures of the backend, so it
// is never ejected for them.
func TestClientGoingAwayNeverCountsAgainstTheBackend(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		w.Write([]byte("late"))
	}))
	defer slow.Close()
	defer close(release)
	p := mustPool(t, PoolOptions{Eject: EjectOptions{Failures: 1, Duration: time.Minute, MaxPercent: 100}}, slow.URL)
	front := newTestProxy(t, &Proxy{Pool: p})
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		req, _ := http.NewRequestWithContext(ctx, "GET", front.URL, nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
			t.Fatal("the slow backend answered in time")
		}
		cancel()
	}
	b := p.set.Load().all[0]
	deadline := time.Now().Add(2 * time.Second)
	for b.inflight.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if f, u := b.fails.Load(), b.ejectedUntil.Load(); f != 0 || u != 0 {
		t.Fatalf("after clients left: %d failures, ejected until %d; want none", f, u)
	}
	if !p.set.Load().usable(b, &Input{Now: time.Now().UnixNano()}) {
		t.Fatal("backend not usable after clients left")
	}
}
