package cache_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/config"
)

func TestRFC9111_3_StorableStatusCodes(t *testing.T) {
	lm := func(h *harness) string { return h.clock.date(-48 * time.Hour) }
	tests := []struct {
		name   string
		status int
		cc     string
		stored bool
	}{
		{"200 with max-age", 200, "max-age=60", true},
		{"404 is cacheable by default", 404, "max-age=60", true},
		{"410 is cacheable by default", 410, "max-age=60", true},
		{"302 with explicit freshness", 302, "max-age=60", true},
		{"302 with only Last-Modified is not", 302, "", false},
		{"500 without freshness is not", 500, "", false},
		{"206 is never stored whole", 206, "max-age=60", false},
		{"unknown 299 with public uses the heuristic", 299, "public", true},
		{"unknown 299 without public is not", 299, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.serve(tt.status, "body", "Cache-Control", tt.cc, "Last-Modified", lm(h), "Location", "/x")
			h.get("/s")
			h.clock.Advance(time.Second)
			got := h.get("/s")
			if isHit(got) != tt.stored {
				t.Fatalf("got Cache-Status %q, want stored=%v", got.header.Get("Cache-Status"), tt.stored)
			}
		})
	}
}

func TestRFC9111_3_NoStoreAndPrivateAreNotStored(t *testing.T) {
	tests := []struct {
		name     string
		respCC   string
		reqExtra []string
	}{
		{"response no-store", "max-age=60, no-store", nil},
		{"response private", "private, max-age=60", nil},
		{"request no-store", "max-age=60", []string{"Cache-Control", "no-store"}},
		{"no-store in a second Cache-Control line", "max-age=60", nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			kv := []string{"Cache-Control", tt.respCC}
			if i == 3 {
				kv = append(kv, "Cache-Control", "no-store")
			}
			h.serve(200, "x", kv...)
			h.get("/p", tt.reqExtra...)
			h.get("/p")
			h.expectHits(2, "not storable")
		})
	}
}

func TestRFC9111_3_5_AuthorizationStoredOnlyWhenAllowed(t *testing.T) {
	tests := []struct {
		cc     string
		stored bool
	}{
		{"max-age=60", false},
		{"public, max-age=60", true},
		{"s-maxage=60", true},
		{"must-revalidate, max-age=60", true},
	}
	for _, tt := range tests {
		t.Run(tt.cc, func(t *testing.T) {
			h := newHarness(t, nil)
			h.serve(200, "secret", "Cache-Control", tt.cc)
			h.get("/a", "Authorization", "Bearer x")
			h.get("/a", "Authorization", "Bearer x")
			want := int64(2)
			if tt.stored {
				want = 1
			}
			h.expectHits(want, tt.cc)
		})
	}
}

func TestSetCookieResponsesAreNotSharedUnlessPublic(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "x", "Cache-Control", "max-age=60", "Set-Cookie", "session=abc")
	h.get("/c")
	h.get("/c")
	h.expectHits(2, "Set-Cookie without public")

	h.serve(200, "x", "Cache-Control", "public, max-age=60", "Set-Cookie", "session=abc")
	h.get("/d")
	got := h.get("/d")
	h.expectHits(3, "Set-Cookie with public is stored")
	if got.header.Get("Set-Cookie") != "" {
		t.Errorf("stored copy handed out Set-Cookie %q", got.header.Get("Set-Cookie"))
	}
}

func TestRFC9111_4_2_1_FreshnessFromSMaxAge(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "x", "Cache-Control", "max-age=1000, s-maxage=10")
	h.get("/f")
	h.clock.Advance(9 * time.Second)
	if !isHit(h.get("/f")) {
		t.Fatal("not a hit within s-maxage")
	}
	h.clock.Advance(2 * time.Second)
	h.get("/f")
	h.expectHits(2, "s-maxage overrides max-age for a shared cache")
}

func TestRFC9111_4_2_1_FreshnessFromMaxAge(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "x", "Cache-Control", "max-age=10")
	h.get("/f")
	h.clock.Advance(9 * time.Second)
	h.get("/f")
	h.expectHits(1, "fresh")
	h.clock.Advance(2 * time.Second)
	h.get("/f")
	h.expectHits(2, "stale after max-age")
}

