package cache_test

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/cache"
	"github.com/portico-proxy/portico/internal/config"
)

func TestRFC9111_4_1_VarySelectsTheStoredVariant(t *testing.T) {
	h := newHarness(t, nil)
	h.origin.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=100")
		w.Header().Set("Vary", "Accept-Language")
		w.Write([]byte("lang=" + r.Header.Get("Accept-Language")))
	})
	if got := h.get("/v", "Accept-Language", "en"); got.body != "lang=en" {
		t.Fatalf("got %q", got.body)
	}
	got := h.get("/v", "Accept-Language", "fr")
	if got.body != "lang=fr" || got.header.Get("Cache-Status") != "Portico; fwd=vary-miss; stored" {
		t.Fatalf("got %q with %q; want lang=fr as a vary-miss", got.body, got.header.Get("Cache-Status"))
	}
	for _, lang := range []string{"en", "fr"} {
		if got := h.get("/v", "Accept-Language", lang); got.body != "lang="+lang || !isHit(got) {
			t.Fatalf("variant %s: got %q hit=%v", lang, got.body, isHit(got))
		}
	}
	h.expectHits(2, "one request per variant")
}

func TestRFC9111_4_1_VaryStarIsNeverMatched(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "x", "Cache-Control", "max-age=100", "Vary", "*")
	h.get("/s")
	h.get("/s")
	h.expectHits(2, "Vary: *")
}

func TestVaryAcceptEncodingIsNormalised(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "x", "Cache-Control", "max-age=100", "Vary", "Accept-Encoding")
	h.get("/ae", "Accept-Encoding", "gzip, deflate, br")
	for _, ae := range []string{"br, gzip, deflate", "gzip;q=1.0, br, deflate", "deflate,br,gzip, identity"} {
		if got := h.get("/ae", "Accept-Encoding", ae); !isHit(got) {
			t.Errorf("%q did not share the variant of \"gzip, deflate, br\"", ae)
		}
	}
	if got := h.get("/ae", "Accept-Encoding", "gzip;q=0, br, deflate"); isHit(got) {
		t.Error("a client refusing gzip got the variant of one accepting it")
	}
}

func TestRFC5861_StaleWhileRevalidateServesStaleAndRefreshesOnce(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "v1", "Cache-Control", "max-age=10, stale-while-revalidate=60")
	h.get("/swr")
	h.clock.Advance(20 * time.Second)
	refreshed := make(chan struct{})
	h.origin.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", h.clock.date(0))
		w.Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=60")
		w.Write([]byte("v2"))
		close(refreshed)
	})
	got := h.get("/swr")
	if got.body != "v1" || !strings.Contains(got.header.Get("Cache-Status"), "stale-while-revalidate") {
		t.Fatalf("got %q %q; want the stale v1", got.body, got.header.Get("Cache-Status"))
	}
	select {
	case <-refreshed:
	case <-time.After(5 * time.Second):
		t.Fatal("no background refresh within 5s")
	}
	// Close waits for background work, so the refresh has been stored.
	deadline := time.Now().Add(5 * time.Second)
	for {
		got = h.get("/swr")
		if got.body == "v2" || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got.body != "v2" {
		t.Fatalf("got %q after the refresh, want v2", got.body)
	}
	h.expectHits(2, "one background refresh")
}

func TestRFC5861_StaleIfErrorServesStaleWhenTheOriginFails(t *testing.T) {
	tests := []struct {
		name    string
		cc      string
		reqCC   string
		advance time.Duration
		stale   bool
	}{
		{"response directive within window", "max-age=10, stale-if-error=60", "", 30 * time.Second, true},
		{"response directive past window", "max-age=10, stale-if-error=60", "", 100 * time.Second, false},
		{"request directive", "max-age=10", "stale-if-error=60", 30 * time.Second, true},
		{"no directive", "max-age=10", "", 30 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.serve(200, "good", "Cache-Control", tt.cc)
			h.get("/e")
			h.clock.Advance(tt.advance)
			h.serve(503, "down")
			var kv []string
			if tt.reqCC != "" {
				kv = []string{"Cache-Control", tt.reqCC}
			}
			got := h.get("/e", kv...)
			if tt.stale && (got.status != 200 || got.body != "good") {
				t.Fatalf("got %d %q, want the stale 200", got.status, got.body)
			}
			if !tt.stale && got.status != 503 {
				t.Fatalf("got %d, want the origin's 503", got.status)
			}
		})
	}
}

