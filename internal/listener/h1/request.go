package h1

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// exchange is everything one request needs, in one allocation: the
// *http.Request handed to the handler, its URL, its context, the response
// writer and the body reader. Nothing in it is reused for another request,
// so a handler that keeps a reference (wrongly or not) sees stale state,
// never another request's.
type exchange struct {
	req  http.Request
	url  url.URL
	ctx  reqCtx
	w    response
	body body
	te   [1]string
	vals [8]string // backing array of the header values when they fit
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
	r.Header = buildHeader(ph, ex.vals[:])
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
	ex.ctx.parent = c.baseCtx
	// WithContext is inlined and its copy does not escape: no allocation
	// (TestBuildRequestAllocs guards this).
	*r = *r.WithContext(&ex.ctx)
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

// buildHeader makes the request's header map; values share vals when
// they fit, else one allocated backing array.
func buildHeader(ph *parsedHead, vals []string) http.Header {
	n := len(ph.fields)
	h := make(http.Header, n)
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
		if f.key != "Trailer" {
			continue
		}
		for v := f.val; v != ""; {
			var k string
			k, v, _ = strings.Cut(v, ",")
			if k = trimOWS(k); k != "" {
				if t == nil {
					t = make(http.Header)
				}
				t[http.CanonicalHeaderKey(k)] = nil
			}
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
	*u = *p
	if authority {
		u.Scheme = ""
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

// reqCtx is a request's context: cancelled when the handler returns or
// the client goes away. It lives inside the exchange (no allocation); Done
// makes its channel on first use. Contexts derived from it register
// through AfterFunc, which the context package uses for parents that are
// not its own types, so no goroutine is started for them.
type reqCtx struct {
	parent context.Context // per connection; never cancelled
	mu     sync.Mutex
	done   atomic.Value // chan struct{}
	err    error
	afters []afterEntry
	nextID uint64
}

type afterEntry struct {
	id uint64
	f  func()
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (c *reqCtx) Deadline() (time.Time, bool) { return c.parent.Deadline() }
func (c *reqCtx) Value(key any) any           { return c.parent.Value(key) }
func (c *reqCtx) String() string              { return "h1.requestContext" }

func (c *reqCtx) Done() <-chan struct{} {
	if d := c.done.Load(); d != nil {
		return d.(chan struct{})
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.done.Load()
	if d == nil {
		d = make(chan struct{})
		c.done.Store(d)
	}
	return d.(chan struct{})
}

func (c *reqCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// cancel cancels the context (once) and runs the registered functions.
func (c *reqCtx) cancel() {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = context.Canceled
	if d, _ := c.done.Load().(chan struct{}); d != nil {
		close(d)
	} else {
		c.done.Store(closedChan)
	}
	afters := c.afters
	c.afters = nil
	c.mu.Unlock()
	for _, a := range afters {
		a.f()
	}
}

// AfterFunc arranges for f to run when the context is cancelled; see the
// context package's afterFuncer.
func (c *reqCtx) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	c.nextID++
	id := c.nextID
	c.afters = append(c.afters, afterEntry{id, f})
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, a := range c.afters {
			if a.id == id {
				c.afters = slices.Delete(c.afters, i, i+1)
				return true
			}
		}
		return false
	}
}
