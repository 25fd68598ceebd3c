package cache

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/portico-proxy/portico/internal/httpsyntax"
)

// miss fetches a response the cache does not have. Plain GET misses for
// one key are coalesced: the first request goes upstream and streams to
// its client while the response is stored; the others wait for it
// (bounded by coalesceWait) and are answered from the stored entry.
func (rt *Route) miss(w http.ResponseWriter, r *http.Request, url, key string, reqCC directives, pair statusPair) {
	if r.Method != http.MethodGet || len(r.Header["Range"]) > 0 || reqCC.flags != 0 {
		rt.fetchOne(w, r, url, key, reqCC, pair)
		return
	}
	c, leader := rt.c.flight.join(key)
	if leader {
		var e *Entry
		// finish runs even when the upstream aborts the stream (a panic),
		// so the waiting requests are released.
		defer func() { rt.c.flight.finish(key, c, e) }()
		e = rt.fetchOne(w, r, url, key, reqCC, pair)
		return
	}
	timer := time.NewTimer(coalesceWait)
	defer timer.Stop()
	select {
	case <-c.done:
		if c.e != nil && selects(c.e, key, r) {
			rt.c.counters.collapsed.Add(1)
			serveEntry(w, r, c.e, rt.c.now(), statusCollapsed)
			return
		}
	case <-timer.C:
	case <-r.Context().Done():
		return
	}
	rt.fetchOne(w, r, url, key, reqCC, pair)
}

// selects reports whether r would be answered by e, stored under the
// primary key key: directly, or as the variant its Vary names select.
func selects(e *Entry, key string, r *http.Request) bool {
	if len(e.Vary) == 0 {
		return e.Key == key
	}
	return e.Key == variantKey(key, e.Vary, r)
}

// fetchOne sends r upstream once, streams the answer to w and stores it
// when RFC 9111 section 3 allows. It returns the stored entry, or nil.
func (rt *Route) fetchOne(w http.ResponseWriter, r *http.Request, url, key string, reqCC directives, pair statusPair) *Entry {
	sc := storeCheck{r: r, reqCC: &reqCC, ttl: rt.defaultTTL, pair: pair}
	reqT := rt.c.now()
	f := newFetch(w, r, rt.maxObject, sc.decide)
	rt.forward(f, r, nil)
	if !sc.store || !f.complete() {
		return nil
	}
	return rt.store(r, url, key, f, &sc.cc, reqT, rt.c.now())
}

// storeCheck decides, when a fetched response's head arrives, whether it
// is stored (RFC 9111 section 3) and with which Cache-Status.
type storeCheck struct {
	r     *http.Request
	reqCC *directives
	ttl   time.Duration
	pair  statusPair
	cc    directives // the response's, once decided
	store bool
}

func (sc *storeCheck) decide(code int, h http.Header) (fetchMode, []string) {
	sc.cc = parseCacheControl(h)
	if sc.r.Method == http.MethodGet {
		sc.store, _ = storable(sc.r.Header, sc.reqCC, code, h, &sc.cc, sc.ttl)
	}
	if sc.store {
		return modeStore, sc.pair.stored
	}
	return modePass, sc.pair.pass
}

// forward sends r (conditional on e when e is not nil) upstream through f,
// which then holds the response; an upstream that wrote nothing is a 200.
func (rt *Route) forward(f *fetch, r *http.Request, e *Entry) {
	rt.next.ServeHTTP(f, upstreamRequest(r, e))
	if f.mode == modeUndecided {
		f.WriteHeader(http.StatusOK)
	}
}

