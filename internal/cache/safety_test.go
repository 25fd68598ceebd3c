package cache_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// These tests check the cases where a shared cache could hand a response
// to someone it must not reach, serve a wrong or stale representation, or
// be poisoned by one client for everyone.

func TestRFC9111_3_5_AuthorizedRevalidationDoesNotStoreTheNewResponse(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "public page", "Cache-Control", "max-age=1", "Etag", `"1"`)
	h.get("/a")
	h.clock.Advance(2 * time.Second)
	// The stale entry is revalidated for a request with Authorization;
	// the origin answers with that user's page, without public.
	h.serve(200, "alice's page", "Cache-Control", "max-age=60", "Etag", `"2"`)
	if got := h.get("/a", "Authorization", "Bearer alice"); got.body != "alice's page" {
		t.Fatalf("got %q", got.body)
	}
	h.serve(200, "public page 2", "Cache-Control", "max-age=60", "Etag", `"3"`)
	if got := h.get("/a"); got.body == "alice's page" {
		t.Fatal("the answer to an authorized request reached another client")
	}
}

func TestRFC9111_3_PrivateResponseToARevalidationKeepsTheEntryOutOfReach(t *testing.T) {
	for _, cc := range []string{"private, max-age=60", "no-store, max-age=60"} {
		t.Run(cc, func(t *testing.T) {
			h := newHarness(t, nil)
			h.serve(200, "page", "Cache-Control", "max-age=1", "Etag", `"1"`)
			h.get("/p")
			h.clock.Advance(2 * time.Second)
			h.serve(200, "mine", "Cache-Control", cc, "Etag", `"2"`)
			h.get("/p")
			h.serve(200, "page 3", "Cache-Control", "max-age=60", "Etag", `"3"`)
			if got := h.get("/p"); got.body == "mine" {
				t.Fatalf("a %s response was served from the cache", cc)
			}
		})
	}
}

func TestRFC9111_5_2_2_7_QualifiedPrivateStoresWithoutTheNamedFields(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "x", "Cache-Control", `max-age=60, private="X-User, Set-Cookie2"`, "X-User", "alice", "Set-Cookie2", "s=1", "X-Other", "o")
	if got := h.get("/q"); got.header.Get("X-User") != "alice" {
		t.Fatalf("the client the response was for lost X-User: %q", got.header.Get("X-User"))
	}
	got := h.get("/q")
	if !isHit(got) {
		t.Fatal("a response with a qualified private was not stored")
	}
	if got.header.Get("X-User") != "" || got.header.Get("Set-Cookie2") != "" || got.header.Get("X-Other") != "o" {
		t.Fatalf("stored copy: X-User=%q Set-Cookie2=%q X-Other=%q", got.header.Get("X-User"), got.header.Get("Set-Cookie2"), got.header.Get("X-Other"))
	}
}

func TestRFC9111_4_2_1_MaxAgeZeroIsStoredAndRevalidatedEveryTime(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "x", "Cache-Control", "max-age=0", "Etag", `"z"`)
	h.get("/z")
	h.serve(http.StatusNotModified, "", "Etag", `"z"`)
	got := h.get("/z")
	if got.body != "x" || got.header.Get("Cache-Status") != "Portico; fwd=stale; fwd-status=304" {
		t.Fatalf("got %q %q; want the stored body after revalidation", got.body, got.header.Get("Cache-Status"))
	}
	h.expectHits(2, "max-age=0 revalidates")
}

func TestRFC9111_4_2_2_NoHeuristicFreshnessWithoutLastModifiedOrForOtherStatuses(t *testing.T) {
	tests := []struct {
		name   string
		status int
		kv     []string
	}{
		{"200 without Last-Modified", 200, nil},
		{"302 with Last-Modified", 302, []string{"Location", "/y"}},
		{"500 with Last-Modified", 500, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			kv := tt.kv
			if tt.status != 200 {
				kv = append(kv, "Last-Modified", h.clock.date(-100*time.Hour))
			}
			h.serve(tt.status, "x", kv...)
			h.get("/h")
			h.clock.Advance(time.Second)
			if got := h.get("/h"); isHit(got) {
				t.Fatalf("served from the cache with no freshness (%q)", got.header.Get("Cache-Status"))
			}
			h.expectHits(2, tt.name)
		})
	}
}

