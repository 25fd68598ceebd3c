package static

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/httpsyntax"
	"github.com/portico-proxy/portico/internal/listener/h1/h1test"
)

// TestSmallFilesCachedAndRevalidated: a small file is served from memory
// and checked against the disk once a second; a change (in place, by
// rename, or a removal) shows after that second.
func TestSmallFilesCachedAndRevalidated(t *testing.T) {
	s := newSite(t)
	s.write(t, "note.txt", "one")
	h, clock := newHandlerClock(t, config.Static{Root: s.root})
	url := h1test.Serve(t, h)
	body := func() (int, string) { r := get(t, "GET", url+"/note.txt"); return r.status, r.body }
	if _, got := body(); got != "one" {
		t.Fatalf("got %q, want one", got)
	}
	if h.root.Load().cache.get("note.txt", "note.txt", h.root.Load().dir, clock.now()) == nil {
		t.Fatal("a small file is not in the cache after a request")
	}
	s.write(t, "note.txt", "two")
	if _, got := body(); got != "one" {
		t.Errorf("within the second: got %q, want the cached one", got)
	}
	clock.advance(2 * time.Second)
	if _, got := body(); got != "two" {
		t.Errorf("after a change in place: got %q, want two", got)
	}
	tmp := filepath.Join(s.root, "note.tmp")
	os.WriteFile(tmp, []byte("six"), 0o644) // same size: the inode tells
	os.Rename(tmp, filepath.Join(s.root, "note.txt"))
	clock.advance(2 * time.Second)
	if _, got := body(); got != "six" {
		t.Errorf("after a rename into place: got %q, want six", got)
	}
	os.Remove(filepath.Join(s.root, "note.txt"))
	clock.advance(2 * time.Second)
	if status, _ := body(); status != 404 {
		t.Errorf("after removal: got %d, want 404", status)
	}
}

func TestLargeFilesAreNotCached(t *testing.T) {
	s := newSite(t)
	big := strings.Repeat("a", maxCachedFile+1)
	s.write(t, "big.txt", big)
	h, _ := newHandlerClock(t, config.Static{Root: s.root})
	url := h1test.Serve(t, h)
	if r := get(t, "GET", url+"/big.txt"); r.body != big {
		t.Fatal("first read differs")
	}
	if h.root.Load().cache.m["big.txt"] != nil {
		t.Error("a file over the limit was cached")
	}
	s.write(t, "big.txt", strings.Repeat("b", maxCachedFile+1))
	if r := get(t, "GET", url+"/big.txt"); r.body[0] != 'b' {
		t.Error("a large file was not read from disk again")
	}
}

func TestCacheStaysBounded(t *testing.T) {
	var c fileCache
	s := newSite(t)
	body := strings.Repeat("x", 60<<10)
	now := time.Unix(0, 0)
	for i := range 400 { // 400 × 60 KiB is about 23 MiB
		name := fmt.Sprintf("f%03d", i)
		s.write(t, name, body)
		f, err := os.Open(filepath.Join(s.root, name))
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := f.Stat()
		if c.fill(name, f, fi, contentType(name), httpsyntax.Identity, now) == nil {
			t.Fatal("fill failed")
		}
		f.Close()
	}
	if c.bytes > maxCacheBytes {
		t.Errorf("cache holds %d bytes, want at most %d", c.bytes, maxCacheBytes)
	}
	var sum int64
	for _, e := range c.m {
		sum += e.cost()
	}
	if sum != c.bytes {
		t.Errorf("accounted %d bytes, entries hold %d", c.bytes, sum)
	}
}

func TestIndexFileHasItsOwnType(t *testing.T) {
	s := newSite(t)
	url := h1test.Serve(t, newHandler(t, config.Static{Root: s.root}))
	for _, p := range []string{"/", "/sub/"} {
		if got := get(t, "GET", url+p).header.Get("Content-Type"); got != "text/html; charset=utf-8" {
			t.Errorf("%s: Content-Type %q, want text/html", p, got)
		}
	}
}

// TestSidecarsCachedAndMissingOnesRemembered: a small sidecar is served
// from memory, a missing one costs no open per request, and one built
// later is found within a second.
func TestSidecarsCachedAndMissingOnesRemembered(t *testing.T) {
	s := newSite(t)
	h, clock := newHandlerClock(t, config.Static{Root: s.root, Precompressed: true})
	url := h1test.Serve(t, h)
	enc := func() string {
		return get(t, "GET", url+"/app.js", "Accept-Encoding: br").header.Get("Content-Encoding")
	}
	if got := enc(); got != "" {
		t.Fatalf("without a sidecar: got Content-Encoding %q", got)
	}
	if e := h.root.Load().cache.m[sidecarKey("app.js.br")]; e == nil || !e.missing {
		t.Fatal("the missing sidecar is not remembered")
	}
	if r := get(t, "GET", url+"/app.js.br"); r.status != 404 {
		t.Errorf("GET of a remembered-missing name: got %d, want 404", r.status)
	}
	s.precompress(t, "app.js", "br")
	if got := enc(); got != "" {
		t.Errorf("within the second: got %q, want identity still", got)
	}
	clock.advance(2 * time.Second)
	if got := enc(); got != "br" {
		t.Errorf("after the sidecar appeared: got %q, want br", got)
	}
	if e := h.root.Load().cache.m[sidecarKey("app.js.br")]; e == nil || e.missing || e.coding != httpsyntax.Brotli {
		t.Error("the small sidecar is not cached")
	}
	if got := enc(); got != "br" {
		t.Errorf("from the cache: got %q, want br", got)
	}
	// The sidecar fetched by its own name is a plain file, not JavaScript.
	if r := get(t, "GET", url+"/app.js.br"); r.header.Get("Content-Encoding") != "" || r.header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("GET /app.js.br: Content-Encoding %q Content-Type %q, want none and octet-stream",
			r.header.Get("Content-Encoding"), r.header.Get("Content-Type"))
	}
	if got := enc(); got != "br" {
		t.Errorf("after the sidecar was fetched by name: got %q, want br", got)
	}
}

