package h2

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"

	"github.com/portico-proxy/portico/internal/httpsyntax"
	"github.com/portico-proxy/portico/internal/listener/httpreq"
)

// stream is one request and its response, in one allocation: the
// *http.Request handed to the handler, its URL, context, response writer
// and body reader. The fields under "guarded by c.mu" are shared with the
// connection's reader.
type stream struct {
	c       *conn
	id      uint32
	handler http.Handler // what run calls

	req  http.Request
	url  url.URL
	ctx  httpreq.Context
	w    response
	body body
	vals [8]string // backing array of the header values when they fit

	// guarded by c.mu
	cond          sync.Cond // body data, window, or close
	sendWindow    int32
	recvWindow    int32
	remoteDone    bool // END_STREAM received
	closed        bool // reset by either side, or the connection is gone
	waitingWindow bool
	timer         *time.Timer // wakes a wait that has a deadline
}

func newStream(c *conn, id uint32) *stream {
	st := &stream{c: c, id: id}
	st.cond.L = &c.mu
	st.sendWindow = c.peerWindow
	st.recvWindow = streamWindow
	st.body.st = st
	st.w.st = st
	return st
}

// run calls the handler and finishes the response.
func (st *stream) run(h http.Handler) {
	defer st.c.finishStream(st)
	if p := st.callHandler(h); p != nil {
		st.w.afterPanic(p.v)
		return
	}
	st.w.finish()
}

type panicValue struct{ v any }

func (st *stream) callHandler(h http.Handler) (p *panicValue) {
	defer func() {
		if v := recover(); v != nil {
			p = &panicValue{v}
		}
	}()
	h.ServeHTTP(&st.w, &st.req)
	return nil
}

// waitLocked waits on the stream's cond; with a deadline it reports
// false once the deadline has passed.
func (st *stream) waitLocked(deadline time.Time) bool {
	if deadline.IsZero() {
		st.cond.Wait()
		return true
	}
	d := time.Until(deadline)
	if d <= 0 {
		return false
	}
	if st.timer == nil {
		st.timer = time.AfterFunc(d, st.wake)
	} else {
		st.timer.Reset(d)
	}
	st.cond.Wait()
	st.timer.Stop()
	return time.Now().Before(deadline)
}

func (st *stream) wake() {
	st.c.mu.Lock()
	st.cond.Broadcast()
	st.c.mu.Unlock()
}

var (
	errMalformed = errors.New("h2: malformed request")
)

