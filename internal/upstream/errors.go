package upstream

import (
	"errors"
	"net/http"
	"strconv"
)

// Kind says what went wrong with an upstream attempt.
type Kind uint8

const (
	KindDial       Kind = iota + 1 // could not connect: nothing was sent
	KindTimeout                    // connect or first-byte timeout
	KindProtocol                   // the backend sent something that is not valid HTTP
	KindIO                         // the connection broke during the exchange
	KindNoBackend                  // the pool has no usable backend
	KindClientGone                 // the downstream client went away
	KindBreaker                    // over the pool's or every backend's limit: refused at once
	KindStatus                     // the backend answered a status retry_on names
)

func (k Kind) String() string {
	switch k {
	case KindDial:
		return "dial"
	case KindTimeout:
		return "timeout"
	case KindProtocol:
		return "protocol"
	case KindIO:
		return "io"
	case KindNoBackend:
		return "no backend"
	case KindClientGone:
		return "client gone"
	case KindBreaker:
		return "breaker open"
	case KindStatus:
		return "retryable status"
	}
	return "unknown"
}

// Error is an upstream failure. Its text names the backend and the cause
// for logs; it never reaches a client, which only sees Status.
type Error struct {
	Pool    string
	Backend string // host:port; empty when none was picked
	Kind    Kind
	// Retryable is true when the request may be sent again to another
	// backend: nothing reached the backend, or the method is idempotent
	// and the request body was not consumed.
	Retryable bool
	// Code is the backend's status for KindStatus.
	Code int
	Err  error
}

func (e *Error) Error() string {
	msg := "upstream " + e.Pool
	if e.Backend != "" {
		msg += " backend " + e.Backend
	}
	msg += ": " + e.Kind.String()
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Status is the HTTP status a client sees for this failure. 499 is the
// nginx convention for a client that closed the connection first; it is
// only ever logged, never sent.
func (e *Error) Status() int {
	switch e.Kind {
	case KindTimeout:
		return http.StatusGatewayTimeout
	case KindNoBackend, KindBreaker:
		return http.StatusServiceUnavailable
	case KindStatus:
		return e.Code
	case KindClientGone:
		return 499
	}
	return http.StatusBadGateway
}

// WriteError answers the client for a failed upstream exchange. When the
// response has already started there is nothing honest to send, so the
// stream is aborted instead (the client sees a truncated response, not a
// false success).
func WriteError(w http.ResponseWriter, err error, started bool) {
	var ue *Error
	status := http.StatusBadGateway
	if errors.As(err, &ue) {
		status = ue.Status()
	}
	if status == 499 {
		return
	}
	if started {
		panic(http.ErrAbortHandler)
	}
	if n, ok := w.(failureNoter); ok {
		n.UpstreamFailed()
	}
	WriteStatus(w, status)
}

// failureNoter is a ResponseWriter that wants to know when the answer is
// Portico's own error page rather than the backend's: the cache, which
// may answer with a stale entry instead of the page, but must pass on a
// 502 that a reachable origin sent itself.
type failureNoter interface{ UpstreamFailed() }

// WriteStatus writes a short neutral plain-text page for status, such as
// "502 Bad Gateway": the only error body a client gets, so no backend
// name, address or Go error text can leak through it.
func WriteStatus(w http.ResponseWriter, status int) {
	body := strconv.Itoa(status) + " " + http.StatusText(status) + "\n"
	h := w.Header()
	h["Content-Type"] = []string{"text/plain; charset=utf-8"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	h["Cache-Control"] = []string{"no-store"}
	if status == http.StatusServiceUnavailable {
		h["Retry-After"] = []string{"1"}
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
