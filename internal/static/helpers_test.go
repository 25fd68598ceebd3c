package static

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/portico-proxy/portico/internal/config"
)

// site is a document root in a temp dir, with a secret beside it (outside
// the root) that no request may reach.
type site struct {
	base, root string
}

const secret = "TOP-SECRET-OUTSIDE-ROOT"

func newSite(t testing.TB) *site {
	t.Helper()
	base := t.TempDir()
	s := &site{base: base, root: filepath.Join(base, "root")}
	s.write(t, "../secret.txt", secret)
	s.write(t, "../outside/secret.txt", secret)
	s.write(t, "index.html", "<h1>home</h1>")
	s.write(t, "app.js", strings.Repeat("console.log('portico');\n", 100))
	s.write(t, "style.css", "body{color:red}")
	s.write(t, "data.json", `{"a":1}`)
	s.write(t, "logo.png", "\x89PNG fake")
	s.write(t, "sub/index.html", "<h1>sub</h1>")
	s.write(t, "sub/page.html", "<p>page</p>")
	s.write(t, "sub/.hidden", "hidden")
	s.write(t, ".secret", "dotfile")
	s.write(t, ".well-known/security.txt", "Contact: ops@example.com")
	s.write(t, "files/a.txt", "a")
	s.write(t, "files/b.txt", "bb")
	s.write(t, "files/.env", "KEY=1")
	if err := os.Mkdir(filepath.Join(s.root, "files", "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(base, "outside"), filepath.Join(s.root, "link-out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(base, "secret.txt"), filepath.Join(s.root, "link-file")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub/page.html", filepath.Join(s.root, "link-in.html")); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *site) write(t testing.TB, rel, body string) {
	t.Helper()
	p := filepath.Join(s.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// precompress writes rel.gz, rel.br and rel.zst with the real encoders.
func (s *site) precompress(t testing.TB, rel string, codings ...string) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(s.root, rel))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range codings {
		var b bytes.Buffer
		var w io.WriteCloser
		switch c {
		case "gz":
			w = gzip.NewWriter(&b)
		case "br":
			w = brotli.NewWriter(&b)
		case "zst":
			w, _ = zstd.NewWriter(&b)
		}
		w.Write(src)
		w.Close()
		s.write(t, rel+"."+c, b.String())
	}
}

func newHandler(t testing.TB, cfg config.Static) *Handler {
	t.Helper()
	if len(cfg.Index) == 0 {
		cfg.Index = []string{"index.html"}
	}
	h, err := New(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// newHandlerClock is newHandler with a clock the test moves: the root and
// cached small files are looked at again when it passes a second.
func newHandlerClock(t testing.TB, cfg config.Static) (*Handler, *fakeClock) {
	t.Helper()
	h := newHandler(t, cfg)
	c := &fakeClock{}
	c.ns.Store(h.checked.Load())
	h.now = c.now
	return h, c
}

var client = &http.Client{
	Timeout:       10 * time.Second,
	Transport:     &http.Transport{DisableCompression: true},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

type resp struct {
	status int
	header http.Header
	body   string
}

// get sends one request with the given header lines ("Name: value").
func get(t testing.TB, method, url string, headers ...string) resp {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Add(k, v)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp{res.StatusCode, res.Header, string(b)}
}

// rawGet sends a request line as written, without the client's own path
// cleaning, and returns the status and the whole response.
func rawGet(t testing.TB, addr, target string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	b, _ := io.ReadAll(c)
	var status int
	if len(b) >= 12 {
		for _, d := range b[9:12] {
			status = status*10 + int(d-'0')
		}
	}
	return status, string(b)
}
