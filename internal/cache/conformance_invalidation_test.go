package cache_test

import (
	"net/http"
	"testing"
)

// TestSuiteInvalidation mirrors tests/invalidation.mjs: a successful
// unsafe request invalidates its URL, and its Location and
// Content-Location on the same origin (RFC 9111 section 4.4).
func TestSuiteInvalidation(t *testing.T) {
	freshStep := func(s step) step { s.respHdr = fresh(); return s }
	location := func(s step) step {
		s.filename = "location_target"
		s.respHdr = fresh()
		return s
	}
	contentLocation := func(s step) step {
		s.filename = "content_location_target"
		s.respHdr = hs(cc("max-age=100000"), hd("Last-Modified", at(0)), hd("Date", at(0)))
		return s
	}
	lcl := func(method string) step {
		return step{method: method, reqBody: "abc", magicLoc: true,
			respHdr: hs(hd("Location", "location_target"), hd("Content-Location", "content_location_target"))}
	}
	var cases []suiteCase
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, "M-SEARCH"} {
		cases = append(cases,
			suiteCase{id: "invalidate-" + m, kind: "required", steps: []step{
				freshStep(step{}),
				{method: m, reqBody: "abc"},
				expectStep(notCached),
			}},
			suiteCase{id: "invalidate-" + m + "-failed", kind: "optimal", steps: []step{
				freshStep(step{}),
				{method: m, reqBody: "abc", status: 500},
				expectStep(cached),
			}},
			// The suite sends POST here whatever the method's name says.
			suiteCase{id: "invalidate-" + m + "-location", kind: "required", steps: []step{
				location(step{}),
				lcl(http.MethodPost),
				location(step{expect: notCached}),
			}},
			suiteCase{id: "invalidate-" + m + "-cl", kind: "required", steps: []step{
				contentLocation(step{}),
				lcl(m),
				contentLocation(step{expect: notCached}),
			}},
		)
	}
	runSuite(t, cases)
}
