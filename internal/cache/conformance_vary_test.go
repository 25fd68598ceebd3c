package cache_test

import (
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/config"
)

// TestSuiteVary mirrors tests/vary.mjs.
func TestSuiteVary(t *testing.T) {
	resp := func(vary string) []kv {
		return hs(hd("Expires", at(5000)), hd("Last-Modified", at(-3000)), hd("Date", at(0)), hd("Vary", vary))
	}
	two := func(kind, id, vary string, first, second []kv, typ string) suiteCase {
		return suiteCase{id: id, kind: kind, steps: []step{
			{reqHdr: first, respHdr: resp(vary)},
			{reqHdr: second, expect: typ},
		}}
	}
	foo1 := hs(hd("Foo", "1"))
	runSuite(t, []suiteCase{
		two("optimal", "vary-match", "Foo", foo1, foo1, cached),
		two("required", "vary-no-match", "Foo", foo1, hs(hd("Foo", "2")), notCached),
		two("required", "vary-omit", "Foo", foo1, nil, notCached),
		{id: "vary-invalidate", kind: "optimal", steps: []step{
			{reqHdr: foo1, respHdr: resp("Foo"), body: str("foo_1")},
			{reqHdr: hs(hd("Foo", "2")), respHdr: resp("Foo"), expect: notCached, body: str("foo_2")},
			{reqHdr: foo1, body: str("foo_1"), expect: cached},
		}},
		two("optimal", "vary-cache-key", "Foo", hs(hd("Foo", "1"), hd("Other", "2")), hs(hd("Foo", "1"), hd("Other", "3")), cached),
		two("optimal", "vary-2-match", "Foo, Bar", hs(hd("Foo", "1"), hd("Bar", "abc")), hs(hd("Foo", "1"), hd("Bar", "abc")), cached),
		two("required", "vary-2-no-match", "Foo, Bar", hs(hd("Foo", "1"), hd("Bar", "abc")), hs(hd("Foo", "2"), hd("Bar", "abc")), notCached),
		two("required", "vary-2-match-omit", "Foo, Bar", foo1, nil, notCached),
		two("optimal", "vary-3-match", "Foo, Bar, Baz", hs(hd("Foo", "1"), hd("Bar", "abc"), hd("Baz", "789")), hs(hd("Foo", "1"), hd("Bar", "abc"), hd("Baz", "789")), cached),
		two("required", "vary-3-no-match", "Foo, Bar, Baz", hs(hd("Foo", "1"), hd("Bar", "abc"), hd("Baz", "789")), hs(hd("Foo", "2"), hd("Bar", "abc"), hd("Baz", "789")), notCached),
		two("required", "vary-3-order", "Foo, Bar, Baz", hs(hd("Foo", "1"), hd("Bar", "abc4"), hd("Baz", "789")), hs(hd("Foo", "1"), hd("Bar", "abc"), hd("Baz", "789")), notCached),
		two("optimal", "vary-3-omit", "Foo, Bar, Baz", hs(hd("Foo", "1"), hd("Baz", "789")), hs(hd("Foo", "1"), hd("Baz", "789")), cached),
		two("required", "vary-star", "*", hs(hd("Foo", "1"), hd("Baz", "789")), hs(hd("Baz", "789")), notCached),
		two("optimal", "vary-normalise-space", "Foo", hs(hd("Foo", "1,2")), hs(hd("Foo", " 1, 2 ")), cached),
		two("optimal", "vary-normalise-combine", "Foo", hs(hd("Foo", "1, 2")), hs(hd("Foo", "1"), hd("Foo", "2")), cached),
		// vary-normalise-lang-order (optimal) is not mirrored: "en, de"
		// and "de, en" are kept apart, see docs/cache.md, Conformance.
		two("check", "vary-normalise-lang-order-differs", "Accept-Language", hs(hd("Accept-Language", "en, de")), hs(hd("Accept-Language", "de, en")), notCached),
	})
}