// validate asks upstream whether e is still good (RFC 9111 section 4.3),
// with e's validators. A 304 refreshes e and answers from it; an error
// within stale-if-error answers with e as it is; anything else is a new
// response, handled as a miss. w is nil for a background refresh.
func (rt *Route) validate(w http.ResponseWriter, r *http.Request, url, key string, e *Entry, reqCC directives, pair statusPair) (fresh *Entry) {
	sc := storeCheck{r: r, reqCC: &reqCC, ttl: rt.defaultTTL, pair: pair}
	refreshed, mismatch, staleErr, staleWhy := false, false, 0, ""
	p := e.prep()
	hasValidators := p.etag != "" || p.hasLM
	reqT := rt.c.now()
	var f *fetch
	f = newFetch(w, r, rt.maxObject, func(code int, h http.Header) (fetchMode, []string) {
		switch {
		case code == http.StatusNotModified && hasValidators && !sameValidators304(e, h):
			// The 304 names another representation than the stored one
			// (RFC 9111 section 4.3.4): it must not update it, and the
			// client still needs a full response.
			mismatch = true
			return modeSwallow, nil
		case code == http.StatusNotModified && hasValidators,
			// A 200 to HEAD with the stored validators freshens the stored
			// GET response like a 304 (RFC 9111 section 4.3.5).
			r.Method == http.MethodHead && code == http.StatusOK && sameValidators(e, h):
			refreshed = true
			return modeSwallow, nil
		case code >= 500 && staleIfError(e, &reqCC, rt.c.now()):
			staleErr, staleWhy = code, "stale-if-error"
			return modeSwallow, nil
		case f.upstreamFailed && staleOnDisconnect(e, &reqCC):
			staleErr, staleWhy = code, "origin-unreachable"
			return modeSwallow, nil
		}
		return sc.decide(code, h)
	})
	rt.forward(f, r, e)
	switch {
	case mismatch:
		return rt.fetchOne(w, r, url, key, reqCC, pair)
	case refreshed:
		rt.c.counters.revalidated.Add(1)
		ne, stored := rt.refresh(r.Context(), e, f.hdr, reqT, rt.c.now())
		if w != nil {
			// A cookie set with the 304, and the fields its private="..."
			// or no-cache="..." name, are this client's, never stored.
			if sc := f.hdr["Set-Cookie"]; len(sc) > 0 {
				w.Header()["Set-Cookie"] = sc
			}
			p := ne.prep()
			for _, names := range [][]string{p.cc.privateFields, p.cc.noCacheFields} {
				for _, n := range names {
					if k := http.CanonicalHeaderKey(n); len(f.hdr[k]) > 0 {
						w.Header()[k] = f.hdr[k]
					}
				}
			}
			serveEntry(w, r, ne, rt.c.now(), statusRevalid)
		}
		if !stored {
			return nil
		}
		return ne
	case staleErr != 0:
		rt.c.counters.staleHits.Add(1)
		if w != nil {
			serveEntry(w, r, e, rt.c.now(), statusStaleError(staleErr, staleWhy))
		}
	case sc.store && f.complete():
		return rt.store(r, url, key, f, &sc.cc, reqT, rt.c.now())
	}
	return nil
}

// sameValidators is the test of RFC 9111 section 4.3.5 for a 200 to HEAD:
// every validator the response carries (ETag, Last-Modified) equals the
// stored one, and so does its Content-Length when it has one. A field the
// response leaves out is no mismatch; then the stored response is updated
// with the HEAD response's fields.
func sameValidators(e *Entry, h http.Header) bool {
	if et := h["Etag"]; len(et) > 0 && et[0] != e.prep().etag {
		return false
	}
	if lm := h["Last-Modified"]; len(lm) > 0 && lm[0] != e.Header.Get("Last-Modified") {
		return false
	}
	if cl := h["Content-Length"]; len(cl) > 0 && cl[0] != strconv.Itoa(len(e.Body)) {
		return false
	}
	return true
}

// sameValidators304 is the selection of RFC 9111 section 4.3.4: a 304
// with an ETag updates the stored response only when it is the stored
// one: a strong ETag the same strong ETag, a weak one the same opaque
// tag. A 304 without an ETag is taken for the one stored response; its
// Last-Modified, a weak validator, is not compared (the suite's update304
// cases expect a restamped one to update).
func sameValidators304(e *Entry, h http.Header) bool {
	p := e.prep()
	if et := h["Etag"]; len(et) > 0 {
		got, stored := strings.TrimSpace(et[0]), p.etag
		if !strings.HasPrefix(got, "W/") {
			return got == stored
		}
		return stored != "" && strings.TrimPrefix(got, "W/") == strings.TrimPrefix(stored, "W/")
	}
	return true
}

