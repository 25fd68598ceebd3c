package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// maxBody bounds a request body: every call takes a few short fields.
const maxBody = 64 << 10

// decodeBody reads r's body as exactly one JSON value of the fields v
// names, and answers the error itself (400, or 413 past maxBody) when it
// is not: nothing is acted on from half a body, a second value or a
// misspelt field.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, want string) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
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
	status := http.StatusBadRequest
	if tooBig := new(http.MaxBytesError); errors.As(err, &tooBig) {
		status = http.StatusRequestEntityTooLarge
		err = fmt.Errorf("over %d bytes", maxBody)
	}
	writeJSON(w, status, errorBody{"body: want " + want + ": " + err.Error()})
	return false
}
