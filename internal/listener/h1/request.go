package h1

import (
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/portico-proxy/portico/internal/listener/httpreq"
)

// exchange is everything one request needs but its context, in one
// object: the *http.Request handed to the handler, its URL, the response
// writer and the body reader. Exchanges are pooled, with their two header maps
// cleared, but one goes back only when nothing can still be using it: the
// request had no body, the handler returned, the connection was not
// hijacked (see run). What can outlive a handler, a cache's background
// refresh or a transport's stream, holds a clone of the request and its
// context; the context is therefore allocated per request and never
// reused, so a goroutine that keeps it sees this request cancelled, never
// another request's state.
type exchange struct {
	req    http.Request
	url    url.URL
	ctx    *httpreq.Context
	w      response
	body   body
	header http.Header // the request's map; r.Header may be replaced by a handler
	te     [1]string
	vals   [8]string // backing array of the header values when they fit
}

// maxKeptFields bounds the header maps an exchange keeps for the next
// request: clear keeps a map's capacity, and ranging over a map costs its
// capacity, not its length.
const maxKeptFields = 16

var exchanges = sync.Pool{New: func() any { return new(exchange) }}

func getExchange() *exchange { return exchanges.Get().(*exchange) }

// putExchange gives ex back for another request; the caller must know
// that nothing else uses it any more.
func putExchange(ex *exchange) {
	reqHeader, respHeader := keptMap(ex.header), keptMap(ex.w.header)
	*ex = exchange{header: reqHeader}
	ex.w.header = respHeader
	exchanges.Put(ex)
}

func keptMap(h http.Header) http.Header {
	if len(h) > maxKeptFields {
		return nil
	}
	clear(h)
	return h
}

// buildRequest fills ex.req from the parsed head. It returns a status and
// reason when the target does not parse.
func (c *conn) buildRequest(ex *exchange, ph *parsedHead) (int, string) {
	r := &ex.req
	r.Method = ph.method
	r.RequestURI = ph.target
	r.Proto, r.ProtoMajor, r.ProtoMinor = protoString(ph), 1, ph.minor
	if !parseTarget(ph.method, ph.target, &ex.url) {
		return http.StatusBadRequest, reasonTarget
	}
	r.URL = &ex.url
	r.Host = ph.host
	if ex.url.Host != "" {
		r.Host = ex.url.Host
	}
	ex.header = buildHeader(ex.header, ph, ex.vals[:])
	r.Header = ex.header
	r.RemoteAddr = c.remoteAddr
	r.TLS = c.tlsState
	r.Close = ph.connClose || ph.minor == 0 && !ph.keepAlive
	switch {
	case ph.chunked:
		r.ContentLength = -1
		ex.te[0] = "chunked"
		r.TransferEncoding = ex.te[:]
		r.Trailer = announcedTrailers(ph)
		r.Body = &ex.body
	case ph.contentLength > 0:
		r.ContentLength = ph.contentLength
		r.Body = &ex.body
	default:
		r.Body = http.NoBody
	}
	ex.ctx = new(httpreq.Context)
	ex.ctx.SetParent(c.baseCtx)
	// WithContext is inlined and its copy does not escape: no allocation
	// (TestBuildRequestAllocs guards this).
	*r = *r.WithContext(ex.ctx)
	return 0, ""
}

func protoString(ph *parsedHead) string {
	switch ph.minor {
	case 0:
		return "HTTP/1.0"
	case 1:
		return "HTTP/1.1"
	}
	return ph.proto
}

// buildHeader fills the request's header map, h (empty) or a new one when
// h is nil; values share vals when they fit, else one allocated backing
// array.
func buildHeader(h http.Header, ph *parsedHead, vals []string) http.Header {
	n := len(ph.fields)
	if h == nil {
		h = make(http.Header, n)
	}
	if n > len(vals) {
		vals = make([]string, n)
	}
	for i, f := range ph.fields {
		if f.key == "Trailer" && ph.chunked {
			continue // moved to Request.Trailer, as net/http
		}
		if prev, ok := h[f.key]; ok {
			h[f.key] = append(prev, f.val)
			continue
		}
		vals[i] = f.val
		h[f.key] = vals[i : i+1 : i+1]
	}
	return h
}

// announcedTrailers returns the names a chunked request announces, each
// with a nil value, as net/http does.
func announcedTrailers(ph *parsedHead) http.Header {
	if ph.trailers == 0 {
		return nil
	}
	var t http.Header
	for _, f := range ph.fields {
		if f.key == "Trailer" {
			t = httpreq.AddTrailerNames(t, f.val)
		}
	}
	return t
}

// parseTarget fills u from a request-target that checkTarget accepted.
func parseTarget(method, target string, u *url.URL) bool {
	if target[0] == '/' && fastOriginForm(target, u) {
		return true
	}
	if target == "*" {
		u.Path = "*"
		return true
	}
	raw, authority := target, method == http.MethodConnect && target[0] != '/'
	if authority {
		raw = "http://" + target
	}
	p, err := url.ParseRequestURI(raw)
	if err != nil {
		return false
	}
	if target[0] != '/' && (p.Host == "" || !allClass(p.Host, cHost)) {
		// The authority replaces Host (RFC 9112 3.2.2): it must be there
		// (RFC 9110 4.2.1) and valid as a Host field must be.
		return false
	}
	*u = *p
	if authority {
		u.Scheme = ""
	} else if u.Path == "" {
		u.Path = "/" // http://host names the path "/" (RFC 9112 3.2.2, RFC 9110 4.2.3)
	}
	return true
}

// fastOriginForm parses an origin-form target whose path needs no
// unescaping, giving what url.ParseRequestURI gives without allocating.
func fastOriginForm(target string, u *url.URL) bool {
	path, query, hasQuery := strings.Cut(target, "?")
	if !allClass(path, cPath) {
		return false
	}
	u.Path, u.RawQuery = path, query
	u.ForceQuery = hasQuery && query == ""
	return true
}
