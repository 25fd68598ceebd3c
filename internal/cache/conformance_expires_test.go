package cache_test

import (
	"strconv"
	"testing"
)

// TestSuiteExpires mirrors tests/expires-freshness.mjs and
// tests/expires-parse.mjs. An Expires that is not a valid HTTP date means
// "already expired" (RFC 9111 section 5.3), so the parse cases, which the
// suite records as "check", are held to not_cached here.
func TestSuiteExpires(t *testing.T) {
	exp := func(kind, id, expires string, pause bool, typ string) suiteCase {
		first := step{respHdr: hs(hd("Expires", expires), hd("Date", at(0))), pause: pause}
		return suiteCase{id: id, kind: kind, steps: []step{first, expectStep(typ)}}
	}
	runSuite(t, []suiteCase{
		exp("optimal", "freshness-expires-future", at(30*24*3600), true, cached),
		exp("required", "freshness-expires-past", at(-30*24*3600), true, notCached),
		exp("required", "freshness-expires-present", at(0), false, notCached),
		{id: "freshness-expires-old-date", kind: "required", steps: []step{setupPause(hd("Expires", at(300)), hd("Date", at(400))), expectStep(notCached)}},
		exp("optimal", "freshness-expires-wrong-case-weekday", "THU, 18 Aug 2050 02:01:18 GMT", true, cached),
		exp("optimal", "freshness-expires-wrong-case-month", "Thu, 18 AUG 2050 02:01:18 GMT", true, cached),
		exp("optimal", "freshness-expires-wrong-case-tz", "Thu, 18 Aug 2050 02:01:18 gMT", true, cached),
		exp("required", "freshness-expires-invalid", "0", true, notCached),
		exp("check", "freshness-expires-invalid-utc", "Thu, 18 Aug 2050 02:01:18 UTC", true, notCached),
		exp("check", "freshness-expires-invalid-2-digit-year", "Thu, 18 Aug 50 02:01:18 GMT", true, notCached),
		exp("check", "freshness-expires-invalid-no-comma", "Thu 18 Aug 2050 02:01:18 GMT", true, notCached),
		exp("check", "freshness-expires-invalid-multiple-spaces", "Thu, 18  Aug  2050 02:01:18 GMT", false, notCached),
		exp("check", "freshness-expires-invalid-date-dashes", "Thu, 18-Aug-2050 02:01:18 GMT", false, notCached),
		exp("check", "freshness-expires-invalid-time-periods", "Thu, 18 Aug 2050 02.01.18 GMT", false, notCached),
		exp("check", "freshness-expires-invalid-1-digit-hour", "Thu, 18 Aug 2050 2:01:18 GMT", false, notCached),
		{id: "freshness-expires-invalid-date", kind: "optimal", steps: []step{setupNow(hd("Date", "foo"), hd("Expires", at(10))), expectStep(cached)}},
		{id: "freshness-expires-age-slow-date", kind: "required", steps: []step{setupNow(hd("Date", at(-10)), hd("Expires", at(10)), hd("Age", "25")), expectStep(notCached)}},
		{id: "freshness-expires-age-fast-date", kind: "required", steps: []step{setupNow(hd("Date", at(10)), hd("Expires", at(20)), hd("Age", "15")), expectStep(notCached)}},
	})
}

// TestSuiteHeuristic mirrors tests/heuristic-freshness.mjs: statuses
// cacheable by default are reused on Last-Modified alone, others are not.
func TestSuiteHeuristic(t *testing.T) {
	var cases []suiteCase
	for _, s := range []struct {
		reuse bool
		code  int
		extra []kv
	}{
		{true, 200, nil}, {false, 201, nil}, {false, 202, nil}, {true, 203, nil}, {true, 204, nil},
		{false, 403, nil}, {true, 404, nil}, {true, 405, nil}, {true, 410, nil}, {true, 414, nil},
		{true, 501, nil}, {false, 502, nil}, {false, 503, nil}, {false, 504, nil},
		{false, 599, nil}, {true, 599, hs(cc("public"))},
	} {
		body := "content-" + strconv.Itoa(s.code)
		if s.code == 204 {
			body = ""
		}
		kind, typ := "required", notCached
		if s.reuse {
			kind, typ = "optimal", cached
		}
		cases = append(cases, suiteCase{id: "heuristic-" + strconv.Itoa(s.code) + "-" + typ, kind: kind, steps: []step{
			{status: s.code, respHdr: append(hs(hd("Last-Modified", at(-24*3600)), hd("Date", at(0))), s.extra...), body: str(body)},
			{expect: typ, status: s.code, body: str(body)},
		}})
	}
	for _, delta := range []int{5, 10, 30, 60, 300, 600, 1200, 1800, 3600, 3600 * 12, 3600 * 24} {
		cases = append(cases, suiteCase{id: "heuristic-delta-" + strconv.Itoa(delta), kind: "check", steps: []step{
			setupNow(hd("Last-Modified", at(-delta)), hd("Date", at(0))), expectStep(cached),
		}})
	}
	runSuite(t, cases)
}