// buildRequest fills st.req from the request's HEADERS. It returns the
// handler to run (the server's, or one that answers an error status) or
// a stream error for a malformed request (RFC 9113 8.1.1).
func (st *stream) buildRequest(f *http2.MetaHeadersFrame) (http.Handler, error) {
	c := st.c
	malformed := http2.StreamError{StreamID: st.id, Code: http2.ErrCodeProtocol, Cause: errMalformed}
	var method, scheme, authority, path, protocol string
	for _, hf := range f.PseudoFields() {
		switch hf.Name {
		case ":method":
			method = hf.Value
		case ":scheme":
			scheme = hf.Value
		case ":authority":
			authority = hf.Value
		case ":path":
			path = hf.Value
		case ":protocol":
			protocol = hf.Value
		default: // :status
			return nil, malformed
		}
	}
	connect := method == http.MethodConnect
	switch {
	case !httpguts.ValidHeaderFieldName(method) || !httpguts.ValidHostHeader(authority):
		return nil, malformed
	case connect && protocol == "":
		// RFC 9113 8.5: authority only.
		if scheme != "" || path != "" || authority == "" {
			return nil, malformed
		}
	case protocol != "" && !connect:
		return nil, malformed
	case scheme == "" || path == "":
		return nil, malformed
	}

	r := &st.req
	r.Method = method
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/2.0", 2, 0
	r.RemoteAddr = c.remoteAddr
	r.TLS = c.tlsState
	if connect && protocol == "" {
		st.url.Host = authority
		r.RequestURI = authority
	} else {
		if !parsePath(path, &st.url) {
			return nil, malformed
		}
		r.RequestURI = path
	}
	r.URL = &st.url

	fields := f.RegularFields()
	h := make(http.Header, len(fields)+1)
	vals := st.vals[:]
	if len(fields) > len(vals) {
		vals = make([]string, len(fields))
	}
	var cookies []string
	contentLength := int64(-1)
	for i, hf := range fields {
		switch hf.Name {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			return nil, malformed // RFC 9113 8.2.2
		case "te":
			if hf.Value != "trailers" {
				return nil, malformed
			}
		case "cookie":
			cookies = append(cookies, hf.Value) // joined below, RFC 9113 8.2.3
			continue
		case "content-length":
			n, ok := httpsyntax.ParseDigits(hf.Value)
			if !ok || contentLength >= 0 && n != contentLength {
				return nil, malformed
			}
			contentLength = n
		}
		key := httpreq.CanonicalKey(hf.Name)
		if prev, ok := h[key]; ok {
			h[key] = append(prev, hf.Value)
			continue
		}
		vals[i] = hf.Value
		h[key] = vals[i : i+1 : i+1]
	}
	if len(cookies) > 0 {
		h["Cookie"] = []string{strings.Join(cookies, "; ")}
	}
	if protocol != "" {
		h[":protocol"] = []string{protocol} // read by the WebSocket proxy (RFC 8441)
	}
	r.Header = h
	r.Host = authority
	if hosts := h["Host"]; len(hosts) > 0 {
		// Host stands in for a missing :authority and is held to the same
		// rules; with both, they must name the same (RFC 9113 8.3.1).
		if len(hosts) > 1 || !httpguts.ValidHostHeader(hosts[0]) ||
			authority != "" && !strings.EqualFold(hosts[0], authority) {
			return nil, malformed
		}
		if r.Host == "" {
			r.Host = hosts[0]
		}
	}
	if ts := h["Trailer"]; len(ts) > 0 {
		for _, v := range ts {
			r.Trailer = httpreq.AddTrailerNames(r.Trailer, v)
		}
		delete(h, "Trailer")
	}
	if f.StreamEnded() {
		st.remoteDone = true
		if contentLength > 0 {
			return nil, malformed
		}
		r.ContentLength = 0
		r.Body = http.NoBody
	} else {
		r.ContentLength = contentLength
		st.body.declared = contentLength
		st.body.expect = strings.EqualFold(h.Get("Expect"), "100-continue")
		r.Body = &st.body
	}
	st.ctx.SetParent(c.baseCtx)
	*r = *r.WithContext(&st.ctx)

	switch {
	case f.Truncated || len(fields) > c.s.o.MaxHeaderCount:
		return statusHandler(http.StatusRequestHeaderFieldsTooLarge), nil
	case protocol != "" && protocol != "websocket":
		return statusHandler(http.StatusNotImplemented), nil
	}
	return c.s.h, nil
}

// parsePath fills u from :path: origin form, or "*" for OPTIONS.
func parsePath(path string, u *url.URL) bool {
	if path == "*" {
		u.Path = "*"
		return true
	}
	if path[0] != '/' {
		return false
	}
	p, q, hasQuery := strings.Cut(path, "?")
	if plainPath(p) && strings.IndexByte(q, '#') < 0 {
		u.Path, u.RawQuery = p, q
		u.ForceQuery = hasQuery && q == ""
		return true
	}
	parsed, err := url.ParseRequestURI(path)
	if err != nil {
		return false
	}
	*u = *parsed
	return true
}

// plainPath reports whether p needs no unescaping: then u.Path is p
// itself and no allocation is made.
func plainPath(p string) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c <= ' ' || c >= 0x7f || c == '%' || c == '#' || c == '?' {
			return false
		}
	}
	return true
}

func statusHandler(code int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = []string{"text/plain; charset=utf-8"}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, http.StatusText(code)+"\n")
	})
}

// takeTrailers handles a HEADERS frame on an open stream: the request's
// trailers, which must end it.
func (st *stream) takeTrailers(f *http2.MetaHeadersFrame) error {
	if st.remoteDone {
		return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeStreamClosed}
	}
	if !f.StreamEnded() || len(f.PseudoFields()) > 0 {
		return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeProtocol, Cause: errMalformed}
	}
	t := make(http.Header, len(f.Fields))
	for _, hf := range f.Fields {
		t.Add(httpreq.CanonicalKey(hf.Name), hf.Value)
	}
	st.body.trailer = t
	return st.body.receive(nil, true)
}
