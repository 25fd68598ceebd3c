package upstream

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is the injected time of the ejection and slow-start tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func mustPool(t *testing.T, o PoolOptions, urls ...string) *Pool {
	t.Helper()
	for _, u := range urls {
		o.Backends = append(o.Backends, BackendOptions{URL: u})
	}
	p, err := NewPool("test", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func get(t *testing.T, url string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

func named(name string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name)
	}))
}

func TestEjectionAfterConsecutiveFailuresWithBackoffAndCap(t *testing.T) {
	clock := newFakeClock()
	p := mustPool(t, PoolOptions{Balance: PolicyRoundRobin, Now: clock.Now,
		Eject: EjectOptions{Failures: 3, Duration: 10 * time.Second, MaxDuration: 15 * time.Second, MaxPercent: 50}},
		"http://127.0.0.1:1", "http://127.0.0.2:1", "http://127.0.0.3:1")
	s := p.set.Load()
	a, b := s.all[0], s.all[1]
	now := func() int64 { return clock.Now().UnixNano() }
	fail := func(be *Backend, n int) {
		for range n {
			p.observe(be, false, now())
		}
	}
	fail(a, 2)
	p.observe(a, true, now()) // a success breaks the run
	fail(a, 2)
	if a.ejectedUntil.Load() != 0 {
		t.Fatal("ejected after 2 failures in a row, want 3")
	}
	fail(a, 1)
	if got, want := a.ejectedUntil.Load(), now()+int64(10*time.Second); got != want {
		t.Fatalf("ejected until %d, want %d (now + duration)", got, want)
	}
	for i := 0; i < 30; i++ {
		if p.pick(Input{Now: now()}) == a {
			t.Fatal("picked the ejected backend")
		}
	}
	if st := p.State(); st.Backends[0].EjectedUntil == nil || st.Backends[0].Ejections != 1 {
		t.Errorf("state: got %+v, want ejected once", st.Backends[0])
	}
	fail(b, 3)
	if b.ejectedUntil.Load() != 0 {
		t.Error("a second of three backends ejected, over the 50% cap")
	}
	clock.Advance(10 * time.Second)
	if !s.usable(a, &Input{Now: now()}) {
		t.Fatal("not back after the ejection time")
	}
	fail(a, 3) // a repeat offender: twice as long, capped at 15s
	if got, want := a.ejectedUntil.Load()-now(), int64(15*time.Second); got != want {
		t.Errorf("second ejection lasts %v, want %v", time.Duration(got), time.Duration(want))
	}
}

func TestEjectionOffNeverEjects(t *testing.T) {
	p := mustPool(t, PoolOptions{Eject: EjectOptions{Off: true}}, "http://127.0.0.1:1", "http://127.0.0.2:1")
	b := p.set.Load().all[0]
	for range 100 {
		p.observe(b, false, 1)
	}
	if b.ejectedUntil.Load() != 0 {
		t.Fatal("ejected with eject off")
	}
}

func TestSlowStartRampsShareAfterEjection(t *testing.T) {
	clock := newFakeClock()
	p := mustPool(t, PoolOptions{Balance: PolicyRoundRobin, Now: clock.Now, SlowStart: 20 * time.Second,
		Eject: EjectOptions{Failures: 1, Duration: 10 * time.Second}},
		"http://127.0.0.1:1", "http://127.0.0.2:1")
	s := p.set.Load()
	slow := s.all[0]
	p.observe(slow, false, clock.Now().UnixNano())
	clock.Advance(10 * time.Second) // back in, ramp starts
	tests := []struct {
		after      time.Duration
		wantWeight float64
		wantShare  [2]float64 // of picks, bounds
	}{
		{0, 0.05, [2]float64{0.01, 0.06}},
		{5 * time.Second, 0.25, [2]float64{0.08, 0.18}},
		{10 * time.Second, 0.5, [2]float64{0.18, 0.32}},
		{20 * time.Second, 1, [2]float64{0.45, 0.55}},
	}
	start := clock.Now()
	for _, tt := range tests {
		clock.t = start.Add(tt.after)
		if got := p.State().Backends[0].EffectiveWeight; got < tt.wantWeight-0.001 || got > tt.wantWeight+0.001 {
			t.Errorf("after %v: effective weight %.3f, want %.3f", tt.after, got, tt.wantWeight)
		}
		picks := 0
		for i := 0; i < 4000; i++ {
			if p.pick(Input{Now: clock.Now().UnixNano()}) == slow {
				picks++
			}
		}
		share := float64(picks) / 4000
		if share < tt.wantShare[0] || share > tt.wantShare[1] {
			t.Errorf("after %v: share %.3f, want %.2f..%.2f", tt.after, share, tt.wantShare[0], tt.wantShare[1])
		}
	}
}

