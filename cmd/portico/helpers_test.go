package main

import (
	"io"
	"net/http"
	"testing"
)

// getBody fetches url + "/" and returns the body; a transport error fails
// the test.
func getBody(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}