func TestStaleIfErrorCoversADeadUpstream(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "good", "Cache-Control", "max-age=1, stale-if-error=600")
	h.get("/dead")
	h.clock.Advance(10 * time.Second)
	h.origin.srv.Close() // connection refused: the proxy answers 502
	got := h.get("/dead")
	if got.status != 200 || got.body != "good" {
		t.Fatalf("got %d %q, want the stale 200", got.status, got.body)
	}
	if !strings.Contains(got.header.Get("Cache-Status"), "stale-if-error") {
		t.Errorf("Cache-Status %q", got.header.Get("Cache-Status"))
	}
}

func TestRFC9111_4_2_4_StaleServedWhenTheOriginIsUnreachable(t *testing.T) {
	tests := []struct {
		cc    string
		stale bool
	}{
		{"max-age=1", true},
		{"max-age=1, must-revalidate", false},
		{"max-age=1, proxy-revalidate", false},
		{"s-maxage=1", false},
		{"no-cache, max-age=1", false},
	}
	for _, tt := range tests {
		t.Run(tt.cc, func(t *testing.T) {
			h := newHarness(t, nil)
			h.serve(200, "good", "Cache-Control", tt.cc)
			h.get("/u")
			h.clock.Advance(10 * time.Second)
			h.origin.srv.Close()
			got := h.get("/u")
			if tt.stale && (got.status != 200 || got.body != "good") {
				t.Fatalf("got %d %q, want the stale entry", got.status, got.body)
			}
			if !tt.stale && got.status != http.StatusBadGateway {
				t.Fatalf("got %d, want 502: %s forbids serving stale", got.status, tt.cc)
			}
		})
	}
}

func TestRFC9111_4_4_UnsafeMethodsInvalidate(t *testing.T) {
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		t.Run(m, func(t *testing.T) {
			h := newHarness(t, nil)
			h.serve(200, "x", "Cache-Control", "max-age=100")
			h.get("/doc")
			h.get("/other")
			h.serve(200, "", "Location", "/other")
			h.do(m, "/doc")
			h.serve(200, "x", "Cache-Control", "max-age=100")
			if got := h.get("/doc"); isHit(got) {
				t.Error("target URI still cached after a successful " + m)
			}
			if got := h.get("/other"); isHit(got) {
				t.Error("Location URI still cached after a successful " + m)
			}
		})
	}
}

func TestRFC9111_4_4_FailedUnsafeMethodDoesNotInvalidate(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "x", "Cache-Control", "max-age=100")
	h.get("/doc")
	h.serve(500, "no")
	h.do(http.MethodPost, "/doc")
	if got := h.get("/doc"); !isHit(got) {
		t.Error("a failed POST invalidated the entry")
	}
}

func TestRFC9111_4_4_OtherOriginLocationIsNotInvalidated(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "x", "Cache-Control", "max-age=100")
	h.get("/keep")
	h.serve(201, "", "Location", "http://elsewhere.example/keep")
	h.do(http.MethodPost, "/new")
	if got := h.get("/keep"); !isHit(got) {
		t.Error("a Location on another host invalidated this host's entry")
	}
}

func TestHEADIsAnsweredFromAStoredGET(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "hello", "Cache-Control", "max-age=100", "Content-Type", "text/plain")
	h.get("/h")
	got := h.do(http.MethodHead, "/h")
	if got.status != 200 || got.body != "" || got.header.Get("Content-Length") != "5" || !isHit(got) {
		t.Fatalf("got %d %q CL=%q hit=%v", got.status, got.body, got.header.Get("Content-Length"), isHit(got))
	}
	h.expectHits(1, "HEAD from cache")
}