func TestRFC5861_5xxDuringRevalidationOutsideStaleIfErrorIsPassedOn(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "good", "Cache-Control", "max-age=10, stale-if-error=60", "Etag", `"g"`)
	h.get("/e")
	h.clock.Advance(30 * time.Second)
	h.serve(500, "broken")
	if got := h.get("/e"); got.status != 200 || got.body != "good" {
		t.Fatalf("within stale-if-error: got %d %q", got.status, got.body)
	}
	h.clock.Advance(60 * time.Second)
	if got := h.get("/e"); got.status != 500 || got.body != "broken" {
		t.Fatalf("past stale-if-error: got %d %q, want the origin's 500", got.status, got.body)
	}
	// The error did not replace the stored entry's body for later.
	h.serve(http.StatusNotModified, "", "Etag", `"g"`, "Cache-Control", "max-age=10")
	if got := h.get("/e"); got.status != 200 || got.body != "good" {
		t.Fatalf("after the error: got %d %q", got.status, got.body)
	}
}

func TestCacheKeyKeepsHostsApart(t *testing.T) {
	h := newHarness(t, nil)
	h.origin.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=100")
		w.Write([]byte("host=" + r.Host))
	})
	h.get("/k", "Host", "a.example")
	if got := h.get("/k", "Host", "b.example"); got.body != "host=b.example" {
		t.Fatalf("b.example got %q", got.body)
	}
	if got := h.get("/k", "Host", "A.Example"); got.body != "host=a.example" || !isHit(got) {
		t.Fatalf("A.Example got %q hit=%v, want a.example's entry", got.body, isHit(got))
	}
	if got := h.get("/k", "Host", "a.example:8080"); got.body != "host=a.example:8080" {
		t.Fatalf("a.example:8080 got %q", got.body)
	}
	h.expectHits(3, "one per host")
}

func TestUnkeyedForwardingHeadersDoNotPoisonTheEntry(t *testing.T) {
	h := newHarness(t, nil)
	h.origin.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=100")
		w.Write([]byte("<script src=//" + r.Header.Get("X-Forwarded-Host") + "/app.js>"))
	})
	h.get("/", "Host", "shop.example", "X-Forwarded-Host", "evil.example", "Forwarded", "host=evil.example")
	got := h.get("/", "Host", "shop.example")
	if got.body != "<script src=//shop.example/app.js>" {
		t.Fatalf("got %q", got.body)
	}
}

func TestHEADMissIsNotStoredForGET(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "hello", "Cache-Control", "max-age=100", "Content-Length", "5")
	if got := h.do(http.MethodHead, "/h"); got.status != 200 || got.body != "" {
		t.Fatalf("HEAD: got %d %q", got.status, got.body)
	}
	got := h.get("/h")
	if got.body != "hello" {
		t.Fatalf("GET after HEAD got %q", got.body)
	}
	if got := h.get("/h"); got.body != "hello" || !isHit(got) {
		t.Fatalf("second GET got %q hit=%v", got.body, isHit(got))
	}
	h.expectHits(2, "HEAD went upstream, then one GET")
}

func TestRangeMissStoresNeitherThe206NorAFull200FromIt(t *testing.T) {
	h := newHarness(t, nil)
	h.origin.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=100")
		w.Header().Set("Etag", `"r"`)
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader("0123456789"))
	})
	got := h.get("/r", "Range", "bytes=2-4")
	if got.status != 206 || got.body != "234" {
		t.Fatalf("Range miss: got %d %q", got.status, got.body)
	}
	got = h.get("/r")
	if got.status != 200 || got.body != "0123456789" || isHit(got) {
		t.Fatalf("GET: got %d %q hit=%v, want the full body from the origin", got.status, got.body, isHit(got))
	}
	got = h.get("/r", "Range", "bytes=0-0")
	if got.status != 206 || got.body != "0" || !isHit(got) {
		t.Fatalf("Range hit: got %d %q hit=%v", got.status, got.body, isHit(got))
	}
	// A stale entry revalidated by a Range request that gets a 206 back
	// keeps the full body.
	h.clock.Advance(200 * time.Second)
	got = h.get("/r", "Range", "bytes=5-6", "Cache-Control", "no-cache")
	if got.status != 206 || got.body != "56" {
		t.Fatalf("Range revalidation: got %d %q", got.status, got.body)
	}
	if got := h.get("/r", "Cache-Control", "max-stale"); got.status != 200 || got.body != "0123456789" {
		t.Fatalf("after the Range revalidation: got %d %q", got.status, got.body)
	}
}