// validateShared is validate with coalescing: of concurrent plain GETs
// that find the same stale entry, one asks upstream and the others are
// answered from what it brings back, when that is fresh for them.
func (rt *Route) validateShared(w http.ResponseWriter, r *http.Request, url, key string, e *Entry, reqCC directives, pair statusPair) {
	if r.Method != http.MethodGet || len(r.Header["Range"]) > 0 || reqCC.flags != 0 {
		rt.validate(w, r, url, key, e, reqCC, pair)
		return
	}
	c, leader := rt.c.flight.join("\x01" + key)
	if leader {
		var fresh *Entry
		defer func() { rt.c.flight.finish("\x01"+key, c, fresh) }()
		fresh = rt.validate(w, r, url, key, e, reqCC, pair)
		return
	}
	timer := time.NewTimer(coalesceWait)
	defer timer.Stop()
	select {
	case <-c.done:
		if now := rt.c.now(); c.e != nil && selects(c.e, key, r) && decide(c.e, &reqCC, now) == useFresh {
			rt.c.counters.collapsed.Add(1)
			serveEntry(w, r, c.e, now, statusCollapsedStale)
			return
		}
	case <-timer.C:
	case <-r.Context().Done():
		return
	}
	rt.validate(w, r, url, key, e, reqCC, pair)
}

// refreshInBackground revalidates e once, off the request's goroutine, for
// stale-while-revalidate. A refresh already running for key is enough.
func (rt *Route) refreshInBackground(r *http.Request, url, key string, e *Entry) {
	if _, busy := rt.c.revalidating.LoadOrStore(key, struct{}{}); busy {
		return
	}
	bg := r.Clone(context.WithoutCancel(r.Context()))
	bg.Body, bg.ContentLength = http.NoBody, 0
	rt.c.bg.Add(1)
	go func() {
		defer rt.c.bg.Done()
		defer rt.c.revalidating.Delete(key)
		defer func() { _ = recover() }() // an aborted upstream body only loses the refresh
		// A refresh that finished between this request's lookup and the
		// claim above has stored a newer entry (it stores before it lets
		// go of the key): that one is not refreshed again.
		if cur, _ := rt.lookup(bg.Context(), key, bg); cur != nil && cur.ResponseTime.After(e.ResponseTime) {
			return
		}
		rt.validate(nil, bg, url, key, e, noDirectives, pairStale)
	}()
}

// upstreamRequest is r as the upstream sees it: the client's validators
// are taken off (the cache answers them itself from the full response),
// and with a stored entry e, e's validators are put on instead.
func upstreamRequest(r *http.Request, e *Entry) *http.Request {
	if r.Method != http.MethodGet && e == nil {
		return r
	}
	if e == nil && !clientHasValidators(r) {
		return r
	}
	up := new(http.Request)
	*up = *r
	up.Header = r.Header.Clone()
	delete(up.Header, "If-None-Match")
	delete(up.Header, "If-Modified-Since")
	if e == nil {
		return up
	}
	if etag := e.prep().etag; etag != "" {
		up.Header["If-None-Match"] = []string{etag}
	}
	if lm := e.Header.Get("Last-Modified"); lm != "" {
		up.Header["If-Modified-Since"] = []string{lm}
	}
	return up
}

// store makes an entry of a complete upstream response and writes it to
// every tier; with Vary, a marker goes under the primary key and the
// response under its variant key.
func (rt *Route) store(r *http.Request, url, key string, f *fetch, cc *directives, reqT, respT time.Time) *Entry {
	h := storedHeader(f.hdr, cc, respT)
	e := &Entry{Key: key, URL: url, Tags: tagsOf(h), Status: f.status, Header: h, Body: f.buf,
		RequestTime: reqT, ResponseTime: respT}
	rt.setTimes(e, cc)
	ctx := context.WithoutCancel(r.Context())
	if names := varyNames(h); len(names) > 0 {
		e.Key, e.Vary = variantKey(key, names, r), names
		rt.c.put(ctx, &Entry{Key: key, URL: url, Marker: true, Vary: names, Header: http.Header{},
			ResponseTime: respT, Expires: e.Expires})
	}
	e.prep()
	rt.c.put(ctx, e)
	rt.c.counters.stored.Add(1)
	return e
}