func TestRangeRequestsAreAnsweredFromAStoredFullResponse(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "0123456789", "Cache-Control", "max-age=100", "Etag", `"r"`)
	h.get("/r")
	tests := []struct {
		rng, ifRange string
		status       int
		body, cr     string
	}{
		{"bytes=2-4", "", 206, "234", "bytes 2-4/10"},
		{"bytes=7-", "", 206, "789", "bytes 7-9/10"},
		{"bytes=-3", "", 206, "789", "bytes 7-9/10"},
		{"bytes=5-100", "", 206, "56789", "bytes 5-9/10"},
		{"bytes=20-30", "", 416, "", "bytes */10"},
		{"bytes=1-2,4-5", "", 200, "0123456789", ""},
		{"bytes=2-4", `"r"`, 206, "234", "bytes 2-4/10"},
		{"bytes=2-4", `"other"`, 200, "0123456789", ""},
	}
	for _, tt := range tests {
		kv := []string{"Range", tt.rng}
		if tt.ifRange != "" {
			kv = append(kv, "If-Range", tt.ifRange)
		}
		got := h.get("/r", kv...)
		if got.status != tt.status || got.body != tt.body || got.header.Get("Content-Range") != tt.cr {
			t.Errorf("%s If-Range %s: got %d %q %q, want %d %q %q", tt.rng, tt.ifRange,
				got.status, got.body, got.header.Get("Content-Range"), tt.status, tt.body, tt.cr)
		}
	}
	h.expectHits(1, "ranges from cache")
}

func TestCoalescing100ConcurrentMissesMakeOneUpstreamRequest(t *testing.T) {
	h := newHarness(t, nil)
	release := make(chan struct{})
	h.origin.set(func(w http.ResponseWriter, r *http.Request) {
		<-release // hold the first request until every client is waiting
		w.Header().Set("Cache-Control", "max-age=100")
		w.Write([]byte("shared"))
	})
	const n = 100
	var wg sync.WaitGroup
	bodies := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bodies[i] = h.get("/hot").body
		}()
	}
	// Bounded wait until the leader reached the origin, then let it answer.
	deadline := time.Now().Add(5 * time.Second)
	for h.hits() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // let the other 99 queue behind it
	close(release)
	wg.Wait()
	for i, b := range bodies {
		if b != "shared" {
			t.Fatalf("client %d got %q", i, b)
		}
	}
	h.expectHits(1, "100 concurrent misses")
}

func TestMaxObjectPassesLargeResponsesThroughUncached(t *testing.T) {
	h := newHarness(t, &config.RouteCache{MaxObject: 1024})
	big := strings.Repeat("x", 4096)
	h.serve(200, big, "Cache-Control", "max-age=100")
	if got := h.get("/big"); got.body != big {
		t.Fatalf("body of %d bytes, want %d", len(got.body), len(big))
	}
	// Without Content-Length too: streamed, stops being kept at the limit.
	h.origin.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=100")
		for range 4 {
			w.Write([]byte(strings.Repeat("y", 1024)))
			w.(http.Flusher).Flush()
		}
	})
	if got := h.get("/stream"); len(got.body) != 4096 {
		t.Fatalf("streamed body of %d bytes", len(got.body))
	}
	h.get("/big")
	h.get("/stream")
	h.expectHits(4, "objects over max_object are never stored")
}

func TestBypassRulesSkipTheCache(t *testing.T) {
	h := newHarness(t, &config.RouteCache{Bypass: config.CacheBypass{
		Paths: []string{"/account/"}, Headers: []string{"X-Debug"}, Cookies: []string{"session"}}})
	h.serve(200, "x", "Cache-Control", "max-age=100")
	cases := []struct {
		path string
		kv   []string
	}{
		{"/account/me", nil},
		{"/page", []string{"X-Debug", "1"}},
		{"/page", []string{"Cookie", "session=abc"}},
	}
	for _, c := range cases {
		before := h.hits()
		h.get(c.path, c.kv...)
		got := h.get(c.path, c.kv...)
		if h.hits() != before+2 || got.header.Get("Cache-Status") != "Portico; fwd=bypass" {
			t.Errorf("%s %v: hits +%d, Cache-Status %q; want a bypass", c.path, c.kv, h.hits()-before, got.header.Get("Cache-Status"))
		}
	}
}

