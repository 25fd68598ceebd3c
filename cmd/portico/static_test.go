package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/portico-proxy/portico/internal/config"
)

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func fetchEncoded(t *testing.T, url, ae string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept-Encoding", ae)
	res, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

// TestStaticAndCompressThroughPortico runs a whole config: a static route
// and a proxied route, both with compress, behind the access log.
func TestStaticAndCompressThroughPortico(t *testing.T) {
	root := t.TempDir()
	js := strings.Repeat("function portico() { return 42; }\n", 200)
	video := string(bytes.Repeat([]byte{0, 1, 2, 3, 250, 251}, 50_000))
	writeFiles(t, root, map[string]string{"app.js": js, "movie.mp4": video, "index.html": "<h1>home</h1>"})
	page := strings.Repeat("<p>upstream page</p>\n", 500)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, page)
	}))
	t.Cleanup(backend.Close)
	cfg := fmt.Sprintf(`listeners:
  - addr: "127.0.0.1:0"
routes:
  - match: /api/
    proxy: %q
    compress: true
  - match: /
    static: %q
    compress: {encodings: [zstd, gzip]}
access_log: {path: %q}
`, backend.URL, root, filepath.Join(t.TempDir(), "access.log"))
	_, url, _ := testInstance(t, cfg)

	res, body := fetchEncoded(t, url+"/app.js", "gzip")
	if res.Header.Get("Content-Encoding") != "gzip" || res.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("app.js: got Content-Encoding %q Vary %q", res.Header.Get("Content-Encoding"), res.Header.Get("Vary"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(zr); string(got) != js {
		t.Fatal("app.js: decoded body differs from the file")
	}

	res, body = fetchEncoded(t, url+"/movie.mp4", "gzip, zstd")
	if res.Header.Get("Content-Encoding") != "" || string(body) != video || res.Header.Get("Content-Type") != "video/mp4" {
		t.Fatalf("movie.mp4: got Content-Encoding %q, %d bytes; want the file as it is", res.Header.Get("Content-Encoding"), len(body))
	}

	res, body = fetchEncoded(t, url+"/api/x", "zstd")
	if res.Header.Get("Content-Encoding") != "zstd" {
		t.Fatalf("proxied page: got Content-Encoding %q, want zstd", res.Header.Get("Content-Encoding"))
	}
	zd, _ := zstd.NewReader(bytes.NewReader(body))
	defer zd.Close()
	if got, _ := io.ReadAll(zd); string(got) != page {
		t.Fatal("proxied page: decoded body differs")
	}
}

func TestMissingStaticRootIsAConfigErrorWithLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "portico.yaml")
	missing := filepath.Join(dir, "nope")
	os.WriteFile(path, []byte(fmt.Sprintf("listeners:\n  - addr: \"127.0.0.1:0\"\nroutes:\n  - static:\n      root: %q\n", missing)), 0o644)
	_, err := loadConfig(path)
	if err == nil {
		t.Fatal("got no error, want one")
	}
	if want := path + ":5:13: routes[0].static.root: directory"; !strings.Contains(err.Error(), want) {
		t.Errorf("got %q, want it to contain %q", err, want)
	}
}

func TestReloadWithMissingRootKeepsRunningGeneration(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"index.html": "v1"})
	yaml := "listeners: [{addr: \"127.0.0.1:0\"}]\nroutes:\n  - static: %q\n"
	inst, url, path := testInstance(t, fmt.Sprintf(yaml, root))
	inst.load = func() (*config.Config, error) { return loadConfig(path) }
	os.WriteFile(path, []byte(fmt.Sprintf(yaml, filepath.Join(root, "gone"))), 0o644)
	if err := inst.reload(); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("reload: got %v, want a missing-root error", err)
	}
	res, body := fetchEncoded(t, url+"/", "identity")
	if res.StatusCode != 200 || string(body) != "v1" {
		t.Fatalf("after the broken reload: got %d %q, want the old root's page", res.StatusCode, body)
	}
}

// TestSSEThroughProxyAndCompressIsNotDelayed: a backend's server-sent
// events, proxied and gzip-compressed, reach the client one by one.
func TestSSEThroughProxyAndCompressIsNotDelayed(t *testing.T) {
	next := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: tick %d\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
	}))
	t.Cleanup(backend.Close)
	_, url, _ := testInstance(t, fmt.Sprintf("listeners: [{addr: \"127.0.0.1:0\"}]\nroutes:\n  - proxy: %q\n    compress: true\n", backend.URL))
	req, _ := http.NewRequest("GET", url+"/events", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	res, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding: got %q, want gzip", res.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(zr)
	for i := range 3 {
		line, err := br.ReadString('\n')
		if want := fmt.Sprintf("data: tick %d\n", i); err != nil || line != want {
			t.Fatalf("event %d: got %q (%v), want %q before the backend sends the next", i, line, err, want)
		}
		br.ReadString('\n')
		if i < 2 {
			next <- struct{}{}
		}
	}
}
