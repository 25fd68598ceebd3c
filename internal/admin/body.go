package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// maxBody bounds a request body: every call takes a few short fields.
const maxBody = 64 << 10

// bodyReadTimeout bounds the reading of a body, so a client that drips
// one (or announces more than it sends) cannot hold a call open. The
// server's own read timeout is left unset: it would also end the admin's
// long-lived streams.
var bodyReadTimeout = 10 * time.Second

// decodeBody reads r's body as exactly one JSON value of the fields v
// names, and answers the error itself (400, or 413 past maxBody) when it
// is not: nothing is acted on from half a body, a second value or a
// misspelt field.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, want string) bool {
	dec := json.NewDecoder(limitBody(w, r))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, err2 := dec.Token(); err2 != io.EOF {
			err = errors.New("one JSON object only, nothing after it")
			if tooBig := new(http.MaxBytesError); errors.As(err2, &tooBig) {
				err = err2
			}
		}
	}
	if err == nil {
		return true
	}
	status, err := bodyFailure(err)
	writeJSON(w, status, errorBody{"body: want " + want + ": " + err.Error()})
	return false
}

// limitBody is r's body cut off at maxBody bytes and bodyReadTimeout.
func limitBody(w http.ResponseWriter, r *http.Request) io.Reader {
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyReadTimeout))
	return http.MaxBytesReader(w, r.Body, maxBody)
}

// bodyFailure is the answer to an error from a limitBody reader: 408
// past the read timeout, 413 past maxBody, 400 for anything else.
func bodyFailure(err error) (int, error) {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return http.StatusRequestTimeout, fmt.Errorf("not received within %v", bodyReadTimeout)
	}
	if tooBig := new(http.MaxBytesError); errors.As(err, &tooBig) {
		return http.StatusRequestEntityTooLarge, fmt.Errorf("over %d bytes", maxBody)
	}
	return http.StatusBadRequest, err
}
