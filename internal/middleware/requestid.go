package middleware

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
)

// RequestIDHeader carries the request's ID to the upstream and back to the
// client.
const RequestIDHeader = "X-Request-Id"

// RequestIDs hands out request IDs: a random per-process prefix and a
// counter, unique without a syscall per request.
type RequestIDs struct {
	prefix string
	n      atomic.Uint64
}

// NewRequestIDs makes a generator with a fresh random prefix.
func NewRequestIDs() *RequestIDs {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &RequestIDs{prefix: hex.EncodeToString(b[:]) + "-"}
}

func (g *RequestIDs) next() string {
	var buf [32]byte
	out := append(buf[:0], g.prefix...)
	return string(strconv.AppendUint(out, g.n.Add(1), 36))
}

// RequestID keeps a well-formed incoming X-Request-Id (so a trace that
// began upstream of Portico continues) and generates one otherwise. The
// ID is passed upstream and returned to the client, once: an
// X-Request-Id a backend answers with is dropped when the head is written.
func RequestID(ids *RequestIDs, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header[RequestIDHeader]
		if len(id) != 1 || !validRequestID(id[0]) {
			id = []string{ids.next()}
			r.Header[RequestIDHeader] = id
		}
		w.Header()[RequestIDHeader] = id
		serveOnlyOurs(w, r, RequestIDHeader, id, next)
	})
}

// Wrappers are pooled: the request path allocates nothing for them (a
// memory cache hit allocates nothing at all). A handler must not use its
// ResponseWriter after it returns, so the wrapper is free again then; one
// left behind by a panic is the garbage collector's.
var onlyOursPool = sync.Pool{New: func() any { return new(onlyOurs) }}

// serveOnlyOurs serves r with next, keeping the response's key field to
// the value Portico set (ours); see onlyOurs.
func serveOnlyOurs(w http.ResponseWriter, r *http.Request, key string, ours []string, next http.Handler) {
	o := onlyOursPool.Get().(*onlyOurs)
	*o = onlyOurs{ResponseWriter: w, key: key, ours: ours}
	next.ServeHTTP(o, r)
	*o = onlyOurs{}
	onlyOursPool.Put(o)
}

// onlyOurs drops values of one response field that were appended after
// the one Portico set (a backend's own X-Request-Id or
// Strict-Transport-Security), at the moment the head is written. A field
// that an edit inside removed or replaced is left as the edit made it.
type onlyOurs struct {
	http.ResponseWriter
	key  string
	ours []string
	done bool
}

func (w *onlyOurs) fix() {
	w.done = true
	h := w.ResponseWriter.Header()
	if v := h[w.key]; len(v) > 1 && v[0] == w.ours[0] {
		h[w.key] = w.ours
	}
}

func (w *onlyOurs) WriteHeader(code int) {
	if !w.done && finalHead(code) {
		w.fix()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *onlyOurs) Write(b []byte) (int, error) {
	if !w.done {
		w.fix()
	}
	return w.ResponseWriter.Write(b)
}

func (w *onlyOurs) ReadFrom(src io.Reader) (int64, error) {
	if !w.done {
		w.fix()
	}
	return readFromUnder(w.ResponseWriter, src)
}

func (w *onlyOurs) Flush() {
	if !w.done {
		w.fix()
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *onlyOurs) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func validRequestID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}
