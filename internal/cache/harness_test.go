package cache_test

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

	"github.com/portico-proxy/portico/internal/cache"
	"github.com/portico-proxy/portico/internal/cache/memstore"
	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/upstream"
)

// clock is the injected time: tests move it, nothing sleeps.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) Now() time.Time              { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration)     { c.ns.Add(int64(d)) }
func (c *clock) date(d time.Duration) string { return c.Now().Add(d).UTC().Format(http.TimeFormat) }

// origin is a real HTTP backend whose answer each test scripts. It counts
// requests and keeps the last one's headers, so tests can assert what the
// cache sent upstream.
type origin struct {
	srv     *httptest.Server
	hits    atomic.Int64
	mu      sync.Mutex
	handler http.HandlerFunc
	last    http.Header
}

func (o *origin) set(h http.HandlerFunc) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.handler = h
}

func (o *origin) lastHeader() http.Header {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last
}

// harness is origin ─▶ upstream.Proxy ─▶ cache route ─▶ front server.
type harness struct {
	t      *testing.T
	clock  *clock
	origin *origin
	cache  *cache.Cache
	front  *httptest.Server
	client *http.Client // does not follow redirects
}

type harnessOpts struct {
	route  *config.RouteCache
	stores cache.Options // Memory defaults to a 64 MiB memstore
}

func newHarness(t *testing.T, route *config.RouteCache) *harness {
	return newHarnessWith(t, harnessOpts{route: route})
}

func newHarnessWith(t *testing.T, o harnessOpts) *harness {
	t.Helper()
	h := &harness{t: t, clock: newClock(), origin: &origin{}}
	h.origin.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.origin.hits.Add(1)
		h.origin.mu.Lock()
		h.origin.last = r.Header.Clone()
		fn := h.origin.handler
		h.origin.mu.Unlock()
		if fn == nil {
			http.Error(w, "no script", 500)
			return
		}
		fn(w, r)
	}))
	t.Cleanup(h.origin.srv.Close)
	pool, err := upstream.NewPool("origin", upstream.PoolOptions{Backends: []upstream.BackendOptions{{URL: h.origin.srv.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	opts := o.stores
	if opts.Memory == nil {
		opts.Memory = memstore.New(64 << 20)
	}
	opts.Now = h.clock.Now
	h.cache, err = cache.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.cache.Close() })
	route := o.route
	if route == nil {
		route = &config.RouteCache{}
	}
	rt, err := h.cache.NewRoute(route, &upstream.Proxy{Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	h.front = httptest.NewServer(rt)
	t.Cleanup(h.front.Close)
	h.client = &http.Client{
		Transport:     &http.Transport{MaxIdleConnsPerHost: 200},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(h.client.CloseIdleConnections)
	return h
}

// serve scripts the origin to answer with status, headers and body; the
// Date header comes from the injected clock unless the test sets one.
func (h *harness) serve(status int, body string, kv ...string) {
	h.origin.set(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("Date", h.clock.date(0))
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(hdr, kv[i])
				continue
			}
			hdr.Add(kv[i], kv[i+1])
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	})
}

type result struct {
	status int
	header http.Header
	body   string
}

func (h *harness) do(method, path string, kv ...string) result {
	h.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, h.front.URL+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == "Host" {
			req.Host = kv[i+1]
			continue
		}
		req.Header.Add(kv[i], kv[i+1])
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return result{resp.StatusCode, resp.Header, string(b)}
}

func (h *harness) get(path string, kv ...string) result {
	h.t.Helper()
	return h.do(http.MethodGet, path, kv...)
}

// hits is the number of requests the origin has seen.
func (h *harness) hits() int64 { return h.origin.hits.Load() }

// expectHits fails unless the origin has seen exactly n requests.
func (h *harness) expectHits(n int64, why string) {
	h.t.Helper()
	if got := h.hits(); got != n {
		h.t.Fatalf("%s: origin saw %d requests, want %d", why, got, n)
	}
}

func isHit(r result) bool { return strings.Contains(r.header.Get("Cache-Status"), "; hit") }
