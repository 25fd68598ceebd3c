package cache_test

import "testing"

// TestSuiteConditionalLM mirrors tests/conditional-lm.mjs.
func TestSuiteConditionalLM(t *testing.T) {
	ims := func(n int) []kv { return hs(hd("If-Modified-Since", at(n))) }
	runSuite(t, []suiteCase{
		{id: "conditional-lm-fresh", kind: "optimal", steps: []step{
			setupPause(cc("max-age=100000"), hd("Last-Modified", at(-3000)), hd("Date", at(0))),
			{reqHdr: ims(-3000), magicIMS: true, expect: cached, expectStatus: 304},
		}},
		{id: "conditional-lm-fresh-earlier", kind: "optimal", steps: []step{
			setupPause(cc("max-age=100000"), hd("Last-Modified", at(-3000)), hd("Date", at(0))),
			{reqHdr: ims(-2000), magicIMS: true, expect: cached, expectStatus: 304},
		}},
		{id: "conditional-lm-stale", kind: "optimal", steps: []step{
			setupPause(cc("max-age=2"), hd("Last-Modified", at(-3000)), hd("Date", at(0))),
			{reqHdr: ims(-3000), magicIMS: true, expect: lmValidated, expectStatus: 304},
		}},
		// conditional-lm-fresh-no-lm (optimal) is not mirrored: it asks for
		// a 304 to an If-Modified-Since older than the stored response's
		// Date, which RFC 9110 section 13.1.3 answers with the full
		// response. See docs/cache.md, Conformance.
		{id: "conditional-lm-fresh-no-lm-differs", kind: "check", steps: []step{
			setupPause(cc("max-age=10000"), hd("Date", at(0))),
			{reqHdr: ims(-3000), magicIMS: true, expect: cached, expectStatus: 200},
		}},
		{id: "conditional-lm-fresh-rfc850", kind: "optimal", steps: []step{
			setupPause(cc("max-age=10000"), hd("Last-Modified", at(-3000)), hd("Date", at(0))),
			{reqHdr: ims(-3000), magicIMS: true, rfc850IMS: true, expect: cached, expectStatus: 304},
		}},
	})
}

// TestSuitePartial mirrors the cases of tests/partial.mjs this cache
// supports: ranges cut from a stored complete response. Storing 206
// responses (the other cases, all "optimal") is not supported.
func TestSuitePartial(t *testing.T) {
	rng := func(id, body, r, want string) suiteCase {
		return suiteCase{id: id, kind: "optimal", steps: []step{
			{respHdr: hs(cc("max-age=3600")), body: str(body)},
			{reqHdr: hs(hd("Range", r)), expect: cached, expectStatus: 206, expectBody: str(want)},
		}}
	}
	runSuite(t, []suiteCase{
		rng("partial-store-complete-reuse-partial", "01234567890", "bytes=0-1", "01"),
		rng("partial-store-complete-reuse-partial-no-last", "01234567890", "bytes=1-", "1234567890"),
		rng("partial-store-complete-reuse-partial-suffix", "0123456789A", "bytes=-1", "A"),
	})
}

// TestSuitePragma mirrors tests/pragma.mjs (all "check"): Pragma is read
// only as a request's no-cache, and only without Cache-Control (the
// suite's client always sends one).
func TestSuitePragma(t *testing.T) {
	runSuite(t, []suiteCase{
		{id: "pragma-request-no-cache", kind: "check", steps: []step{setupNow(cc("max-age=3600")), {reqHdr: hs(hd("Pragma", "no-cache")), expect: cached}}},
		{id: "pragma-request-extension", kind: "check", steps: []step{setupNow(cc("max-age=3600")), {reqHdr: hs(hd("Pragma", "unrecognised-extension")), expect: cached}}},
		{id: "pragma-response-no-cache", kind: "check", steps: []step{setupNow(cc("max-age=3600"), hd("Pragma", "no-cache")), expectStep(cached)}},
		{id: "pragma-response-no-cache-heuristic", kind: "check", steps: []step{setupNow(hd("Last-Modified", at(-10000)), hd("Pragma", "no-cache")), expectStep(cached)}},
		{id: "pragma-response-extension", kind: "check", steps: []step{setupNow(cc("max-age=3600"), hd("Pragma", "unrecognised-extension")), expectStep(cached)}},
	})
}
