package cache

import (
	"io"
	"net/http"
	"strconv"

	"github.com/portico-proxy/portico/internal/httpsyntax"
)

// fetchMode is what a fetch does with the upstream response, decided when
// its head arrives.
type fetchMode uint8

const (
	modeUndecided fetchMode = iota
	modePass                // to the client, nothing kept
	modeStore               // to the client and kept for the store
	modeKeep                // kept only: the client got a 304 already
	modeSwallow             // neither: the caller answers from an entry
)

// fetch is the ResponseWriter the next handler writes an upstream response
// into. It holds the head back until decide has seen it, then streams the
// body to the client while keeping a copy up to max bytes: a large body is
// never held whole, and one over max simply stops being kept.
type fetch struct {
	w       http.ResponseWriter // the client; nil for a background refresh
	r       *http.Request       // the client's request, for its validators
	hdr     http.Header
	status  int
	mode    fetchMode
	decide  func(status int, h http.Header) (fetchMode, []string)
	buf     []byte
	max     int64
	tooBig  bool
	failed  bool // the client went away: what was kept may be short
	written int64
	// upstreamFailed is set when the answer is the proxy's own error page
	// for an origin it could not reach (see UpstreamFailed): only then may
	// a stale entry stand in (RFC 9111 section 4.2.4). An origin that
	// answers 502 itself is reachable, and its answer is passed on.
	upstreamFailed bool
}

func newFetch(w http.ResponseWriter, r *http.Request, max int64, decide func(int, http.Header) (fetchMode, []string)) *fetch {
	return &fetch{w: w, r: r, hdr: make(http.Header), max: max, decide: decide}
}

func (f *fetch) Header() http.Header { return f.hdr }

// UpstreamFailed is called by the upstream proxy just before it writes its
// own error page (upstream.WriteError).
func (f *fetch) UpstreamFailed() { f.upstreamFailed = true }

func (f *fetch) WriteHeader(code int) {
	if code == http.StatusEarlyHints && f.mode == modeUndecided {
		f.relayHints()
		return
	}
	if f.mode != modeUndecided || code < 200 {
		return // other informational responses are not relayed
	}
	f.status = code
	mode, status := f.decide(code, f.hdr)
	if mode == modeStore {
		if cl, err := strconv.ParseInt(f.hdr.Get("Content-Length"), 10, 64); err == nil && cl > f.max {
			mode, f.tooBig = modePass, true
		}
	}
	f.mode = mode
	if f.w == nil {
		if mode == modePass {
			f.mode = modeSwallow
		}
		return
	}
	if mode != modePass && mode != modeStore {
		return
	}
	dst := f.w.Header()
	for k, v := range f.hdr {
		dst[k] = v
	}
	dst["Cache-Status"] = status
	if code == http.StatusOK && f.r != nil && clientHasValidators(f.r) && newResponseMatches(f.r, f.hdr) {
		// The client's own validators match the fresh response: it gets a
		// 304 while the body is still read (and kept) from upstream.
		delete(dst, "Content-Length")
		delete(dst, "Content-Type")
		f.w.WriteHeader(http.StatusNotModified)
		if mode == modeStore {
			f.mode = modeKeep
		} else {
			f.mode = modeSwallow
		}
		return
	}
	f.w.WriteHeader(code)
}

// relayHints passes a 103 Early Hints on to the client and forgets its
// fields: they describe the hints, not the final response, so they are
// neither stored nor sent again with it. Fields the client's header map
// held already (set by outer middleware) are put back as they were.
func (f *fetch) relayHints() {
	if f.w != nil {
		dst := f.w.Header()
		saved := make(http.Header, len(f.hdr))
		for k, v := range f.hdr {
			if old, ok := dst[k]; ok {
				saved[k] = old
			}
			dst[k] = v
		}
		f.w.WriteHeader(http.StatusEarlyHints)
		for k := range f.hdr {
			if old, ok := saved[k]; ok {
				dst[k] = old
			} else {
				delete(dst, k)
			}
		}
	}
	clear(f.hdr)
}

func (f *fetch) Write(p []byte) (int, error) {
	if f.mode == modeUndecided {
		f.WriteHeader(http.StatusOK)
	}
	f.written += int64(len(p))
	if f.mode == modeStore || f.mode == modeKeep {
		f.keep(p)
	}
	if f.w != nil && (f.mode == modePass || f.mode == modeStore) {
		n, err := f.w.Write(p)
		if err != nil {
			f.failed = true
		}
		return n, err
	}
	return len(p), nil
}

func (f *fetch) keep(p []byte) {
	if f.tooBig {
		return
	}
	if int64(len(f.buf)+len(p)) > f.max {
		f.tooBig, f.buf = true, nil
		return
	}
	f.buf = append(f.buf, p...)
}

// ReadFrom keeps the client writer's splice path when nothing is kept.
func (f *fetch) ReadFrom(src io.Reader) (int64, error) {
	if f.mode == modeUndecided {
		f.WriteHeader(http.StatusOK)
	}
	if f.mode == modePass && f.w != nil {
		if rf, ok := f.w.(io.ReaderFrom); ok {
			n, err := rf.ReadFrom(src)
			f.written += n
			return n, err
		}
	}
	return io.Copy(writerOnly{f}, src)
}

// FlushError passes flushes on while the client is being written to.
func (f *fetch) FlushError() error {
	if f.w != nil && (f.mode == modePass || f.mode == modeStore) {
		return http.NewResponseController(f.w).Flush()
	}
	return nil
}

// complete reports whether the kept body is the whole response: within
// max, and as long as Content-Length said.
func (f *fetch) complete() bool {
	if f.tooBig || f.failed || (f.mode != modeStore && f.mode != modeKeep) {
		return false
	}
	if cl := f.hdr.Get("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		return err == nil && n == int64(len(f.buf))
	}
	return true
}

// writerOnly hides ReadFrom so io.Copy cannot recurse into it.
type writerOnly struct{ io.Writer }

func clientHasValidators(r *http.Request) bool {
	return len(r.Header["If-None-Match"]) > 0 || len(r.Header["If-Modified-Since"]) > 0
}

// newResponseMatches evaluates the client's validators against a response
// head that has not been stored yet.
func newResponseMatches(r *http.Request, h http.Header) bool {
	if inm := r.Header["If-None-Match"]; len(inm) > 0 {
		etag := h.Get("Etag")
		return etag != "" && httpsyntax.MatchETags(inm, etag, false)
	}
	ims, ok := httpsyntax.ParseDate(r.Header.Get("If-Modified-Since"))
	if !ok {
		return false
	}
	lm, ok := httpsyntax.ParseDate(h.Get("Last-Modified"))
	return ok && !lm.After(ims)
}
