package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentRequestsStayApart: the HTTP/1.1 engine reuses a request's
// objects for later ones, so many keep-alive clients at once, each request
// with its own token and its own number of request and response fields,
// must each get exactly their own answer; and every request the backend
// sees, including the cache's background refreshes (which outlive the
// request they came from), must be one a client sent, whole.
func TestConcurrentRequestsStayApart(t *testing.T) {
	const clients, perClient = 8, 150
	var sent sync.Map // token → number of X-Extra fields it was sent with
	var torn atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := r.Header.Get("X-Token")
		extras := 0
		for k := range r.Header {
			if strings.HasPrefix(k, "X-Extra-") {
				extras++
			}
		}
		if want, ok := sent.Load(token); !ok || want.(int) != extras {
			torn.Add(1)
		}
		n, _ := strconv.Atoi(r.Header.Get("X-Resp-Fields"))
		for i := range n {
			w.Header().Set(fmt.Sprintf("X-R-%d", i), token)
		}
		if strings.HasPrefix(r.URL.Path, "/swr/") {
			w.Header().Set("Cache-Control", "max-age=0, stale-while-revalidate=60")
		}
		io.WriteString(w, token)
	}))
	defer backend.Close()
	_, base, _ := testInstance(t, fmt.Sprintf("listeners:\n  - addr: \"127.0.0.1:0\"\nroutes:\n"+
		"  - match: /swr/\n    proxy: %q\n    cache: true\n"+
		"  - match: /\n    proxy: %q\n", backend.URL, backend.URL))

	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Go(func() {
			client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
			defer client.CloseIdleConnections()
			for i := range perClient {
				token := fmt.Sprintf("c%d-r%d", c, i)
				extras, respFields := (c+i)%20, (c*7+i)%20 // both sides of the kept maps' bound
				sent.Store(token, extras)
				path := "/plain/"
				if i%5 == 0 {
					path = fmt.Sprintf("/swr/%d", i%3)
				}
				req, _ := http.NewRequest("GET", base+path, nil)
				req.Header.Set("X-Token", token)
				req.Header.Set("X-Resp-Fields", strconv.Itoa(respFields))
				for k := range extras {
					req.Header.Set(fmt.Sprintf("X-Extra-%d", k), "v")
				}
				res, err := client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if path != "/plain/" {
					continue // a cache hit is another request's answer, by design
				}
				got := 0
				for k, vv := range res.Header {
					if strings.HasPrefix(k, "X-R-") {
						got++
						if vv[0] != token {
							errs <- fmt.Errorf("%s: response field %s is %q's", token, k, vv[0])
							return
						}
					}
				}
				if string(body) != token || got != respFields {
					errs <- fmt.Errorf("%s: got body %q and %d X-R fields, want its own and %d", token, body, got, respFields)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := torn.Load(); n > 0 {
		t.Errorf("the backend saw %d requests whose fields came from more than one client request", n)
	}
}