func TestRFC9111_3_2_A304DoesNotStoreFieldsItsPrivateOrNoCacheNames(t *testing.T) {
	for _, cc := range []string{`max-age=60, private="X-User"`, `max-age=60, no-cache="X-User"`} {
		t.Run(cc, func(t *testing.T) {
			h := newHarness(t, nil)
			h.serve(200, "body", "Cache-Control", "max-age=1", "Etag", `"1"`)
			h.get("/r")
			h.clock.Advance(2 * time.Second)
			h.serve(http.StatusNotModified, "", "Cache-Control", cc, "Etag", `"1"`, "X-User", "alice")
			first := h.get("/r")
			if first.body != "body" || first.header.Get("X-User") != "alice" {
				t.Fatalf("got %q X-User=%q, want the stored body with this client's X-User", first.body, first.header.Get("X-User"))
			}
			got := h.get("/r")
			if !isHit(got) {
				t.Fatal("the refreshed entry was not reused")
			}
			if u := got.header.Get("X-User"); u != "" {
				t.Fatalf("another client got the 304's %s field X-User: %q", cc, u)
			}
		})
	}
}

func TestRFC9111_3_A304SayingPrivateOrNoStoreIsNotStored(t *testing.T) {
	for _, cc := range []string{"private, max-age=60", "no-store, max-age=60"} {
		t.Run(cc, func(t *testing.T) {
			h := newHarness(t, nil)
			h.serve(200, "body", "Cache-Control", "max-age=1", "Etag", `"1"`)
			h.get("/r")
			h.clock.Advance(2 * time.Second)
			h.serve(http.StatusNotModified, "", "Cache-Control", cc, "Etag", `"1"`)
			if got := h.get("/r"); got.status != 200 || got.body != "body" {
				t.Fatalf("got %d %q, want the stored body", got.status, got.body)
			}
			h.serve(http.StatusNotModified, "", "Cache-Control", "max-age=60", "Etag", `"1"`)
			if got := h.get("/r"); isHit(got) {
				t.Fatalf("the entry refreshed by a %s 304 was reused without validation", cc)
			}
			h.expectHits(3, cc)
		})
	}
}

func TestRFC9111_4_1_VaryOmittedOrEmptyAreDifferentVariants(t *testing.T) {
	h := newHarness(t, nil)
	h.origin.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=100")
		w.Header().Set("Vary", "X-Lang")
		_, present := r.Header["X-Lang"]
		if present {
			w.Write([]byte("present"))
			return
		}
		w.Write([]byte("absent"))
	})
	h.get("/v", "X-Lang", "")
	if got := h.get("/v"); got.body != "absent" {
		t.Fatalf("a request without X-Lang got %q, the variant of an empty X-Lang", got.body)
	}
}

func TestRFC9111_4_1_VaryChangedBetweenResponsesSelectsOnlyMatchingVariants(t *testing.T) {
	h := newHarness(t, nil)
	vary := "X-A"
	h.origin.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=100")
		w.Header().Set("Vary", vary)
		w.Write([]byte("a=" + r.Header.Get("X-A") + " b=" + r.Header.Get("X-B")))
	})
	h.get("/v", "X-A", "foo")
	// The origin now varies on X-B; a new response replaces the marker.
	vary = "X-B"
	h.get("/v", "X-B", "bar", "Cache-Control", "no-cache")
	got := h.get("/v", "X-B", "foo")
	if got.body != "a= b=foo" {
		t.Fatalf("a request with X-B: foo got %q (hit=%v), stored for X-A: foo", got.body, isHit(got))
	}
	if got := h.get("/v", "X-B", "bar"); got.body != "a= b=bar" || !isHit(got) {
		t.Fatalf("got %q hit=%v, want the stored X-B: bar variant", got.body, isHit(got))
	}
}

