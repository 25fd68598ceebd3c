package cache_test

import (
	"net/http"
	"testing"
)

// TestSuiteCCParse mirrors tests/cc-parse.mjs. Where the RFC leaves a
// choice ("check"), this cache takes the first of repeated directives and
// reads a delta-seconds that is not all digits as 0 (RFC 9111 section
// 4.2.1 and 1.2.2): the response is then stale.
func TestSuiteCCParse(t *testing.T) {
	one := func(kind, id, typ string, lines ...kv) suiteCase {
		return suiteCase{id: id, kind: kind, steps: []step{setupPause(lines...), expectStep(typ)}}
	}
	runSuite(t, []suiteCase{
		one("check", "freshness-max-age-two-fresh-stale-sameline", cached, cc("max-age=1800, max-age=1")),
		one("check", "freshness-max-age-two-fresh-stale-sepline", cached, cc("max-age=1800"), cc("max-age=1")),
		one("check", "freshness-max-age-two-stale-fresh-sameline", notCached, cc("max-age=1, max-age=1800")),
		one("check", "freshness-max-age-two-stale-fresh-sepline", notCached, cc("max-age=1"), cc("max-age=1800")),
		one("required", "freshness-max-age-ignore-quoted", notCached, cc(`extension="max-age=3600", max-age=1`)),
		one("required", "freshness-max-age-ignore-quoted-rev", notCached, cc(`max-age=1, extension="max-age=3600"`)),
		one("check", "freshness-max-age-quoted", cached, cc(`max-age="3600"`)),
		one("check", "freshness-max-age-space-before-equals", notCached, cc("max-age =3600")),
		one("check", "freshness-max-age-space-after-equals", notCached, cc("max-age= 3600")),
		one("required", "freshness-max-age-leading-zero", cached, cc("max-age=003600")),
		one("required", "freshness-max-age-single-quoted", notCached, cc("max-age='3600'")),
		one("check", "freshness-max-age-decimal-zero", notCached, cc("max-age=3600.0")),
		one("check", "freshness-max-age-decimal-five", notCached, cc("max-age=3600.5")),
		one("check", "freshness-max-age-a100", notCached, cc("max-age=a3600")),
		one("check", "freshness-max-age-100a", notCached, cc("max-age=3600a")),
	})
}

// TestSuiteVaryParse mirrors tests/vary-parse.mjs: a "*" anywhere in Vary
// means the response is never reused. The suite's setup template loses
// its freshness to the Vary it is given; here the response keeps it, so
// the cases show that "*" alone is what prevents reuse.
func TestSuiteVaryParse(t *testing.T) {
	star := func(id string, vary ...string) suiteCase {
		first := step{reqHdr: hs(hd("Foo", "1"), hd("Baz", "789")),
			respHdr: hs(cc("max-age=5000"), hd("Last-Modified", at(-3000)), hd("Date", at(0)))}
		for _, v := range vary {
			first.respHdr = append(first.respHdr, hd("Vary", v))
		}
		return suiteCase{id: id, kind: "required", steps: []step{first,
			{reqHdr: hs(hd("Foo", "1"), hd("Baz", "789")), expect: notCached}}}
	}
	runSuite(t, []suiteCase{
		star("vary-syntax-star", "*"),
		star("vary-syntax-star-star", "*, *"),
		star("vary-syntax-star-star-lines", "*", "*"),
		star("vary-syntax-empty-star", ", *"),
		star("vary-syntax-empty-star-lines", "", "*"),
		star("vary-syntax-star-foo", "*, Foo"),
		star("vary-syntax-foo-star", "Foo, *"),
	})
}

// TestSuiteUpdateHEAD mirrors tests/updateHead.mjs (all "check"): a
// stale entry is revalidated with HEAD, and a 200 whose validators and
// Content-Length do not contradict the stored ones updates it (RFC 9111
// section 4.3.5).
func TestSuiteUpdateHEAD(t *testing.T) {
	head := func(s step) step {
		s.method, s.expectMethod = http.MethodHead, http.MethodHead
		return s
	}
	runSuite(t, []suiteCase{
		{id: "head-writethrough", kind: "check", steps: []step{becomeStale(), head(step{})}},
		{id: "head-200-retain", kind: "check", steps: []step{becomeStale(), head(step{expectHdr: hs(hd("Template-A", "1"))})}},
		{id: "head-200-freshness-update", kind: "check", steps: []step{becomeStale(),
			head(step{respHdr: hs(cc("max-age=1000"))}), expectStep(cached)}},
		{id: "head-200-update", kind: "check", steps: []step{becomeStale(),
			head(step{respHdr: hs(hd("Template-A", "2"), cc("max-age=1000"))}),
			{expect: cached, expectHdr: hs(hd("Template-A", "2"))}}},
		// head-410-update (check) is not mirrored: only a 200 to HEAD
		// updates a stored response; a 410 is passed on.
	})
}
