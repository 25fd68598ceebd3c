package admin

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/portico-proxy/portico/internal/listener"
	"github.com/portico-proxy/portico/internal/router"
	"github.com/portico-proxy/portico/internal/upstream"
)

// Every answer, the router's own 404 and 405 included, is JSON (healthz
// is its documented "ok") and must not be kept by a cache on the way.
func TestEveryAnswerHasAContentTypeAndNoStore(t *testing.T) {
	g := poolGeneration(t, upstream.NewDrainSet())
	c, _ := recordingCache(t)
	h := Handler(Sources{Generation: func() *router.Generation { return g }, Cache: c,
		Reload: func() error { return errors.New("p.yaml:1:1: bad") }, Status: func() Status { return Status{} },
		Certificates: func() []listener.CertInfo { return nil }})
	for _, tt := range []struct{ method, path, ctype, body string }{
		{"GET", "/healthz", "", ""},
		{"GET", "/api/status", "", ""},
		{"GET", "/api/routes", "", ""},
		{"GET", "/api/upstreams", "", ""},
		{"GET", "/api/upstreams/nope", "", ""},
		{"GET", "/api/cache", "", ""},
		{"GET", "/api/certificates", "", ""},
		{"POST", "/api/reload", "", ""},
		{"GET", "/api/reload", "", ""},
		{"GET", "/api/nope", "", ""},
		{"GET", "/", "", ""},
		{"GET", "/api/status/", "", ""},
		{"GET", "//api/status", "", ""},
		{"POST", "/api/upstreams/app/../../reload", "", ""},
		{"POST", "/api/cache/purge", "text/plain", "x"},
		{"POST", "/api/cache/purge", "application/json", "{"},
	} {
		w := call(h, tt.method, tt.path, tt.ctype, tt.body)
		ct := w.Header().Get("Content-Type")
		wantCT := "application/json"
		if tt.path == "/healthz" {
			wantCT = "text/plain; charset=utf-8"
		}
		if ct != wantCT || w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: %d with Content-Type %q, Cache-Control %q; want %q and no-store",
				tt.method, tt.path, w.Code, ct, w.Header().Get("Cache-Control"), wantCT)
		}
		if ct == "application/json" && !json.Valid(w.Body.Bytes()) {
			t.Errorf("%s %s: body %q is not JSON", tt.method, tt.path, w.Body)
		}
	}
}
