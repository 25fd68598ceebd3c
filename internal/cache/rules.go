package cache

import (
	"net/http"
	"strings"
	"time"

	"github.com/portico-proxy/portico/internal/httpsyntax"
)

// This file holds the pure rules of RFC 9111: what may be stored, for how
// long it is fresh, and how old it is. They take parsed directives and
// headers and return plain values, so each rule has its own table test.

// heuristicallyCacheable lists the status codes cacheable by default
// (RFC 9110 section 15.1). 206 is left out: this cache stores whole
// responses only.
func heuristicallyCacheable(status int) bool {
	switch status {
	case 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// understoodStatus lists the final status codes whose semantics this cache
// implements (RFC 9111 section 3, "understands the response status code").
func understoodStatus(status int) bool {
	switch {
	case status == 206, status == 304:
		return false
	case status >= 200 && status < 600:
		return true
	}
	return false
}

// maxHeuristic bounds a lifetime computed from Last-Modified (RFC 9111
// section 4.2.2 suggests 10% of the time since modification; an old file
// must not stay fresh for months).
const maxHeuristic = 24 * time.Hour

// storable decides RFC 9111 section 3 for a response to a GET request,
// as a shared cache. It returns a reason when the answer is no, for
// Cache-Status detail.
func storable(req http.Header, reqCC *directives, status int, h http.Header, cc *directives, defaultTTL time.Duration) (bool, string) {
	switch {
	case !understoodStatus(status):
		return false, "status"
	case reqCC.has(ccNoStore) || cc.has(ccNoStore):
		return false, "no-store"
	case cc.has(ccPrivate):
		return false, "private"
	case hasToken(h["Vary"], "*"):
		return false, "vary-star"
	}
	explicit := cc.has(ccPublic) || cc.sMaxAge != unset
	if req.Get("Authorization") != "" && !explicit && !cc.has(ccMustRevalidate) {
		return false, "authorization"
	}
	// Set-Cookie carries one client's state: kept out of the shared cache
	// unless the origin explicitly marks the response as shared.
	if len(h["Set-Cookie"]) > 0 && !explicit {
		return false, "set-cookie"
	}
	if explicit || cc.maxAge != unset || len(h["Expires"]) > 0 || cc.has(ccNoCache) {
		return true, ""
	}
	if heuristicallyCacheable(status) {
		return true, ""
	}
	if defaultTTL > 0 && status == 200 {
		return true, ""
	}
	return false, "status"
}

// freshnessLifetime is RFC 9111 section 4.2.1 for a shared cache:
// s-maxage, then max-age, then Expires minus Date. When the origin gave
// none of these, defaultTTL (the route's default_ttl) applies if set, else
// the Last-Modified heuristic for statuses that allow it.
func freshnessLifetime(h http.Header, cc *directives, status int, defaultTTL time.Duration) time.Duration {
	switch {
	case cc.sMaxAge != unset:
		return time.Duration(cc.sMaxAge) * time.Second
	case cc.maxAge != unset:
		return time.Duration(cc.maxAge) * time.Second
	}
	if exp := h["Expires"]; len(exp) > 0 {
		// An invalid Expires, such as "0", means already expired; so does
		// more than one Expires line.
		t, ok := httpsyntax.ParseDate(exp[0])
		if !ok || len(exp) > 1 {
			return 0
		}
		date, ok := httpsyntax.ParseDate(h.Get("Date"))
		if !ok {
			return 0
		}
		return max(t.Sub(date), 0)
	}
	if defaultTTL > 0 {
		return defaultTTL
	}
	if !heuristicallyCacheable(status) && !cc.has(ccPublic) {
		return 0
	}
	lm, ok := httpsyntax.ParseDate(h.Get("Last-Modified"))
	if !ok {
		return 0
	}
	date, ok := httpsyntax.ParseDate(h.Get("Date"))
	if !ok || !date.After(lm) {
		return 0
	}
	return min(date.Sub(lm)/10, maxHeuristic)
}

// initialAge is corrected_initial_age of RFC 9111 section 4.2.3, from the
// response's Age and Date and the times the request was sent and the
// response received.
func initialAge(h http.Header, requestTime, responseTime time.Time) time.Duration {
	var apparent time.Duration
	if date, ok := httpsyntax.ParseDate(h.Get("Date")); ok {
		apparent = max(responseTime.Sub(date), 0)
	}
	var ageValue time.Duration
	if a := h["Age"]; len(a) > 0 {
		// An invalid Age is ignored; a huge one saturates.
		if s := strings.TrimSpace(a[0]); s != "" && allDigits(s) {
			ageValue = time.Duration(parseDelta(s)) * time.Second
		}
	}
	corrected := ageValue + max(responseTime.Sub(requestTime), 0)
	return max(apparent, corrected)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// currentAge is corrected_initial_age plus the time resident in the cache.
func (e *Entry) currentAge(now time.Time) time.Duration {
	return e.InitialAge + max(now.Sub(e.ResponseTime), 0)
}
