package admin

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/router"
	"github.com/portico-proxy/portico/internal/upstream"
)

// A body that is not one clean JSON object of the documented fields, or
// that is too big, is a 4xx and purges nothing.
func TestPurgeRefusesBadBodiesAndPurgesNothing(t *testing.T) {
	c, store := recordingCache(t)
	h := Handler(Sources{Cache: c})
	for _, tt := range []struct {
		name, body string
		want       int
	}{
		{"broken JSON", `{"tag": `, http.StatusBadRequest},
		{"not an object", `["x"]`, http.StatusBadRequest},
		{"two selectors", `{"tag": "a", "prefix": "example.com/"}`, http.StatusBadRequest},
		{"no selector", `{}`, http.StatusBadRequest},
		{"empty selector", `{"url": ""}`, http.StatusBadRequest},
		{"null", `null`, http.StatusBadRequest},
		{"unknown field", `{"tag": "a", "all": true}`, http.StatusBadRequest},
		{"second object", `{"tag": "a"} {"prefix": "example.com/"}`, http.StatusBadRequest},
		{"trailing garbage", `{"tag": "a"} x`, http.StatusBadRequest},
		{"huge", `{"tag": "` + strings.Repeat("a", 1<<20) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		w := call(h, "POST", "/api/cache/purge", "application/json", tt.body)
		if w.Code != tt.want || w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: got %d %s, want %d in JSON", tt.name, w.Code, trim(w.Body.String()), tt.want)
		}
		if got := store.taken(); len(got) != 0 {
			t.Errorf("%s: purged %q, want nothing", tt.name, got)
		}
	}
	// The documented bodies still work, with or without a charset.
	if w := call(h, "POST", "/api/cache/purge", "application/json; charset=utf-8", `{"tag": "a"}`+"\n"); w.Code != 200 {
		t.Errorf("good purge: got %d %s", w.Code, w.Body)
	}
	if got := store.taken(); len(got) != 1 || got[0] != "tag a" {
		t.Errorf("good purge: store got %q, want one tag purge", got)
	}
}

// A purge prefix names a host first: one without a host (a path alone,
// a bare scheme) would quietly match nothing, and is refused; none
// reaches every host's entries.
func TestPurgePrefixNeverMatchesEveryHost(t *testing.T) {
	c, store := recordingCache(t)
	h := Handler(Sources{Cache: c})
	for _, body := range []string{`{"prefix": "/"}`, `{"prefix": "/img/"}`, `{"prefix": "http://"}`,
		`{"prefix": "https:///img/"}`, `{"prefix": "?x=1"}`, `{"url": "/a?b=1"}`, `{"url": "https:///a"}`} {
		w := call(h, "POST", "/api/cache/purge", "application/json", body)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "host") {
			t.Errorf("%s: got %d %s, want 400 asking for a host", body, w.Code, w.Body)
		}
		if got := store.taken(); len(got) != 0 {
			t.Errorf("%s: store asked for %q, want nothing", body, got)
		}
	}
	for body, want := range map[string]string{
		`{"prefix": "example.com"}`:              "prefix example.com/",
		`{"prefix": "https://Example.com/img/"}`: "prefix example.com/img/",
		`{"url": "example.com/a?b=1"}`:           "prefix example.com/a?b=1\x00",
	} {
		w := call(h, "POST", "/api/cache/purge", "application/json", body)
		if got := store.taken(); w.Code != 200 || len(got) != 1 || got[0] != want {
			t.Errorf("%s: got %d, store asked for %q, want %q", body, w.Code, got, want)
		}
	}
}

// Drain bodies get the same strictness, and an encoded slash or dots in
// the pool name find no pool: nothing is drained.
func TestDrainRefusesBadBodiesAndDrainsNothing(t *testing.T) {
	g := poolGeneration(t, upstream.NewDrainSet())
	h := Handler(Sources{Generation: func() *router.Generation { return g }})
	for _, tt := range []struct {
		name, path, body string
		want             int
	}{
		{"broken JSON", "/api/upstreams/app/drain", `{"backend": `, http.StatusBadRequest},
		{"wrong type", "/api/upstreams/app/drain", `{"backend": 1}`, http.StatusBadRequest},
		{"unknown field", "/api/upstreams/app/drain", `{"backend": "` + backendA + `", "pool": "app"}`, http.StatusBadRequest},
		{"second object", "/api/upstreams/app/drain", `{"backend": "` + backendA + `"} {"backend": "` + backendB + `"}`, http.StatusBadRequest},
		{"huge", "/api/upstreams/app/drain", `{"backend": "` + strings.Repeat("a", 1<<20) + `"}`, http.StatusRequestEntityTooLarge},
		{"unknown backend", "/api/upstreams/app/drain", `{"backend": "http://127.0.0.1:1"}`, http.StatusNotFound},
		{"unknown pool", "/api/upstreams/nope/drain", `{"backend": "` + backendA + `"}`, http.StatusNotFound},
		{"encoded slash", "/api/upstreams/app%2Fx/drain", `{"backend": "` + backendA + `"}`, http.StatusNotFound},
		{"encoded dots", "/api/upstreams/%2E%2E/drain", `{"backend": "` + backendA + `"}`, http.StatusNotFound},
	} {
		w := call(h, "POST", tt.path, "application/json", tt.body)
		if w.Code != tt.want {
			t.Errorf("%s: got %d %s, want %d", tt.name, w.Code, trim(w.Body.String()), tt.want)
		}
		if d := draining(t, g); d[backendA] || d[backendB] {
			t.Fatalf("%s: drained %v, want nothing", tt.name, d)
		}
	}
}

// TestSlowBodyIsCutOff: over a real socket, a body that stops short of
// its Content-Length gets a 408 within the body read timeout, and the
// call is not acted on.
func TestSlowBodyIsCutOff(t *testing.T) {
	defer func(d time.Duration) { bodyReadTimeout = d }(bodyReadTimeout)
	bodyReadTimeout = 200 * time.Millisecond
	c, store := recordingCache(t)
	base := serve(t, "127.0.0.1:0", Sources{Cache: c})
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "POST /api/cache/purge HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"tag\": ", strings.TrimPrefix(base, "http://"))
	start := time.Now()
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	if res.StatusCode != http.StatusRequestTimeout {
		t.Errorf("got %d, want 408", res.StatusCode)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("answered after %v", d)
	}
	if got := store.taken(); len(got) != 0 {
		t.Errorf("purged %q from half a body", got)
	}
}