func TestHealthChecksRiseAndFall(t *testing.T) {
	var status atomic.Int32
	status.Store(200)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			t.Errorf("check went to %s, want /healthz", r.URL.Path)
		}
		w.WriteHeader(int(status.Load()))
	}))
	defer backend.Close()
	clock := newFakeClock()
	p := mustPool(t, PoolOptions{Now: clock.Now, SlowStart: time.Minute}, backend.URL)
	hc := p.newHealthChecker(HealthOptions{Path: "/healthz", Timeout: time.Second, StatusMin: 200, StatusMax: 299, Rise: 2, Fall: 3})
	b := p.set.Load().all[0]
	steps := []struct {
		status   int32
		wantDown bool
	}{
		{200, false},
		{302, false}, // outside 200-299: a failure
		{503, false},
		{503, true}, // third in a row: fall
		{200, true}, // one pass is not enough
		{503, true},
		{200, true},
		{200, false}, // second in a row: rise
	}
	for i, st := range steps {
		status.Store(st.status)
		p.checkAll(context.Background(), hc)
		if got := b.down.Load(); got != st.wantDown {
			t.Fatalf("check %d (status %d): down %v, want %v", i, st.status, got, st.wantDown)
		}
	}
	if got := b.rampFrom.Load(); got != clock.Now().UnixNano() {
		t.Errorf("recovered backend's slow start begins at %d, want now %d", got, clock.Now().UnixNano())
	}
}

func TestHealthCheckOfDeadBackendFails(t *testing.T) {
	backend := named("x")
	url := backend.URL
	backend.Close()
	p := mustPool(t, PoolOptions{}, url)
	hc := p.newHealthChecker(HealthOptions{Path: "/", Timeout: time.Second, Fall: 1})
	p.checkAll(context.Background(), hc)
	if !p.set.Load().all[0].down.Load() {
		t.Fatal("dead backend still up after a failed check with fall 1")
	}
}

// TestRetryBudgetCapsRetries: both backends answer 503 and retry_on
// names it; with a 20% budget retries stay near the bucket plus a fifth
// of the requests instead of doubling the load.
func TestRetryBudgetCapsRetries(t *testing.T) {
	var hits atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(503)
	})
	b1, b2 := httptest.NewServer(h), httptest.NewServer(h)
	defer b1.Close()
	defer b2.Close()
	for _, tt := range []struct {
		budget     int
		lo, hi     int64
		requests   int
		retryShare string
	}{
		{budget: 20, requests: 200, lo: 45, hi: 51},
		{budget: 100, requests: 200, lo: 200, hi: 200},
	} {
		hits.Store(0)
		p := mustPool(t, PoolOptions{Retries: 1, RetryOn: []string{"503"}, RetryBudget: tt.budget,
			Eject: EjectOptions{Off: true}}, b1.URL, b2.URL)
		front := newTestProxy(t, &Proxy{Pool: p})
		for i := 0; i < tt.requests; i++ {
			if code, _, _ := get(t, front.URL); code != 503 {
				t.Fatalf("status %d, want the backends' 503", code)
			}
		}
		retries := hits.Load() - int64(tt.requests)
		if retries < tt.lo || retries > tt.hi {
			t.Errorf("budget %d%%: %d retries for %d requests, want %d..%d", tt.budget, retries, tt.requests, tt.lo, tt.hi)
		}
	}
}