// TestSuiteConditionalETag mirrors tests/conditional-etag.mjs. The
// suite's "fresh" template is replaced whole by the ETag these cases pass
// it (Object.assign), so the stored response has no freshness at all: a
// cache answers from it only with a default lifetime, here the route's
// default_ttl, which is what these cases run with.
func TestSuiteConditionalETag(t *testing.T) {
	ttl := &config.RouteCache{DefaultTTL: time.Minute}
	respond := func(kind, id, etag, inm string, status int) suiteCase {
		return suiteCase{id: id, kind: kind, route: ttl, steps: []step{
			{respHdr: hs(hd("ETag", etag))},
			{reqHdr: hs(hd("If-None-Match", inm)), expect: cached, expectStatus: status},
		}}
	}
	generate := func(kind, id, etag, want string) suiteCase {
		return suiteCase{id: id, kind: kind, steps: []step{
			setupPause(hd("ETag", etag)),
			{expectReqHdr: hs(hd("If-None-Match", want)), expect: etagValidated}}}
	}
	runSuite(t, []suiteCase{
		respond("optimal", "conditional-etag-strong-respond", `"abcdef"`, `"abcdef"`, 304),
		{id: "conditional-304-etag", kind: "required", route: ttl, steps: []step{
			{respHdr: hs(hd("ETag", `"abcdef"`))},
			{reqHdr: hs(hd("If-None-Match", `"abcdef"`)), expect: cached, expectStatus: 304, expectHdr: hs(hd("ETag", `"abcdef"`))},
		}},
		{id: "conditional-etag-precedence", kind: "required", route: ttl, steps: []step{
			{respHdr: hs(hd("Last-Modified", at(-5000)), hd("ETag", `"abcdef"`))},
			{reqHdr: hs(hd("If-None-Match", `"abcdef"`), hd("If-Modified-Since", at(-1))), expect: cached, expectStatus: 304},
		}},
		respond("check", "conditional-etag-strong-respond-obs-text", "\"abcdef\xfc\"", "\"abcdef\xfc\"", 304),
		// Differs from the suite's check on purpose: an unquoted
		// If-None-Match is not an entity-tag, so it matches nothing and
		// the full response is sent.
		respond("check", "conditional-etag-quoted-respond-unquoted", `"abcdef"`, `abcdef`, 200),
		respond("check", "conditional-etag-unquoted-respond-unquoted", `abcdef`, `abcdef`, 304),
		respond("optimal", "conditional-etag-weak-respond", `W/"abcdef"`, `W/"abcdef"`, 304),
		respond("optimal", "conditional-etag-strong-respond-multiple-first", `"abcdef"`, `"abcdef", "1234", "5678"`, 304),
		respond("optimal", "conditional-etag-strong-respond-multiple-second", `"abcdef"`, `"1234", "abcdef", "5678"`, 304),
		respond("optimal", "conditional-etag-strong-respond-multiple-last", `"abcdef"`, `"1234", "5678", "abcdef"`, 304),
		{id: "conditional-etag-vary-headers", kind: "required", steps: []step{
			{reqHdr: hs(hd("Abc", "123")), respHdr: hs(hd("Expires", at(1)), hd("ETag", `"abcdef"`), hd("Date", at(0)), hd("Vary", "Abc")), pause: true},
			{reqHdr: hs(hd("Abc", "123")), expect: etagValidated, expectReqHdr: hs(hd("Abc", "123"))},
		}},
		// Differs from the suite's check: another variant's validator is
		// not sent for a request that selects no stored variant.
		{id: "conditional-etag-vary-headers-mismatch", kind: "check", steps: []step{
			{reqHdr: hs(hd("Abc", "123")), respHdr: hs(hd("Expires", at(10000)), hd("ETag", `"abcdef"`), hd("Date", at(0)), hd("Vary", "Abc")), pause: true},
			{reqHdr: hs(hd("Abc", "456")), expectReqNot: []string{"If-None-Match"}},
		}},
		generate("optimal", "conditional-etag-strong-generate", `"abcdef"`, `"abcdef"`),
		generate("optimal", "conditional-etag-weak-generate-weak", `W/"abcdef"`, `W/"abcdef"`),
		// conditional-etag-forward (check): the client's validators are
		// not forwarded on a miss; the full response is fetched, stored,
		// and the client answered 304 from it when they match.
		{id: "conditional-etag-forward", kind: "check", steps: []step{
			{reqHdr: hs(hd("If-None-Match", `"abcdef"`)), expectReqNot: []string{"If-None-Match"}},
		}},
	})
}