// TestFileChangedWhileReadIsSentWithItsLength: a small file rewritten
// between the stat that gave its length and the read of its bytes (a
// deploy writing it in place) is read again, so the answer's
// Content-Length is the length of the body sent, and the bytes of no
// single version are not kept in the cache.
func TestFileChangedWhileReadIsSentWithItsLength(t *testing.T) {
	tests := []struct{ name, before, after string }{
		{"shrunk", strings.Repeat("a", 100), strings.Repeat("b", 50)},
		{"grown", strings.Repeat("a", 50), strings.Repeat("b", 100)},
		{"same length", strings.Repeat("a", 50), strings.Repeat("b", 50)},
		{"grown past the memory limit", "a", strings.Repeat("b", maxCachedFile+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSite(t)
			s.write(t, "w.txt", tt.before)
			h := newHandler(t, config.Static{Root: s.root})
			or := h.currentRoot()
			f, fi, err := h.openStat(or, "w.txt")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			// The stat above is the one the handler made; the file changes
			// before its bytes are read.
			later := fi.ModTime().Add(time.Second)
			s.write(t, "w.txt", tt.after)
			os.Chtimes(filepath.Join(s.root, "w.txt"), later, later)
			rec := httptest.NewRecorder()
			h.serveFile(rec, httptest.NewRequest("GET", "/w.txt", nil), f, fi, "w.txt", or)
			if rec.Code != 200 || rec.Header().Get("Content-Length") != strconv.Itoa(rec.Body.Len()) || rec.Body.String() != tt.after {
				t.Fatalf("got %d Content-Length %s with %d body bytes, want 200 and the new file whole (%d bytes)",
					rec.Code, rec.Header().Get("Content-Length"), rec.Body.Len(), len(tt.after))
			}
			nfi, _ := os.Stat(filepath.Join(s.root, "w.txt"))
			if got, want := rec.Header().Get("ETag"), makeETag(nfi, httpsyntax.Identity); got != want {
				t.Errorf("ETag: got %s, want the new file's %s", got, want)
			}
			if e := or.cache.m["w.txt"]; e != nil && string(e.src.(memSource)) != tt.after {
				t.Errorf("the cache holds %d bytes that are not the new file", len(e.src.(memSource)))
			}
		})
	}
}

// TestCachedFileReplacedIsNotServedStale: a cached small file replaced by
// one over the memory limit, by a link out of the root, or by a
// directory, and a cached sidecar replaced or removed, are served as the
// disk has them once the second of the check has passed.
func TestCachedFileReplacedIsNotServedStale(t *testing.T) {
	big := strings.Repeat("B", maxCachedFile+10)
	tests := []struct {
		name    string
		path    string
		headers []string
		change  func(t *testing.T, s *site)
		status  int
		body    string
	}{
		{"by a file over the memory limit", "/note.txt", nil, func(t *testing.T, s *site) {
			s.write(t, "note.txt", big)
		}, 200, big},
		{"by a link out of the root", "/note.txt", nil, func(t *testing.T, s *site) {
			p := filepath.Join(s.root, "note.txt")
			os.Remove(p)
			if err := os.Symlink(filepath.Join(s.base, "secret.txt"), p); err != nil {
				t.Fatal(err)
			}
		}, 404, ""},
		{"by a directory", "/note.txt", nil, func(t *testing.T, s *site) {
			p := filepath.Join(s.root, "note.txt")
			os.Remove(p)
			os.Mkdir(p, 0o755)
		}, 301, ""},
		{"sidecar by one over the memory limit", "/app.js", []string{"Accept-Encoding: gzip"}, func(t *testing.T, s *site) {
			s.write(t, "app.js.gz", big)
		}, 200, big},
		{"sidecar removed", "/app.js", []string{"Accept-Encoding: gzip"}, func(t *testing.T, s *site) {
			os.Remove(filepath.Join(s.root, "app.js.gz"))
		}, 200, strings.Repeat("console.log('portico');\n", 100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSite(t)
			s.write(t, "note.txt", "one")
			s.precompress(t, "app.js", "gz")
			h, clock := newHandlerClock(t, config.Static{Root: s.root, Precompressed: true})
			url := h1test.Serve(t, h)
			first := get(t, "GET", url+tt.path, tt.headers...)
			if first.status != 200 {
				t.Fatalf("first request: got %d", first.status)
			}
			tt.change(t, s)
			if r := get(t, "GET", url+tt.path, tt.headers...); r.status != 200 || r.body != first.body {
				t.Errorf("within the second: got %d, want the cached answer", r.status)
			}
			clock.advance(2 * time.Second)
			r := get(t, "GET", url+tt.path, tt.headers...)
			if r.status != tt.status || (tt.body != "" && r.body != tt.body) || strings.Contains(r.body, secret) {
				t.Fatalf("after the check: got %d with %d body bytes, want %d with %d", r.status, len(r.body), tt.status, len(tt.body))
			}
			if r.status == 200 && r.header.Get("Content-Length") != strconv.Itoa(len(r.body)) {
				t.Errorf("Content-Length %q for %d body bytes", r.header.Get("Content-Length"), len(r.body))
			}
		})
	}
}