func TestRFC9111_4_2_1_FreshnessFromExpiresAgainstDate(t *testing.T) {
	h := newHarness(t, nil)
	// Date one hour in the past, Expires 10s after it: the lifetime is the
	// difference (10s), not Expires minus the cache's clock.
	h.origin.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", h.clock.date(-time.Hour))
		w.Header().Set("Expires", h.clock.date(-time.Hour+10*time.Second))
		w.Write([]byte("x"))
	})
	h.get("/e")
	h.get("/e")
	h.expectHits(2, "already older (apparent age 1h) than its 10s lifetime")

	h.origin.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", h.clock.date(0))
		w.Header().Set("Expires", h.clock.date(10*time.Second))
		w.Write([]byte("x"))
	})
	h.get("/e2")
	h.clock.Advance(5 * time.Second)
	h.get("/e2")
	h.expectHits(3, "fresh by Expires")
}

func TestRFC9111_5_3_InvalidExpiresIsStale(t *testing.T) {
	for _, exp := range []string{"0", "-1", "not a date", "Thu, 32 Dec 2099 00:00:00 GMT"} {
		t.Run(exp, func(t *testing.T) {
			h := newHarness(t, nil)
			h.serve(200, "x", "Expires", exp, "Last-Modified", h.clock.date(-240*time.Hour))
			h.get("/x")
			h.clock.Advance(time.Second)
			h.get("/x")
			h.expectHits(2, "invalid Expires means already expired, no heuristic")
		})
	}
}

func TestRFC9111_5_2_MaxAgeBeatsExpires(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "x", "Cache-Control", "max-age=60", "Expires", "0")
	h.get("/x")
	h.clock.Advance(time.Second)
	h.get("/x")
	h.expectHits(1, "max-age takes precedence over an invalid Expires")
}

func TestRFC9111_4_2_2_HeuristicFreshnessFromLastModified(t *testing.T) {
	h := newHarness(t, nil)
	// Modified 100 hours ago: 10% is 10h, bounded to 24h → 10h.
	h.serve(200, "x", "Last-Modified", h.clock.date(-100*time.Hour))
	h.get("/h")
	h.clock.Advance(9 * time.Hour)
	h.get("/h")
	h.expectHits(1, "fresh by heuristic")
	h.clock.Advance(2 * time.Hour)
	h.get("/h")
	h.expectHits(2, "stale after 10% of the age")
}

func TestDefaultTTLAppliesOnlyWhenTheOriginSaysNothing(t *testing.T) {
	h := newHarness(t, &config.RouteCache{DefaultTTL: 30 * time.Second})
	h.serve(200, "x")
	h.get("/d")
	h.clock.Advance(29 * time.Second)
	h.get("/d")
	h.expectHits(1, "default_ttl")
	h.serve(200, "x", "Cache-Control", "max-age=5")
	h.get("/e")
	h.clock.Advance(6 * time.Second)
	h.get("/e")
	h.expectHits(3, "origin max-age wins over default_ttl")
}

func TestNoDefaultTTLMeansNothingStoredWithoutFreshness(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "x")
	h.get("/n")
	h.get("/n")
	h.expectHits(2, "no freshness, no validators")
}

func TestRFC9111_4_2_3_AgeIsComputedAndSent(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "x", "Cache-Control", "max-age=3600", "Age", "100")
	h.get("/age")
	h.clock.Advance(20 * time.Second)
	got := h.get("/age")
	age, _ := strconv.Atoi(got.header.Get("Age"))
	if age != 120 {
		t.Fatalf("got Age %q, want 120 (100 from upstream + 20 resident)", got.header.Get("Age"))
	}
	h.clock.Advance(3481 * time.Second)
	h.get("/age")
	h.expectHits(2, "upstream Age counts against max-age")
}

func TestRFC9111_5_2_1_RequestDirectives(t *testing.T) {
	tests := []struct {
		name      string
		advance   time.Duration
		reqCC     string
		fromCache bool
	}{
		{"max-age larger than age", 10 * time.Second, "max-age=20", true},
		{"max-age smaller than age", 10 * time.Second, "max-age=5", false},
		{"min-fresh satisfied", 10 * time.Second, "min-fresh=30", true},
		{"min-fresh not satisfied", 10 * time.Second, "min-fresh=95", false},
		{"max-stale covers staleness", 110 * time.Second, "max-stale=20", true},
		{"max-stale too small", 130 * time.Second, "max-stale=20", false},
		{"max-stale without value", time.Hour / 2, "max-stale", true},
		{"no-cache revalidates", time.Second, "no-cache", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.serve(200, "x", "Cache-Control", "max-age=100")
			h.get("/r")
			h.clock.Advance(tt.advance)
			h.get("/r", "Cache-Control", tt.reqCC)
			want := int64(2)
			if tt.fromCache {
				want = 1
			}
			h.expectHits(want, tt.reqCC)
		})
	}
}

