package cache_test

import "testing"

// Helpers that keep the suite's cases close to their source text.

func cc(v string) kv      { return kv{"Cache-Control", v} }
func hd(k, v string) kv   { return kv{k, v} }
func hs(lines ...kv) []kv { return lines }

// setupPause is a setup request with the given response headers and a
// pause after it, the most common first step of the suite.
func setupPause(lines ...kv) step { return step{respHdr: lines, pause: true} }

// setupNow is a setup request without a pause after it.
func setupNow(lines ...kv) step { return step{respHdr: lines} }

func expectStep(typ string) step { return step{expect: typ} }

// fresh and stale are the suite's response templates.
func fresh() []kv {
	return hs(hd("Expires", at(100000)), cc("max-age=100000"), hd("Last-Modified", at(0)), hd("Date", at(0)))
}

func stale() []kv {
	return hs(hd("Expires", at(-5000)), hd("Last-Modified", at(-100000)), hd("Date", at(0)))
}

// TestSuiteCCFreshness mirrors tests/cc-freshness.mjs.
func TestSuiteCCFreshness(t *testing.T) {
	two := func(kind, id string, first step, typ string) suiteCase {
		return suiteCase{id: id, kind: kind, steps: []step{first, expectStep(typ)}}
	}
	runSuite(t, []suiteCase{
		two("optimal", "freshness-max-age", setupPause(cc("max-age=3600")), cached),
		two("optimal", "freshness-max-age-quoted", setupPause(cc(`max-age="3600"`)), cached),
		two("required", "freshness-max-age-single-quoted", setupPause(cc(`max-age='3600'`)), notCached),
		two("required", "freshness-max-age-ignore-quoted", setupPause(cc(`extension="max-age=100", max-age=1`)), notCached),
		two("required", "freshness-max-age-ignore-quoted-rev", setupPause(cc(`max-age=1, extension="max-age=100"`)), notCached),
		two("required", "freshness-max-age-ignore-quoted-all", setupPause(cc(`extension="max-age=100", max-age="1"`)), notCached),
		two("required", "freshness-max-age-ignore-quoted-all-rev", setupPause(cc(`max-age="1", extension="max-age=100"`)), notCached),
		two("required", "freshness-max-age-space-before-equals", setupPause(cc(`max-age =100`)), notCached),
		two("required", "freshness-max-age-space-after-equals", setupPause(cc(`max-age= 100`)), notCached),
		two("required", "freshness-max-age-0", setupPause(cc("max-age=0")), notCached),
		two("required", "freshness-max-age-a100", setupPause(cc("max-age=a100")), notCached),
		two("required", "freshness-max-age-100a", setupPause(cc("max-age=100a")), notCached),
		two("required", "freshness-max-age-negative", setupPause(cc("max-age=-100")), notCached),
		two("optimal", "freshness-max-age-max", setupPause(cc("max-age=2147483648")), cached),
		two("optimal", "freshness-max-age-max-plus", setupPause(cc("max-age=99999999999")), cached),
		two("required", "freshness-max-age-age", setupPause(hd("Date", at(0)), cc("max-age=10"), hd("Age", "15")), notCached),
		two("optimal", "freshness-max-age-expires", setupPause(cc("max-age=3600"), hd("Expires", at(-10000)), hd("Date", at(0))), cached),
		two("optimal", "freshness-max-age-expires-invalid", setupPause(cc("max-age=3600"), hd("Expires", "0"), hd("Date", at(0))), cached),
		two("required", "freshness-max-age-0-expires", setupPause(hd("Expires", at(10000)), cc("max-age=0"), hd("Date", at(0))), notCached),
		two("optimal", "freshness-max-age-extension", setupPause(cc("foobar, max-age=3600")), cached),
		two("optimal", "freshness-max-age-case-insenstive", setupPause(cc("MaX-aGe=3600")), cached),
		two("required", "freshness-s-maxage-shared", setupPause(cc("s-maxage=3600")), cached),
		two("required", "freshness-max-age-s-maxage-shared-longer", setupPause(cc("max-age=3600, s-maxage=1")), notCached),
		two("required", "freshness-max-age-s-maxage-shared-longer-reversed", setupPause(cc("s-maxage=1, max-age=3600")), notCached),
		two("required", "freshness-max-age-s-maxage-shared-longer-multiple", setupPause(cc("max-age=3600"), cc("s-maxage=1")), notCached),
		two("optimal", "freshness-max-age-s-maxage-shared-shorter", setupPause(cc("max-age=1, s-maxage=3600")), cached),
	})
}