func TestKeyOptions(t *testing.T) {
	tests := []struct {
		name   string
		key    config.CacheKey
		a, b   string
		kvA    []string
		kvB    []string
		shared bool
	}{
		{"query kept by default", config.CacheKey{}, "/q?a=1&b=2", "/q?b=2&a=1", nil, nil, false},
		{"query sorted", config.CacheKey{Query: "sort"}, "/q?a=1&b=2", "/q?b=2&a=1", nil, nil, true},
		{"query ignored", config.CacheKey{Query: "ignore"}, "/q?a=1", "/q?a=2", nil, nil, true},
		{"ignored parameter", config.CacheKey{IgnoreParams: []string{"utm_source"}}, "/q?a=1&utm_source=x", "/q?a=1", nil, nil, true},
		{"header in key", config.CacheKey{Headers: []string{"X-Tenant"}}, "/k", "/k", []string{"X-Tenant", "a"}, []string{"X-Tenant", "b"}, false},
		{"cookie in key", config.CacheKey{Cookies: []string{"lang"}}, "/k", "/k", []string{"Cookie", "lang=en"}, []string{"Cookie", "lang=fr"}, false},
		{"other cookie not in key", config.CacheKey{Cookies: []string{"lang"}}, "/k", "/k", []string{"Cookie", "lang=en; x=1"}, []string{"Cookie", "lang=en; x=2"}, true},
		{"host is case-insensitive", config.CacheKey{}, "/k", "/k", nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, &config.RouteCache{Key: tt.key})
			h.serve(200, "x", "Cache-Control", "max-age=100")
			h.get(tt.a, tt.kvA...)
			got := h.get(tt.b, tt.kvB...)
			if isHit(got) != tt.shared {
				t.Fatalf("second request hit=%v, want %v", isHit(got), tt.shared)
			}
		})
	}
}

func TestPurgeByURLPrefixAndTag(t *testing.T) {
	h := newHarness(t, nil)
	h.origin.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=100")
		if strings.HasPrefix(r.URL.Path, "/p/") {
			w.Header().Set("Surrogate-Key", "product all")
		} else {
			w.Header().Set("Cache-Tag", "pages, all")
		}
		w.Write([]byte(r.URL.Path))
	})
	host := strings.TrimPrefix(h.front.URL, "http://")
	warm := func() {
		for _, p := range []string{"/p/1", "/p/2", "/about", "/contact"} {
			h.get(p)
		}
	}
	cached := func(p string) bool { return isHit(h.get(p)) }
	ctx := context.Background()

	warm()
	if n, err := h.cache.Purge(ctx, cache.Purge{URL: "http://" + host + "/about"}); err != nil || n != 1 {
		t.Fatalf("purge by URL: got %d, %v; want 1, nil", n, err)
	}
	if cached("/about") || !cached("/contact") {
		t.Fatal("purge by URL removed the wrong entries")
	}

	warm()
	if n, err := h.cache.Purge(ctx, cache.Purge{Prefix: host + "/p/"}); err != nil || n != 2 {
		t.Fatalf("purge by prefix: got %d, %v; want 2, nil", n, err)
	}
	if cached("/p/1") || cached("/p/2") || !cached("/about") {
		t.Fatal("purge by prefix removed the wrong entries")
	}

	warm()
	if n, err := h.cache.Purge(ctx, cache.Purge{Tag: "pages"}); err != nil || n != 2 {
		t.Fatalf("purge by tag: got %d, %v; want 2, nil", n, err)
	}
	if cached("/about") || !cached("/p/1") {
		t.Fatal("purge by tag removed the wrong entries")
	}
	if _, err := h.cache.Purge(ctx, cache.Purge{URL: "a", Tag: "b"}); err == nil {
		t.Error("a purge with two selectors was accepted")
	}
}

