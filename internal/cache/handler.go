package cache

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/portico-proxy/portico/internal/httpsyntax"
)

// noDirectives is a request without Cache-Control.
var noDirectives = directives{maxAge: unset, sMaxAge: unset, maxStale: unset, minFresh: unset, swr: unset, sie: unset}

// staleKeep is how long an entry is kept past its freshness for
// revalidation and max-stale requests, when the origin allows no more.
const staleKeep = time.Hour

// statusPair is the Cache-Status of a forwarded request, stored or not.
type statusPair struct{ stored, pass []string }

var (
	pairMiss    = statusPair{statusMissStored, statusMiss}
	pairVary    = statusPair{statusVaryStored, statusVaryMiss}
	pairRequest = statusPair{statusReqStored, statusRequest}
	pairStale   = statusPair{statusStale, statusStalePass}
)

func (rt *Route) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case "PURGE":
		rt.servePurge(w, r)
		return
	case http.MethodOptions, http.MethodTrace, http.MethodConnect:
		w.Header()["Cache-Status"] = statusMethod
		rt.next.ServeHTTP(w, r)
		return
	default:
		rt.serveUnsafe(w, r)
		return
	}
	if rt.bypassed(r) {
		w.Header()["Cache-Status"] = statusBypass
		rt.c.counters.bypassed.Add(1)
		rt.next.ServeHTTP(w, r)
		return
	}
	reqCC := requestDirectives(r)
	if reqCC.has(ccNoStore) {
		// Nothing of this exchange may be stored; a stored answer is not
		// what the client asked for either (the suite's ccreq-no-store).
		url, key := rt.keys(r)
		rt.fetchOne(w, r, url, key, reqCC, pairRequest)
		return
	}
	if e := rt.fastHit(r); e != nil {
		if now := rt.c.now(); decide(e, &reqCC, now) == useFresh {
			rt.c.counters.hits.Add(1)
			serveEntry(w, r, e, now, statusHit)
			return
		}
	}
	ctx := r.Context()
	url, key := rt.keys(r)
	e, varyMiss := rt.lookup(ctx, key, r)
	if e == nil {
		if reqCC.has(ccOnlyIfCached) {
			onlyIfCached(w)
			return
		}
		pair := pairMiss
		if varyMiss {
			pair = pairVary
		}
		rt.c.counters.misses.Add(1)
		rt.miss(w, r, url, key, reqCC, pair)
		return
	}
	now := rt.c.now()
	switch decide(e, &reqCC, now) {
	case useFresh:
		rt.c.counters.hits.Add(1)
		serveEntry(w, r, e, now, statusHit)
		return
	case useStale:
		rt.c.counters.staleHits.Add(1)
		serveEntry(w, r, e, now, statusHitStale)
		return
	case useSWR:
		rt.c.counters.staleHits.Add(1)
		serveEntry(w, r, e, now, statusHitSWR)
		rt.refreshInBackground(r, url, key, e)
		return
	}
	if reqCC.has(ccOnlyIfCached) {
		onlyIfCached(w)
		return
	}
	pair := pairStale
	if reqCC.has(ccNoCache) {
		pair = pairRequest
	}
	rt.validateShared(w, r, url, key, e, reqCC, pair)
}

// requestDirectives reads the request's Cache-Control, or, without one,
// Pragma: no-cache (RFC 9111 section 5.4).
func requestDirectives(r *http.Request) directives {
	if len(r.Header["Cache-Control"]) > 0 {
		return parseCacheControl(r.Header)
	}
	d := noDirectives
	if hasToken(r.Header["Pragma"], "no-cache") {
		d.flags |= ccNoCache
	}
	return d
}

func onlyIfCached(w http.ResponseWriter) {
	w.Header()["Cache-Status"] = statusNoCached
	w.Header()["Content-Length"] = []string{"0"}
	w.WriteHeader(http.StatusGatewayTimeout)
}

// lookup finds the entry for key, following a Vary marker to the variant
// r selects. varyMiss says the URL is cached, but not this variant.
func (rt *Route) lookup(ctx context.Context, key string, r *http.Request) (e *Entry, varyMiss bool) {
	e = rt.c.get(ctx, key)
	if e == nil || !e.Marker {
		return e, false
	}
	if v := rt.c.get(ctx, variantKey(key, e.Vary, r)); v != nil {
		return v, false
	}
	return nil, true
}

// use is how a stored entry may answer a request.
type use uint8

const (
	useFresh    use = iota
	useStale        // stale, but the request allows it (max-stale)
	useSWR          // stale within stale-while-revalidate: serve, refresh
	useValidate     // ask upstream first
)

// decide applies RFC 9111 section 4 (reuse), 4.2.4 (serving stale) and
// the request directives of section 5.2.1.
func decide(e *Entry, reqCC *directives, now time.Time) use {
	p := e.prep()
	age := e.currentAge(now)
	if p.cc.has(ccNoCache) || reqCC.has(ccNoCache) {
		return useValidate
	}
	if reqCC.maxAge != unset && age > secs(reqCC.maxAge) {
		return useValidate
	}
	if age < p.lifetime {
		if reqCC.minFresh != unset && p.lifetime-age < secs(reqCC.minFresh) {
			return useValidate
		}
		return useFresh
	}
	// must-revalidate, proxy-revalidate and s-maxage (which implies
	// proxy-revalidate) forbid serving stale without validation.
	if p.cc.has(ccMustRevalidate|ccProxyRevalidate) || p.cc.sMaxAge != unset {
		return useValidate
	}
	staleness := age - p.lifetime
	if reqCC.has(ccMaxStaleAny) || reqCC.maxStale != unset && staleness <= secs(reqCC.maxStale) {
		return useStale
	}
	if p.cc.swr != unset && staleness <= secs(p.cc.swr) && !reqCC.has(ccNoCache) {
		return useSWR
	}
	return useValidate
}

// staleIfError reports whether stale-if-error (RFC 5861 section 4), from
// the response or the request, lets e answer for a failing upstream.
func staleIfError(e *Entry, reqCC *directives, now time.Time) bool {
	p := e.prep()
	staleness := e.currentAge(now) - p.lifetime
	return p.cc.sie != unset && staleness <= secs(p.cc.sie) ||
		reqCC.sie != unset && staleness <= secs(reqCC.sie)
}

// staleOnDisconnect is RFC 9111 section 4.2.4: a cache that cannot reach
// the origin (the proxy answered 502 or 504) may serve a stale entry,
// unless the response forbids serving it stale or the request insists
// on validation.
func staleOnDisconnect(e *Entry, reqCC *directives) bool {
	p := e.prep()
	return !p.cc.has(ccMustRevalidate|ccProxyRevalidate|ccNoCache) && p.cc.sMaxAge == unset &&
		!reqCC.has(ccNoCache)
}

func secs(n int64) time.Duration { return time.Duration(n) * time.Second }

// hasToken reports whether a comma separated header holds tok as one of
// its elements (case-insensitive).
func hasToken(lines []string, tok string) bool {
	for _, l := range lines {
		for l != "" {
			var el string
			el, l, _ = strings.Cut(l, ",")
			if httpsyntax.EqualFoldASCII(strings.TrimSpace(el), tok) {
				return true
			}
		}
	}
	return false
}