// TestSuiteAgeParse mirrors tests/age-parse.mjs. Its cases are all of kind
// "check": the RFC does not say how a broken Age is read. This cache
// ignores an Age that is not one non-negative integer, and reads the first
// line of a repeated one, which is what the suite records as reuse.
func TestSuiteAgeParse(t *testing.T) {
	age := func(id string, vals ...string) suiteCase {
		first := hs(hd("Date", at(0)), cc("max-age=3600"))
		for _, v := range vals {
			first = append(first, hd("Age", v))
		}
		return suiteCase{id: id, kind: "check", steps: []step{setupPause(first...), expectStep(cached)}}
	}
	runSuite(t, []suiteCase{
		age("age-parse-nonnumeric", "abc"),
		age("age-parse-negative", "-7200"),
		age("age-parse-float", "7200.0"),
		age("age-parse-suffix", "7200,0"),
		age("age-parse-prefix", "0,7200"),
		age("age-parse-prefix-twoline", "0", "7200"),
		age("age-parse-dup-0", "0, 0"),
		age("age-parse-dup-0-twoline", "0", "0"),
	})
}

// TestSuiteCCRequest mirrors tests/cc-request.mjs (all "check": request
// directives are honoured).
func TestSuiteCCRequest(t *testing.T) {
	req := func(v string) []kv { return hs(cc(v)) }
	withFresh := func(s step) step { s.respHdr = fresh(); return s }
	runSuite(t, []suiteCase{
		{id: "ccreq-ma0", kind: "check", steps: []step{withFresh(step{pause: true}), {reqHdr: req("max-age=0"), expect: notCached}}},
		{id: "ccreq-ma1", kind: "check", steps: []step{withFresh(step{pause: true}), {reqHdr: req("max-age=1"), expect: notCached}}},
		{id: "ccreq-magreaterage", kind: "check", steps: []step{setupNow(cc("max-age=3600"), hd("Age", "1800")), {reqHdr: req("max-age=600"), expect: notCached}}},
		{id: "ccreq-max-stale", kind: "check", steps: []step{setupPause(cc("max-age=1")), {reqHdr: req("max-stale=1000"), expect: cached}}},
		{id: "ccreq-max-stale-age", kind: "check", steps: []step{setupNow(cc("max-age=1500"), hd("Age", "2000")), {reqHdr: req("max-stale=1000"), expect: cached}}},
		{id: "ccreq-min-fresh", kind: "check", steps: []step{setupNow(cc("max-age=1500")), {reqHdr: req("min-fresh=2000"), expect: notCached}}},
		{id: "ccreq-min-fresh-age", kind: "check", steps: []step{setupNow(cc("max-age=1500"), hd("Age", "1000")), {reqHdr: req("min-fresh=1000"), expect: notCached}}},
		{id: "ccreq-no-cache", kind: "check", steps: []step{setupNow(cc("max-age=3600")), {reqHdr: req("no-cache"), expect: notCached}}},
		{id: "ccreq-no-cache-lm", kind: "check", steps: []step{setupNow(cc("max-age=3600"), hd("Last-Modified", at(-10000)), hd("Date", at(0))), {reqHdr: req("no-cache"), expect: lmValidated}}},
		{id: "ccreq-no-cache-etag", kind: "check", steps: []step{setupNow(cc("max-age=3600"), hd("ETag", `"abc"`)), {reqHdr: req("no-cache"), expect: etagValidated}}},
		{id: "ccreq-no-store", kind: "check", steps: []step{setupNow(cc("max-age=3600")), {reqHdr: req("no-store"), expect: notCached}}},
		{id: "ccreq-oic", kind: "check", steps: []step{{reqHdr: req("only-if-cached"), expectStatus: 504, noBodyCheck: true}}},
	})
}