func TestPURGEMethodOnlyFromAllowedNetworks(t *testing.T) {
	allow := func(p string) []config.Prefix { return []config.Prefix{{Net: netip.MustParsePrefix(p)}} }
	h := newHarness(t, &config.RouteCache{Purge: &config.CachePurge{Allow: allow("10.0.0.0/8")}})
	h.serve(200, "x", "Cache-Control", "max-age=100")
	h.get("/x")
	if got := h.do("PURGE", "/x"); got.status != http.StatusForbidden {
		t.Fatalf("PURGE from 127.0.0.1 with allow 10.0.0.0/8: got %d, want 403", got.status)
	}
	if !isHit(h.get("/x")) {
		t.Fatal("a refused PURGE removed the entry")
	}

	h2 := newHarness(t, &config.RouteCache{Purge: &config.CachePurge{Allow: allow("127.0.0.0/8")}})
	h2.serve(200, "x", "Cache-Control", "max-age=100")
	h2.get("/x")
	got := h2.do("PURGE", "/x")
	if got.status != 200 || got.body != "{\"removed\":1}\n" {
		t.Fatalf("allowed PURGE: got %d %q", got.status, got.body)
	}
	if isHit(h2.get("/x")) {
		t.Fatal("entry still cached after PURGE")
	}
	h2.expectHits(2, "PURGE is answered by the cache, not forwarded")
}

func TestCacheStatusOnEveryResponseOfACachingRoute(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "x", "Cache-Control", "max-age=100")
	steps := []struct {
		method, want string
	}{
		{http.MethodGet, "Portico; fwd=uri-miss; stored"},
		{http.MethodGet, "Portico; hit"},
		{http.MethodPost, "Portico; fwd=method"},
		{http.MethodGet, "Portico; fwd=uri-miss; stored"},
	}
	for i, s := range steps {
		if got := h.do(s.method, "/cs").header.Get("Cache-Status"); got != s.want {
			t.Errorf("step %d %s: Cache-Status %q, want %q", i, s.method, got, s.want)
		}
	}
}

func TestAbortedUpstreamBodyIsNotStored(t *testing.T) {
	h := newHarness(t, nil)
	h.origin.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=100")
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("only part"))
		panic(http.ErrAbortHandler) // the origin drops the connection
	})
	req, _ := http.NewRequest(http.MethodGet, h.front.URL+"/torn", nil)
	if resp, err := h.front.Client().Do(req); err == nil {
		resp.Body.Close()
	}
	h.serve(200, "whole", "Cache-Control", "max-age=100")
	if got := h.get("/torn"); got.body != "whole" {
		t.Fatalf("got %q, want a fresh fetch after a torn response", got.body)
	}
}

func TestStatsCountWhatHappened(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "x", "Cache-Control", "max-age=10", "Etag", `"a"`)
	h.get("/s") // miss, stored
	h.get("/s") // hit
	h.get("/s", "Cache-Control", "max-stale")
	h.clock.Advance(20 * time.Second)
	h.serve(http.StatusNotModified, "", "Etag", `"a"`)
	h.get("/s")                     // revalidated
	h.do(http.MethodPost, "/other") // bypassed
	got := h.cache.Stats()
	want := cache.Stats{Hits: 2, Misses: 1, Revalidated: 1, Bypassed: 1, Stored: 1}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestRFC9111_4_3_5_HEADWithTheStoredValidatorsFreshensTheEntry(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "body", "Cache-Control", "max-age=1", "Etag", `"h"`, "X-V", "1")
	h.get("/head")
	h.clock.Advance(5 * time.Second)
	h.serve(200, "", "Cache-Control", "max-age=100", "Etag", `"h"`, "X-V", "2")
	h.do(http.MethodHead, "/head")
	got := h.get("/head")
	if !isHit(got) || got.body != "body" || got.header.Get("X-V") != "2" {
		t.Fatalf("got %q hit=%v X-V=%q; want the stored body, freshened by the HEAD", got.body, isHit(got), got.header.Get("X-V"))
	}
}

func TestConcurrentRevalidationsOfOneStaleEntryMakeOneUpstreamRequest(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "v1", "Cache-Control", "max-age=1", "Etag", `"1"`)
	h.get("/st")
	h.clock.Advance(5 * time.Second)
	release := make(chan struct{})
	h.origin.set(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Header().Set("Date", h.clock.date(0))
		w.Header().Set("Cache-Control", "max-age=100")
		w.Header().Set("Etag", `"1"`)
		w.WriteHeader(http.StatusNotModified)
	})
	const n = 20
	var wg sync.WaitGroup
	bodies := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bodies[i] = h.get("/st").body
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.hits() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	for i, b := range bodies {
		if b != "v1" {
			t.Fatalf("client %d got %q", i, b)
		}
	}
	h.expectHits(2, "one fetch and one revalidation")
}