// setTimes fills age, lifetime and expiry from e's header and times.
func (rt *Route) setTimes(e *Entry, cc *directives) {
	e.InitialAge = initialAge(e.Header, e.RequestTime, e.ResponseTime)
	e.Lifetime = freshnessLifetime(e.Header, cc, e.Status, rt.defaultTTL)
	keep := max(secs(max(cc.swr, cc.sie, 0)), staleKeep)
	e.Expires = e.ResponseTime.Add(e.Lifetime - e.InitialAge + keep)
	delete(e.Header, "Age")
}

// refresh applies a 304's header fields to a copy of e (RFC 9111 section
// 3.2) and stores it, unless the updated Cache-Control now says private or
// no-store: then the copy only answers the request that brought the 304.
// Fields named by private="..." or no-cache="..." are not kept.
func (rt *Route) refresh(ctx context.Context, e *Entry, h304 http.Header, reqT, respT time.Time) (ne *Entry, stored bool) {
	ne = &Entry{Key: e.Key, URL: e.URL, Vary: e.Vary, Status: e.Status, Body: e.Body,
		Header: e.Header.Clone(), RequestTime: reqT, ResponseTime: respT}
	for k, v := range h304 {
		// An empty value is the upstream proxy's way of keeping net/http
		// from inventing a Content-Type; it says nothing about the entry.
		// Content-Encoding describes the stored bytes, which a 304 does
		// not change: an origin coding on the fly may name the coding it
		// would have used for this client (RFC 9111 section 3.2 lets a
		// cache keep such a field for the integrity of its entry).
		if !updatable(k) || len(v) == 0 || k == "Set-Cookie" || k == "Content-Encoding" {
			continue
		}
		ne.Header[k] = v
	}
	if _, ok := h304["Date"]; !ok {
		ne.Header["Date"] = []string{respT.UTC().Format(http.TimeFormat)}
	}
	if _, ok := h304["Age"]; !ok {
		delete(ne.Header, "Age")
	}
	cc := parseCacheControl(ne.Header)
	dropNamedFields(ne.Header, &cc)
	ne.Tags = tagsOf(ne.Header)
	rt.setTimes(ne, &cc)
	ne.prep()
	if cc.has(ccPrivate | ccNoStore) {
		return ne, false
	}
	rt.c.put(context.WithoutCancel(ctx), ne)
	return ne, true
}

// updatable lists the fields a 304 may not replace: framing, and the ones
// that describe this hop only.
func updatable(k string) bool {
	switch k {
	case "Content-Length", "Content-Range", "Transfer-Encoding", "Connection", "Keep-Alive",
		"Te", "Trailer", "Upgrade", "Proxy-Authenticate", "Proxy-Connection", "Cache-Status":
		return false
	}
	return true
}

// storedHeader is what is kept of a response head: no hop-by-hop fields,
// no Set-Cookie, none of the fields private="..." names, and a Date.
func storedHeader(src http.Header, cc *directives, respT time.Time) http.Header {
	h := make(http.Header, len(src)+1)
	for k, v := range src {
		if !updatable(k) && k != "Content-Length" || k == "Set-Cookie" {
			continue
		}
		h[k] = append([]string(nil), v...)
	}
	dropNamedFields(h, cc)
	// A missing or unreadable Date is the time the response arrived
	// (RFC 9110 section 6.6.1), so Expires can still be read against it.
	if _, ok := httpsyntax.ParseDate(h.Get("Date")); !ok {
		h["Date"] = []string{respT.UTC().Format(http.TimeFormat)}
	}
	return h
}

// dropNamedFields removes the fields private="F" and no-cache="F" name:
// a shared cache must not reuse them, so the response is kept without.
func dropNamedFields(h http.Header, cc *directives) {
	for _, f := range cc.privateFields {
		delete(h, http.CanonicalHeaderKey(f))
	}
	for _, f := range cc.noCacheFields {
		delete(h, http.CanonicalHeaderKey(f))
	}
}

// tagsOf reads the purge tags: Surrogate-Key is space separated,
// Cache-Tag comma separated.
func tagsOf(h http.Header) []string {
	var tags []string
	for _, v := range h["Surrogate-Key"] {
		tags = append(tags, strings.Fields(v)...)
	}
	for _, v := range h["Cache-Tag"] {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
	}
	return tags
}