func TestRetryOnStatusReplaysBody(t *testing.T) {
	var failing atomic.Int64
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		failing.Add(1)
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(503)
	}))
	defer bad.Close()
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Method+" "+string(b))
	}))
	defer good.Close()
	p := mustPool(t, PoolOptions{Balance: PolicyRoundRobin, Retries: 1, RetryOn: []string{"503"}}, bad.URL, good.URL)
	front := newTestProxy(t, &Proxy{Pool: p})
	for i := 0; i < 4; i++ {
		req, _ := http.NewRequest("PUT", front.URL, strings.NewReader("payload"))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(b) != "PUT payload" {
			t.Fatalf("PUT %d: got %d %q, want 200 \"PUT payload\" from the retry", i, res.StatusCode, b)
		}
	}
	if failing.Load() == 0 {
		t.Fatal("the failing backend was never tried; the test proves nothing")
	}
	// POST is not idempotent: a 503 is passed on, never retried.
	failing.Store(0)
	for i := 0; i < 4; i++ {
		res, err := http.Post(front.URL, "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == 503 && failing.Load() == 0 {
			t.Fatal("503 without the failing backend being asked")
		}
	}
	if failing.Load() == 0 {
		t.Fatal("POSTs never reached the failing backend")
	}
}

func TestTryTimeoutMovesOnToAnotherBackend(t *testing.T) {
	release := make(chan struct{})
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer stuck.Close()
	defer close(release)
	good := named("good")
	defer good.Close()
	p := mustPool(t, PoolOptions{Balance: PolicyRoundRobin, Retries: 1, TryTimeout: 100 * time.Millisecond,
		Eject: EjectOptions{Off: true}}, stuck.URL, good.URL)
	front := newTestProxy(t, &Proxy{Pool: p})
	for i := 0; i < 4; i++ {
		if code, body, _ := get(t, front.URL); code != 200 || body != "good" {
			t.Fatalf("request %d: got %d %q, want 200 good", i, code, body)
		}
	}
}

// TestBreakerRefusesOverPoolLimit holds max_pending requests in flight;
// the next one gets a fast 503 with Retry-After instead of a queue.
func TestBreakerRefusesOverPoolLimit(t *testing.T) {
	for _, tt := range []struct {
		name string
		o    PoolOptions
	}{
		{"max_pending per pool", PoolOptions{MaxPending: 2}},
		{"max_conns per backend", PoolOptions{MaxConns: 2}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			entered := make(chan struct{}, 8)
			release := make(chan struct{})
			backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/hold" {
					entered <- struct{}{}
					<-release
				}
				io.WriteString(w, "ok")
			}))
			defer backend.Close()
			p := mustPool(t, tt.o, backend.URL)
			front := newTestProxy(t, &Proxy{Pool: p})
			var wg sync.WaitGroup
			for i := 0; i < 2; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if code, _, _ := get(t, front.URL+"/hold"); code != 200 {
						t.Errorf("held request: status %d, want 200", code)
					}
				}()
			}
			<-entered
			<-entered
			code, _, hdr := get(t, front.URL+"/now")
			if code != 503 || hdr.Get("Retry-After") == "" {
				t.Errorf("over the limit: got %d (Retry-After %q), want 503 with Retry-After", code, hdr.Get("Retry-After"))
			}
			close(release)
			wg.Wait()
			if code, _, _ := get(t, front.URL+"/now"); code != 200 {
				t.Errorf("after the held requests ended: got %d, want 200", code)
			}
		})
	}
}