func TestRFC9111_5_4_PragmaNoCacheWithoutCacheControl(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "x", "Cache-Control", "max-age=100")
	h.get("/p")
	h.get("/p", "Pragma", "no-cache")
	h.expectHits(2, "Pragma: no-cache")
}

func TestRFC9111_5_2_1_7_OnlyIfCached(t *testing.T) {
	h := newHarness(t, nil)
	got := h.get("/o", "Cache-Control", "only-if-cached")
	if got.status != http.StatusGatewayTimeout {
		t.Fatalf("got %d, want 504", got.status)
	}
	h.expectHits(0, "only-if-cached never goes upstream")
	h.serve(200, "x", "Cache-Control", "max-age=100")
	h.get("/o")
	if got := h.get("/o", "Cache-Control", "only-if-cached"); got.status != 200 {
		t.Fatalf("got %d from a stored response, want 200", got.status)
	}
}

func TestRFC9111_4_3_RevalidationWithETag304RefreshesHeaders(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "body-1", "Cache-Control", "max-age=10", "Etag", `"v1"`, "X-Version", "a", "Content-Type", "text/plain")
	h.get("/v")
	h.clock.Advance(11 * time.Second)
	h.origin.set(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") != `"v1"` {
			t.Errorf("validation sent If-None-Match %q, want \"v1\"", r.Header.Get("If-None-Match"))
		}
		w.Header().Set("Date", h.clock.date(0))
		w.Header().Set("Cache-Control", "max-age=100")
		w.Header().Set("X-Version", "b")
		w.Header().Set("Etag", `"v1"`)
		w.WriteHeader(http.StatusNotModified)
	})
	got := h.get("/v")
	if got.status != 200 || got.body != "body-1" || got.header.Get("X-Version") != "b" {
		t.Fatalf("got %d %q X-Version %q; want 200 body-1 b", got.status, got.body, got.header.Get("X-Version"))
	}
	if cs := got.header.Get("Cache-Status"); cs != "Portico; fwd=stale; fwd-status=304" {
		t.Errorf("Cache-Status %q", cs)
	}
	h.clock.Advance(50 * time.Second)
	got = h.get("/v")
	h.expectHits(2, "the 304's max-age=100 refreshed the entry")
	if got.header.Get("X-Version") != "b" || got.header.Get("Content-Type") != "text/plain" {
		t.Errorf("stored headers not updated: X-Version %q Content-Type %q", got.header.Get("X-Version"), got.header.Get("Content-Type"))
	}
}

func TestRFC9111_4_3_RevalidationWithLastModified(t *testing.T) {
	h := newHarness(t, nil)
	lm := h.clock.date(-time.Hour)
	h.serve(200, "x", "Cache-Control", "max-age=1", "Last-Modified", lm)
	h.get("/lm")
	h.clock.Advance(2 * time.Second)
	h.serve(http.StatusNotModified, "", "Cache-Control", "max-age=60")
	got := h.get("/lm")
	if h.origin.lastHeader().Get("If-Modified-Since") != lm {
		t.Errorf("If-Modified-Since %q, want %q", h.origin.lastHeader().Get("If-Modified-Since"), lm)
	}
	if got.status != 200 || got.body != "x" {
		t.Fatalf("got %d %q, want 200 x", got.status, got.body)
	}
}

func TestRFC9111_4_3_NewResponseOnValidationReplacesEntry(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "old", "Cache-Control", "max-age=1", "Etag", `"1"`)
	h.get("/n")
	h.clock.Advance(2 * time.Second)
	h.serve(200, "new", "Cache-Control", "max-age=60", "Etag", `"2"`)
	if got := h.get("/n"); got.body != "new" {
		t.Fatalf("got %q, want new", got.body)
	}
	if got := h.get("/n"); got.body != "new" || !isHit(got) {
		t.Fatalf("got %q hit=%v, want the new body from cache", got.body, isHit(got))
	}
}

func TestRFC9111_5_2_2_2_MustRevalidateNeverServedStale(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "x", "Cache-Control", "max-age=1, must-revalidate", "Etag", `"a"`)
	h.get("/m")
	h.clock.Advance(5 * time.Second)
	h.get("/m", "Cache-Control", "max-stale=100")
	h.expectHits(2, "must-revalidate overrides max-stale")
}

