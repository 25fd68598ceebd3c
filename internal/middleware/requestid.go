package middleware

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
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
// ID is passed upstream and returned to the client.
func RequestID(ids *RequestIDs, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header[RequestIDHeader]
		if len(id) != 1 || !validRequestID(id[0]) {
			id = []string{ids.next()}
			r.Header[RequestIDHeader] = id
		}
		w.Header()[RequestIDHeader] = id
		next.ServeHTTP(w, r)
	})
}

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