func TestDrainingBackendFinishesInFlightAndGetsNoNewRequests(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			entered <- struct{}{}
			<-release
		}
		io.WriteString(w, "a")
	}))
	defer a.Close()
	b := named("b")
	defer b.Close()
	p := mustPool(t, PoolOptions{Balance: PolicyRoundRobin}, a.URL, b.URL)
	front := newTestProxy(t, &Proxy{Pool: p})
	held := make(chan string)
	go func() {
		// Round robin alternates: one of two requests lands on a.
		for {
			code, body, _ := get(t, front.URL+"/hold")
			if body == "a" || code != 200 {
				held <- body
				return
			}
		}
	}()
	<-entered
	if err := p.SetDraining(a.URL, true); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if _, body, _ := get(t, front.URL); body != "b" {
			t.Fatalf("request %d while a drains: got %q, want b", i, body)
		}
	}
	close(release)
	if got := <-held; got != "a" {
		t.Fatalf("in-flight request on the draining backend: got %q, want a", got)
	}
	if st := p.State(); !st.Backends[0].Draining || st.Backends[1].Draining {
		t.Errorf("state: got draining %v,%v, want true,false", st.Backends[0].Draining, st.Backends[1].Draining)
	}
	if err := p.SetDraining("http://127.0.0.1:1", true); err == nil {
		t.Error("draining an unknown backend: got no error")
	}
	if err := p.SetDraining(a.URL, false); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := 0; i < 4; i++ {
		_, body, _ := get(t, front.URL)
		seen[body] = true
	}
	if !seen["a"] {
		t.Errorf("undrained backend gets no traffic: saw %v", seen)
	}
}

func TestNoUsableBackendIsFast503(t *testing.T) {
	b := named("b")
	defer b.Close()
	p := mustPool(t, PoolOptions{}, b.URL)
	front := newTestProxy(t, &Proxy{Pool: p})
	if err := p.SetDraining(b.URL, true); err != nil {
		t.Fatal(err)
	}
	code, _, hdr := get(t, front.URL)
	if code != 503 || hdr.Get("Retry-After") == "" {
		t.Fatalf("got %d (Retry-After %q), want 503 with Retry-After", code, hdr.Get("Retry-After"))
	}
}

func TestStickyCookieKeepsClientOnBackend(t *testing.T) {
	a, b, c := named("a"), named("b"), named("c")
	defer a.Close()
	defer b.Close()
	defer c.Close()
	p := mustPool(t, PoolOptions{Balance: PolicySticky, StickyCookie: "srv"}, a.URL, b.URL, c.URL)
	front := newTestProxy(t, &Proxy{Pool: p})
	_, first, hdr := get(t, front.URL)
	cookie := hdr.Get("Set-Cookie")
	if !strings.HasPrefix(cookie, "srv=") {
		t.Fatalf("first response: Set-Cookie %q, want srv=...", cookie)
	}
	value := strings.SplitN(cookie, ";", 2)[0]
	for i := 0; i < 10; i++ {
		_, body, hdr := get(t, front.URL, "Cookie", "other=1; "+value)
		if body != first {
			t.Fatalf("request %d with the cookie: backend %q, want %q", i, body, first)
		}
		if hdr.Get("Set-Cookie") != "" {
			t.Fatalf("request %d: cookie set again: %q", i, hdr.Get("Set-Cookie"))
		}
	}
}

func TestHashKeyHeaderRoutesConsistently(t *testing.T) {
	a, b, c := named("a"), named("b"), named("c")
	defer a.Close()
	defer b.Close()
	defer c.Close()
	p := mustPool(t, PoolOptions{Balance: PolicyHash, HashKey: "header:X-User"}, a.URL, b.URL, c.URL)
	front := newTestProxy(t, &Proxy{Pool: p})
	users := map[string]bool{}
	for u := 0; u < 20; u++ {
		user := "user" + string(rune('a'+u))
		_, first, _ := get(t, front.URL, "X-User", user)
		users[first] = true
		for i := 0; i < 3; i++ {
			if _, body, _ := get(t, front.URL, "X-User", user); body != first {
				t.Fatalf("%s: got %q then %q", user, first, body)
			}
		}
	}
	if len(users) < 2 {
		t.Errorf("20 users all on %v, want a spread", users)
	}
}
