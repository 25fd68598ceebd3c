package cache

import (
	"net/http"
	"strconv"
	"time"

	"github.com/portico-proxy/portico/internal/httpsyntax"
)

// serveEntry answers r from e: a 304 when r's validators match, a range
// when r asks for one, no body for HEAD. status is the Cache-Status value.
func serveEntry(w http.ResponseWriter, r *http.Request, e *Entry, now time.Time, status []string) {
	p := e.prep()
	h := w.Header()
	for _, l := range p.header {
		h[l.key] = l.vals
	}
	h["Age"] = ageHeader(e.currentAge(now))
	h["Cache-Status"] = status
	if notModified(r, e, p) {
		delete(h, "Content-Type")
		delete(h, "Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if e.Status == http.StatusOK && len(r.Header["Range"]) > 0 && httpsyntax.IfRangeHolds(r.Header.Get("If-Range"), p.etag, p.lastModified) {
		serveRange(w, r, e)
		return
	}
	h["Content-Length"] = p.contentLength
	w.WriteHeader(e.Status)
	if r.Method != http.MethodHead && len(e.Body) > 0 {
		_, _ = w.Write(e.Body)
	}
}

// notModified evaluates If-None-Match, or else If-Modified-Since, against
// the stored validators (RFC 9110 sections 13.1.2, 13.1.3 and 13.2.2).
func notModified(r *http.Request, e *Entry, p *prepared) bool {
	if e.Status != http.StatusOK {
		return false
	}
	if inm := r.Header["If-None-Match"]; len(inm) > 0 {
		return p.etag != "" && httpsyntax.MatchETags(inm, p.etag, false)
	}
	ims := r.Header.Get("If-Modified-Since")
	if ims == "" {
		return false
	}
	t, ok := httpsyntax.ParseDate(ims)
	if !ok {
		return false
	}
	lm := p.lastModified
	if !p.hasLM {
		// Without Last-Modified, the Date the response was generated at is
		// the best known modification time (RFC 9110 section 13.1.3).
		d, ok := httpsyntax.ParseDate(e.Header.Get("Date"))
		if !ok {
			return false
		}
		lm = d
	}
	return !lm.After(t)
}

// serveRange answers a single byte range from the stored body. Several
// ranges or a malformed header get the whole body, which RFC 9110 section
// 14.2 allows.
func serveRange(w http.ResponseWriter, r *http.Request, e *Entry) {
	h := w.Header()
	size := int64(len(e.Body))
	start, end, ok := parseRange(r.Header.Get("Range"), size)
	switch {
	case ok && start < 0:
		h["Content-Range"] = []string{"bytes */" + strconv.FormatInt(size, 10)}
		h["Content-Length"] = []string{"0"}
		delete(h, "Content-Type")
		w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
		return
	case !ok:
		h["Content-Length"] = e.prep().contentLength
		w.WriteHeader(e.Status)
		if r.Method != http.MethodHead {
			_, _ = w.Write(e.Body)
		}
		return
	}
	h["Content-Range"] = []string{"bytes " + strconv.FormatInt(start, 10) + "-" + strconv.FormatInt(end, 10) + "/" + strconv.FormatInt(size, 10)}
	h["Content-Length"] = []string{strconv.FormatInt(end-start+1, 10)}
	w.WriteHeader(http.StatusPartialContent)
	if r.Method != http.MethodHead {
		_, _ = w.Write(e.Body[start : end+1])
	}
}

// parseRange reads a Range field against size for a single range. ok
// with start -1 means unsatisfiable; !ok means "ignore the header" (also
// for several ranges: the whole body is sent, as RFC 9110 section 14.2
// allows).
func parseRange(s string, size int64) (start, end int64, ok bool) {
	rs, ok := httpsyntax.ParseRange(s, size)
	switch {
	case !ok || len(rs) > 1:
		return 0, 0, false
	case len(rs) == 0:
		return -1, 0, true
	}
	return rs[0].Start, rs[0].Start + rs[0].Length - 1, true
}
