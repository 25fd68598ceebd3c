package static

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/listener/h1/h1test"
)

func TestServesFileWithTypeLengthAndValidators(t *testing.T) {
	s := newSite(t)
	url := h1test.Serve(t, newHandler(t, config.Static{Root: s.root}))
	r := get(t, "GET", url+"/style.css")
	if r.status != 200 || r.body != "body{color:red}" {
		t.Fatalf("got %d %q, want 200 and the file", r.status, r.body)
	}
	fi, _ := os.Stat(filepath.Join(s.root, "style.css"))
	for k, want := range map[string]string{
		"Content-Type":   "text/css; charset=utf-8",
		"Content-Length": "15",
		"Accept-Ranges":  "bytes",
		"Last-Modified":  fi.ModTime().UTC().Format(http.TimeFormat),
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s: got %q, want %q", k, got, want)
		}
	}
	if et := r.header.Get("ETag"); !strings.HasPrefix(et, `"`) || !strings.HasSuffix(et, `"`) {
		t.Errorf("ETag: got %q, want a strong tag", et)
	}
}

func TestContentTypeTable(t *testing.T) {
	tests := []struct{ name, want string }{
		{"a.html", "text/html; charset=utf-8"},
		{"A.HTML", "text/html; charset=utf-8"},
		{"app.js", "text/javascript; charset=utf-8"},
		{"m.mjs", "text/javascript; charset=utf-8"},
		{"d.json", "application/json"},
		{"i.svg", "image/svg+xml"},
		{"p.png", "image/png"},
		{"p.JPG", "image/jpeg"},
		{"f.woff2", "font/woff2"},
		{"v.mp4", "video/mp4"},
		{"v.webm", "video/webm"},
		{"m.wasm", "application/wasm"},
		{"doc.pdf", "application/pdf"},
		{"x.unknownext", "application/octet-stream"},
		{"noext", "application/octet-stream"},
		{"dir.d/noext", "application/octet-stream"},
		{".hidden", "application/octet-stream"},
	}
	for _, tt := range tests {
		if got := contentType(tt.name)[0]; got != tt.want {
			t.Errorf("contentType(%q): got %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestTraversalAttemptsAreRefused sends hostile request targets as
// written on the wire. None may answer 200 or show the secret beside the
// root.
func TestTraversalAttemptsAreRefused(t *testing.T) {
	s := newSite(t)
	url := h1test.Serve(t, newHandler(t, config.Static{Root: s.root}))
	addr := strings.TrimPrefix(url, "http://")
	hostile := []string{
		"/../secret.txt",
		"/..%2fsecret.txt",
		"/%2e%2e/secret.txt",
		"/%2e%2e%2fsecret.txt",
		"/%2E%2E/secret.txt",
		"/sub/../../secret.txt",
		"/sub/%2e%2e/%2e%2e/secret.txt",
		"/..\\secret.txt",
		"/%5c..%5csecret.txt",
		"/sub%5c..%5c..%5csecret.txt",
		"/..%5csecret.txt",
		"/secret.txt%00.html",
		"/index.html%00",
		"/sub/..%00/secret.txt",
		"/.secret",
		"/%2esecret",
		"/sub/.hidden",
		"/files/.env",
		"/.git/config",
		"/link-out/secret.txt",
		"/link-file",
		"//../secret.txt",
		"/%252e%252e/secret.txt",
		"/..%c0%af../secret.txt",
		"/./../secret.txt",
		"/sub/./../../secret.txt",
		"/..;/secret.txt",
		"/%2e%2e%5csecret.txt",
	}
	for _, target := range hostile {
		status, raw := rawGet(t, addr, target)
		if status == 200 || status == 0 || strings.Contains(raw, secret) || strings.Contains(raw, "dotfile") ||
			strings.Contains(raw, "KEY=1") || strings.Contains(raw, "hidden") {
			t.Errorf("GET %s: got status %d, want a refusal without the secret:\n%s", target, status, raw)
		}
	}
}

func TestSymlinks(t *testing.T) {
	s := newSite(t)
	tests := []struct {
		name  string
		allow bool
		path  string
		want  int
	}{
		{"link inside the root is followed", false, "/link-in.html", 200},
		{"link to a directory outside is refused", false, "/link-out/secret.txt", 404},
		{"link to a file outside is refused", false, "/link-file", 404},
		{"allow_symlinks follows a directory link out", true, "/link-out/secret.txt", 200},
		{"allow_symlinks follows a file link out", true, "/link-file", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := h1test.Serve(t, newHandler(t, config.Static{Root: s.root, AllowSymlinks: tt.allow}))
			if r := get(t, "GET", url+tt.path); r.status != tt.want {
				t.Errorf("got %d, want %d", r.status, tt.want)
			}
		})
	}
}

// TestSymlinksThatCannotBeFollowed: os.Root follows only relative links
// that stay beneath the root all the way: an absolute link, or one that
// climbs above the root and comes back, is a 404 even when it names a file
// inside; a loop is a 404, not a hang.
func TestSymlinksThatCannotBeFollowed(t *testing.T) {
	s := newSite(t)
	for link, target := range map[string]string{
		"abs-in.html":     filepath.Join(s.root, "sub", "page.html"),
		"climb-in.html":   "../root/sub/page.html",
		"loop":            "loop",
		"sub/up-out.txt":  "../../secret.txt",
		"sub/link-up.txt": "../style.css", // stays inside: followed
	} {
		if err := os.Symlink(target, filepath.Join(s.root, link)); err != nil {
			t.Fatal(err)
		}
	}
	url := h1test.Serve(t, newHandler(t, config.Static{Root: s.root}))
	tests := []struct {
		path   string
		status int
	}{
		{"/abs-in.html", 404},
		{"/climb-in.html", 404},
		{"/loop", 404},
		{"/loop/x", 404},
		{"/sub/up-out.txt", 404},
		{"/sub/link-up.txt", 200},
	}
	for _, tt := range tests {
		r := get(t, "GET", url+tt.path)
		if r.status != tt.status || strings.Contains(r.body, secret) {
			t.Errorf("%s: got %d %q, want %d", tt.path, r.status, r.body, tt.status)
		}
	}
}

// TestVeryLongPaths: a path far longer than any file name is answered
// (404, or the file when the length is only empty segments) without
// trouble; the handler is called directly, past the engine's limit on
// the request line.
func TestVeryLongPaths(t *testing.T) {
	s := newSite(t)
	h := newHandler(t, config.Static{Root: s.root})
	tests := []struct {
		path   string
		status int
	}{
		{"/" + strings.Repeat("a", 1<<20), 404},
		{"/" + strings.Repeat("a/", 1<<19), 404},
		{"/" + strings.Repeat("sub/", 1<<18) + "page.html", 404},
		{strings.Repeat("/", 1<<20) + "style.css", 200},
		{"/" + strings.Repeat("..", 1<<19), 404}, // one name starting with a dot: hidden
		{"/" + strings.Repeat("../", 1<<18), 400},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.Path = tt.path
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.status {
			t.Errorf("%.20s… (%d bytes): got %d, want %d", tt.path, len(tt.path), rec.Code, tt.status)
		}
	}
}

func TestDotfilesOption(t *testing.T) {
	s := newSite(t)
	off := h1test.Serve(t, newHandler(t, config.Static{Root: s.root}))
	on := h1test.Serve(t, newHandler(t, config.Static{Root: s.root, Dotfiles: true}))
	tests := []struct {
		url, path string
		want      int
	}{
		{off, "/.secret", 404},
		{off, "/.well-known/security.txt", 200},
		{on, "/.secret", 200},
		{on, "/sub/.hidden", 200},
	}
	for _, tt := range tests {
		if r := get(t, "GET", tt.url+tt.path); r.status != tt.want {
			t.Errorf("%s: got %d, want %d", tt.path, r.status, tt.want)
		}
	}
}

func TestDirectories(t *testing.T) {
	s := newSite(t)
	plain := h1test.Serve(t, newHandler(t, config.Static{Root: s.root}))
	browse := h1test.Serve(t, newHandler(t, config.Static{Root: s.root, Browse: true}))
	tests := []struct {
		name, url, path string
		headers         []string
		status          int
		want            string // in the body, or the Location for 301
	}{
		{"root serves its index", plain, "/", nil, 200, "<h1>home</h1>"},
		{"directory index", plain, "/sub/", nil, 200, "<h1>sub</h1>"},
		{"directory without slash redirects", plain, "/sub?x=1", nil, 301, "/sub/?x=1"},
		{"no index and no browse is 404", plain, "/files/", nil, 404, ""},
		{"file with a trailing slash is 404", plain, "/style.css/", nil, 404, ""},
		{"listing HTML", browse, "/files/", nil, 200, `<a href="./a.txt">a.txt</a>`},
		{"listing shows directories", browse, "/files/", nil, 200, `<a href="./dir/">dir/</a>`},
		{"listing JSON", browse, "/files/", []string{"Accept: application/json"}, 200, `"name":"b.txt"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, "GET", tt.url+tt.path, tt.headers...)
			if r.status != tt.status {
				t.Fatalf("got %d, want %d", r.status, tt.status)
			}
			got := r.body
			if tt.status == 301 {
				got = r.header.Get("Location")
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("got %q, want it to contain %q", got, tt.want)
			}
			if strings.Contains(r.body, ".env") {
				t.Errorf("listing shows a dotfile: %s", r.body)
			}
		})
	}
}

// TestDirectoryRedirectStaysOnThisSite: the 301 that adds the slash to a
// directory names a path on this site, escaped: a request target with an
// empty first segment ("//sub") must not become a Location that a browser
// reads as another host ("//sub/"), and a decoded "?" or space in a
// directory name must not end the path or break the header.
func TestDirectoryRedirectStaysOnThisSite(t *testing.T) {
	s := newSite(t)
	s.write(t, "evil.example/index.html", "x")
	s.write(t, "a b/index.html", "x")
	s.write(t, "q?x/index.html", "x")
	s.write(t, "p%41/index.html", "x")
	url := h1test.Serve(t, newHandler(t, config.Static{Root: s.root}))
	addr := strings.TrimPrefix(url, "http://")
	tests := []struct{ target, want string }{
		{"//evil.example", "/evil.example/"},
		{"///evil.example?x=1", "/evil.example/?x=1"},
		{"//sub", "/sub/"},
		{"/sub//", ""}, // served: the index, no redirect
		{"/a%20b", "/a%20b/"},
		{"/q%3Fx", "/q%3Fx/"},
		{"/q%3fx?y=2", "/q%3Fx/?y=2"},
		{"/p%2541", "/p%2541/"},
	}
	for _, tt := range tests {
		status, raw := rawGet(t, addr, tt.target)
		loc := ""
		if i := strings.Index(raw, "\r\nLocation: "); i >= 0 {
			loc, _, _ = strings.Cut(raw[i+len("\r\nLocation: "):], "\r\n")
		}
		if tt.want == "" {
			if status != 200 || loc != "" {
				t.Errorf("GET %s: got %d Location %q, want 200 and none", tt.target, status, loc)
			}
			continue
		}
		if status != 301 || loc != tt.want {
			t.Errorf("GET %s: got %d Location %q, want 301 %q", tt.target, status, loc, tt.want)
		}
	}
}

func TestListingJSONIsValid(t *testing.T) {
	s := newSite(t)
	url := h1test.Serve(t, newHandler(t, config.Static{Root: s.root, Browse: true}))
	r := get(t, "GET", url+"/files/", "Accept: application/json")
	var entries []entry
	if err := json.Unmarshal([]byte(r.body), &entries); err != nil {
		t.Fatalf("got %q: %v", r.body, err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
	}
	if got, want := strings.Join(names, ","), "dir,a.txt,b.txt"; got != want {
		t.Errorf("got entries %s, want %s (directories first, no dotfiles)", got, want)
	}
}

func TestSPAFallback(t *testing.T) {
	s := newSite(t)
	url := h1test.Serve(t, newHandler(t, config.Static{Root: s.root, SPAFallback: "/index.html"}))
	tests := []struct {
		path, want string
	}{
		{"/app/settings/profile", "<h1>home</h1>"},
		{"/style.css", "body{color:red}"},
		{"/sub/page.html", "<p>page</p>"},
		{"/style.css/below-a-file", "<h1>home</h1>"},
	}
	for _, tt := range tests {
		r := get(t, "GET", url+tt.path)
		if r.status != 200 || r.body != tt.want {
			t.Errorf("%s: got %d %q, want 200 %q", tt.path, r.status, r.body, tt.want)
		}
	}
	if r := get(t, "GET", url+"/app/x"); r.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("fallback Content-Type: got %q, want the fallback file's", r.header.Get("Content-Type"))
	}
	if r := get(t, "GET", url+"/.secret"); r.status != 404 {
		t.Errorf("dotfile with a fallback: got %d, want 404", r.status)
	}
}

func TestHeadSendsHeadersOnly(t *testing.T) {
	s := newSite(t)
	url := h1test.Serve(t, newHandler(t, config.Static{Root: s.root}))
	g := get(t, "GET", url+"/app.js")
	h := get(t, "HEAD", url+"/app.js")
	if h.status != 200 || h.body != "" {
		t.Fatalf("HEAD: got %d with %d body bytes, want 200 and none", h.status, len(h.body))
	}
	for _, k := range []string{"Content-Length", "Content-Type", "ETag", "Last-Modified"} {
		if h.header.Get(k) != g.header.Get(k) {
			t.Errorf("%s: HEAD %q, GET %q; want the same", k, h.header.Get(k), g.header.Get(k))
		}
	}
}

func TestMethodNotAllowed(t *testing.T) {
	s := newSite(t)
	url := h1test.Serve(t, newHandler(t, config.Static{Root: s.root}))
	for _, m := range []string{"POST", "PUT", "DELETE"} {
		r := get(t, m, url+"/index.html")
		if r.status != 405 || r.header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: got %d Allow %q, want 405 GET, HEAD", m, r.status, r.header.Get("Allow"))
		}
	}
}

// TestOnlyGetAndHeadServe: every other method, on any path (a file, a
// directory, a missing or hidden name), is a 405 with Allow and no file.
func TestOnlyGetAndHeadServe(t *testing.T) {
	s := newSite(t)
	url := h1test.Serve(t, newHandler(t, config.Static{Root: s.root, Browse: true, SPAFallback: "/index.html"}))
	for _, m := range []string{"OPTIONS", "PATCH", "TRACE", "PROPFIND", "get"} {
		for _, p := range []string{"/", "/index.html", "/sub", "/files/", "/missing", "/.secret"} {
			r := get(t, m, url+p)
			if r.status != 405 || r.header.Get("Allow") != "GET, HEAD" || strings.Contains(r.body, "<h1>") ||
				r.header.Get("ETag") != "" || r.header.Get("Location") != "" {
				t.Errorf("%s %s: got %d Allow %q body %q, want 405 with Allow: GET, HEAD and no file", m, p, r.status, r.header.Get("Allow"), r.body)
			}
		}
	}
}

func TestCacheControlRules(t *testing.T) {
	s := newSite(t)
	s.write(t, "assets/app.css", "x")
	url := h1test.Serve(t, newHandler(t, config.Static{Root: s.root, CacheControl: []config.CacheControlRule{
		{Pattern: "/assets/", Value: "public, max-age=31536000, immutable"},
		{Pattern: "*.html", Value: "no-cache"},
		{Pattern: "*", Value: "public, max-age=60"},
	}}))
	tests := []struct{ path, want string }{
		{"/assets/app.css", "public, max-age=31536000, immutable"},
		{"/sub/page.html", "no-cache"},
		{"/style.css", "public, max-age=60"},
	}
	for _, tt := range tests {
		if got := get(t, "GET", url+tt.path).header.Get("Cache-Control"); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestMissingRootIsAnError(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o644)
	for _, root := range []string{filepath.Join(dir, "nope"), file} {
		if _, err := New(&config.Static{Root: root}); err == nil {
			t.Errorf("New(%q): got no error, want one", root)
		}
	}
}

// TestRootRemovedWhileRunning: a root that disappears under a running
// generation answers 404, and the process goes on.
func TestRootRemovedWhileRunning(t *testing.T) {
	s := newSite(t)
	url := h1test.Serve(t, newHandler(t, config.Static{Root: s.root}))
	if err := os.RemoveAll(s.root); err != nil {
		t.Fatal(err)
	}
	if r := get(t, "GET", url+"/index.html"); r.status != 404 {
		t.Errorf("got %d, want 404", r.status)
	}
}

func TestModTimeHasSecondPrecision(t *testing.T) {
	s := newSite(t)
	p := filepath.Join(s.root, "style.css")
	mt := time.Date(2024, 5, 6, 7, 8, 9, 500_000_000, time.UTC)
	os.Chtimes(p, mt, mt)
	url := h1test.Serve(t, newHandler(t, config.Static{Root: s.root}))
	r := get(t, "GET", url+"/style.css", "If-Modified-Since: "+mt.Format(http.TimeFormat))
	if r.status != 304 {
		t.Errorf("If-Modified-Since equal to the second: got %d, want 304", r.status)
	}
}

// fakeClock is a time source the test moves by hand.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// TestRootSwappedByDeployIsServedWithoutReload: the root path is a
// symbolic link a deploy swaps, or a directory renamed into place; the
// new tree is served once the root is looked at again (every second),
// without a reload.
func TestRootSwappedByDeployIsServedWithoutReload(t *testing.T) {
	base := t.TempDir()
	for _, rel := range []string{"r1", "r2", "r3"} {
		os.MkdirAll(filepath.Join(base, rel), 0o755)
		os.WriteFile(filepath.Join(base, rel, "index.html"), []byte(rel), 0o644)
	}
	current := filepath.Join(base, "current")
	if err := os.Symlink("r1", current); err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, config.Static{Root: current})
	clock := &fakeClock{}
	clock.ns.Store(h.checked.Load())
	h.now = clock.now
	url := h1test.Serve(t, h)
	body := func() string { return get(t, "GET", url+"/").body }
	if got := body(); got != "r1" {
		t.Fatalf("got %q, want r1", got)
	}
	// Swap the link atomically, as deploy tools do.
	os.Symlink("r2", current+".new")
	if err := os.Rename(current+".new", current); err != nil {
		t.Fatal(err)
	}
	if got := body(); got != "r1" {
		t.Errorf("within the second: got %q, want r1 (the root is looked at once a second)", got)
	}
	clock.advance(2 * time.Second)
	if got := body(); got != "r2" {
		t.Errorf("after the swap: got %q, want r2", got)
	}
	// Replace the link by a directory renamed into place.
	os.Remove(current)
	if err := os.Rename(filepath.Join(base, "r3"), current); err != nil {
		t.Fatal(err)
	}
	clock.advance(2 * time.Second)
	if got := body(); got != "r3" {
		t.Errorf("after the rename: got %q, want r3", got)
	}
}