func TestRFC9111_4_3_4_A304WithAnotherETagDoesNotRefreshTheStoredBody(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "version 1", "Cache-Control", "max-age=1", "Etag", `"1"`)
	h.get("/e")
	h.clock.Advance(2 * time.Second)
	var conditional, plain int
	h.origin.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", h.clock.date(0))
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Etag", `"2"`)
		if r.Header.Get("If-None-Match") != "" {
			// A broken or racing origin: 304 with a validator the stored
			// response does not have.
			conditional++
			w.WriteHeader(http.StatusNotModified)
			return
		}
		plain++
		w.Write([]byte("version 2"))
	})
	got := h.get("/e")
	if got.body == "version 1" && got.header.Get("Etag") == `"2"` {
		t.Fatal("the body of ETag \"1\" was served as ETag \"2\"")
	}
	if got.status != 200 || got.body != "version 2" {
		t.Fatalf("got %d %q, want the full version 2", got.status, got.body)
	}
	got = h.get("/e")
	if got.body != "version 2" || got.header.Get("Etag") != `"2"` {
		t.Fatalf("stored: %q with ETag %q", got.body, got.header.Get("Etag"))
	}
	if got := h.get("/e", "If-None-Match", `"2"`); got.status != 304 {
		t.Fatalf("If-None-Match \"2\": got %d", got.status)
	}
}

func TestRFC9111_4_3_4_A304WithTheWeakStoredETagRefreshes(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(200, "body", "Cache-Control", "max-age=1", "Etag", `W/"1"`)
	h.get("/w")
	h.clock.Advance(2 * time.Second)
	h.serve(http.StatusNotModified, "", "Cache-Control", "max-age=60", "Etag", `W/"1"`)
	if got := h.get("/w"); got.body != "body" || got.header.Get("Cache-Status") != "Portico; fwd=stale; fwd-status=304" {
		t.Fatalf("got %q %q", got.body, got.header.Get("Cache-Status"))
	}
	h.expectHits(2, "one revalidation")
}

func TestRFC9111_3_2_A304DoesNotChangeTheStoredContentEncodingOrLength(t *testing.T) {
	h := newHarness(t, nil)
	lm := h.clock.date(-time.Hour)
	h.serve(200, "plain text", "Cache-Control", "max-age=1", "Last-Modified", lm)
	h.get("/ce")
	h.clock.Advance(2 * time.Second)
	// An origin that compresses on the fly answers a revalidation from a
	// client accepting gzip with the coding it would have used.
	h.origin.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", h.clock.date(0))
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Last-Modified", lm)
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("X-Fresh", "1")
		w.WriteHeader(http.StatusNotModified)
	})
	h.get("/ce", "Accept-Encoding", "gzip")
	got := h.get("/ce", "Accept-Encoding", "identity")
	if !isHit(got) || got.body != "plain text" || got.header.Get("X-Fresh") != "1" {
		t.Fatalf("got %q hit=%v X-Fresh=%q", got.body, isHit(got), got.header.Get("X-Fresh"))
	}
	if ce := got.header.Get("Content-Encoding"); ce != "" {
		t.Fatalf("the identity body is labelled Content-Encoding %q", ce)
	}
	if cl := got.header.Get("Content-Length"); cl != "10" {
		t.Fatalf("Content-Length %q, want 10", cl)
	}
}

func TestCacheKeyIsThePathAsSent(t *testing.T) {
	tests := []struct{ attack, victim string }{
		{"/a%2Fb", "/a/b"},
		{"/p%3Fx=1", "/p?x=1"},
		{"/c%252F", "/c%2F"},
	}
	for _, tt := range tests {
		t.Run(tt.attack, func(t *testing.T) {
			h := newHarness(t, nil)
			h.origin.set(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=100")
				w.Write([]byte("uri=" + r.RequestURI))
			})
			h.get(tt.attack)
			if got := h.get(tt.victim); got.body != "uri="+tt.victim {
				t.Fatalf("%s got %q (hit=%v): the response to %s", tt.victim, got.body, isHit(got), tt.attack)
			}
			if got := h.get(tt.attack); got.body != "uri="+tt.attack || !isHit(got) {
				t.Fatalf("%s got %q hit=%v", tt.attack, got.body, isHit(got))
			}
		})
	}
}

func TestRFC9111_4_4_InvalidationReachesThePathAsSent(t *testing.T) {
	h := newHarness(t, nil)
	h.origin.set(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.Header().Set("Location", "/a%2Fb")
			w.WriteHeader(http.StatusCreated)
			return
		}
		w.Header().Set("Cache-Control", "max-age=100")
		w.Write([]byte("uri=" + r.RequestURI))
	})
	h.get("/a%2Fb")
	h.get("/a/b")
	h.do(http.MethodPost, "/new")
	if got := h.get("/a%2Fb"); isHit(got) {
		t.Fatal("the entry named by Location survived the POST")
	}
	if got := h.get("/a/b"); !isHit(got) {
		t.Fatal("the POST's Location removed another path's entry")
	}
}