func TestRFC9111_5_2_2_8_ProxyRevalidateAndSMaxAgeNeverServedStale(t *testing.T) {
	for _, cc := range []string{"max-age=1, proxy-revalidate", "s-maxage=1"} {
		t.Run(cc, func(t *testing.T) {
			h := newHarness(t, nil)
			h.serve(200, "x", "Cache-Control", cc)
			h.get("/m")
			h.clock.Advance(5 * time.Second)
			h.get("/m", "Cache-Control", "max-stale")
			h.expectHits(2, cc)
		})
	}
}

func TestRFC9111_5_2_2_4_NoCacheAlwaysRevalidates(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "x", "Cache-Control", "no-cache, max-age=100", "Etag", `"a"`)
	h.get("/nc")
	h.serve(http.StatusNotModified, "", "Etag", `"a"`)
	got := h.get("/nc")
	h.expectHits(2, "no-cache")
	if got.status != 200 || got.body != "x" {
		t.Fatalf("got %d %q; want the stored body after a 304", got.status, got.body)
	}
}

func TestRFC9111_4_3_2_ConditionalRequestsAnsweredFromCache(t *testing.T) {
	h := newHarness(t, nil)
	lm := h.clock.date(-time.Hour)
	h.serve(200, "x", "Cache-Control", "max-age=100", "Etag", `"e1"`, "Last-Modified", lm)
	h.get("/c")
	tests := []struct {
		name   string
		kv     []string
		status int
	}{
		{"If-None-Match matches", []string{"If-None-Match", `"e1"`}, 304},
		{"If-None-Match weak matches", []string{"If-None-Match", `W/"e1"`}, 304},
		{"If-None-Match list", []string{"If-None-Match", `"zz", "e1"`}, 304},
		{"If-None-Match star", []string{"If-None-Match", `*`}, 304},
		{"If-None-Match differs", []string{"If-None-Match", `"e2"`}, 200},
		{"If-Modified-Since at Last-Modified", []string{"If-Modified-Since", lm}, 304},
		{"If-Modified-Since before Last-Modified", []string{"If-Modified-Since", h.clock.date(-2 * time.Hour)}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := h.get("/c", tt.kv...)
			if got.status != tt.status {
				t.Fatalf("got %d, want %d", got.status, tt.status)
			}
			if tt.status == 304 && got.body != "" {
				t.Errorf("304 with a body %q", got.body)
			}
		})
	}
	h.expectHits(1, "every conditional answered from the cache")
}

func TestConditionalRequestOnAMissIsStoredAndAnswered304(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "x", "Cache-Control", "max-age=100", "Etag", `"e1"`)
	got := h.get("/m", "If-None-Match", `"e1"`)
	if got.status != 304 {
		t.Fatalf("got %d, want 304", got.status)
	}
	if h.origin.lastHeader().Get("If-None-Match") != "" {
		t.Error("the client's validator was forwarded, so the full response could not be stored")
	}
	if got := h.get("/m"); got.status != 200 || got.body != "x" || !isHit(got) {
		t.Fatalf("got %d %q hit=%v, want the stored 200", got.status, got.body, isHit(got))
	}
}

func TestRFC9111_5_2_2_4_QualifiedNoCacheStoresWithoutTheNamedFields(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "x", "Cache-Control", `max-age=3600, no-cache="A, B"`, "A", "1", "B", "2", "C", "3")
	h.get("/q")
	got := h.get("/q")
	if !isHit(got) {
		t.Fatal("a qualified no-cache forced revalidation")
	}
	if got.header.Get("A") != "" || got.header.Get("B") != "" || got.header.Get("C") != "3" {
		t.Fatalf("got A=%q B=%q C=%q; want A and B dropped, C kept", got.header.Get("A"), got.header.Get("B"), got.header.Get("C"))
	}
}

func TestRFC9111_4_1_VaryWithStarAmongOthersIsNotStored(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "x", "Cache-Control", "max-age=100", "Vary", "Accept, *")
	h.get("/v")
	h.get("/v")
	h.expectHits(2, "Vary listing *")
}

func TestRFC9111_5_2_QuotedMaxAgeInAnExtensionIsIgnored(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "x", "Cache-Control", `extension="max-age=3600", max-age=1`)
	h.get("/e")
	h.clock.Advance(2 * time.Second)
	h.get("/e")
	h.expectHits(2, "max-age inside a quoted string")
}