// TestSuiteCCResponse mirrors the shared-cache cases of
// tests/cc-response.mjs.
func TestSuiteCCResponse(t *testing.T) {
	noStoreOld := func(id, second string) suiteCase {
		return suiteCase{id: id, kind: "check", steps: []step{
			setupPause(cc("max-age=10000"), hd("Expires", at(10000)), hd("Date", at(0)), hd("A", "1")),
			setupPause(cc(second), hd("Date", at(0)), hd("A", "2")),
			{expect: cached, expectHdr: hs(hd("A", "1"))},
		}}
	}
	runSuite(t, []suiteCase{
		{id: "cc-resp-private-shared", kind: "required", steps: []step{setupNow(cc("private, max-age=3600")), expectStep(notCached)}},
		{id: "cc-resp-no-store", kind: "required", steps: []step{setupNow(cc("no-store")), expectStep(notCached)}},
		{id: "cc-resp-no-store-case-insensitive", kind: "required", steps: []step{setupNow(cc("No-StOrE")), expectStep(notCached)}},
		{id: "cc-resp-no-store-fresh", kind: "required", steps: []step{setupNow(cc("max-age=10000, no-store"), hd("Expires", at(10000)), hd("Date", at(0))), expectStep(notCached)}},
		noStoreOld("cc-resp-no-store-old-new", "no-store"),
		noStoreOld("cc-resp-no-store-old-max-age", "no-store, max-age=0"),
		{id: "cc-resp-no-cache", kind: "required", steps: []step{setupNow(cc("max-age=10000, no-cache"), hd("Expires", at(10000)), hd("Date", at(0))), expectStep(notCached)}},
		{id: "cc-resp-no-cache-case-insensitive", kind: "required", steps: []step{setupNow(cc("max-age=10000, No-CaChE"), hd("Expires", at(10000)), hd("Date", at(0))), expectStep(notCached)}},
		{id: "cc-resp-no-cache-revalidate", kind: "optimal", steps: []step{setupNow(cc("no-cache"), hd("ETag", `"abcd"`)), expectStep(etagValidated)}},
		{id: "cc-resp-no-cache-revalidate-fresh", kind: "optimal", steps: []step{setupNow(cc("max-age=10000, no-cache"), hd("Expires", at(10000)), hd("Date", at(0)), hd("ETag", `"abcd"`)), expectStep(etagValidated)}},
		{id: "headers-omit-headers-listed-in-Cache-Control-no-cache-single", kind: "check", steps: []step{
			setupPause(cc(`no-cache="a"`), hd("a", "1"), hd("b", "2"), cc("max-age=3600"), hd("Date", at(0))),
			{expect: cached, expectHdr: hs(hd("b", "2")), expectMissing: []string{"a"}},
		}},
		{id: "headers-omit-headers-listed-in-Cache-Control-no-cache", kind: "check", steps: []step{
			setupPause(cc(`no-cache="a, b"`), hd("a", "1"), hd("b", "2"), hd("c", "3"), cc("max-age=3600"), hd("Date", at(0))),
			{expect: cached, expectHdr: hs(hd("c", "3")), expectMissing: []string{"a", "b"}},
		}},
		{id: "cc-resp-must-revalidate-fresh", kind: "optimal", steps: []step{setupNow(cc("max-age=10000, must-revalidate"), hd("ETag", `"abcd"`)), expectStep(cached)}},
		{id: "cc-resp-must-revalidate-stale", kind: "required", steps: []step{
			setupNow(cc("max-age=2, must-revalidate"), hd("ETag", `"abcd"`)),
			{expect: cached, pause: true, respHdr: hs(cc("max-age=2, must-revalidate"), hd("ETag", `"abcd"`))},
			expectStep(etagValidated),
		}},
	})
}
