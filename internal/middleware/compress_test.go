package middleware

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/listener/h1/h1test"
)

// pageHTML is n bytes of markup that compresses like a real page.
func pageHTML(n int) []byte {
	words := []string{"proxy", "cache", "upstream", "listener", "route", "header", "latency", "socket"}
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html>\n<html><body><table>\n")
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "<tr class=\"row%d\"><td>%d</td><td>%s %s</td></tr>\n", i%7, i, words[i%8], words[(i*5+3)%8])
	}
	return b.Bytes()[:n]
}

func compressed(t testing.TB, cfg config.Compress, h http.Handler) string {
	t.Helper()
	c, err := Compress(&cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	return h1test.Serve(t, c)
}

var rawClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableCompression: true}}

func fetch(t testing.TB, method, url string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Add(k, v)
	}
	res, err := rawClient.Do(req)
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

func decoder(t testing.TB, coding string, r io.Reader) io.Reader {
	t.Helper()
	switch coding {
	case "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		return zr
	case "br":
		return brotli.NewReader(r)
	case "zstd":
		zr, err := zstd.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(zr.Close)
		return zr
	}
	return r
}

func decodeAll(t testing.TB, coding string, b []byte) []byte {
	t.Helper()
	out, err := io.ReadAll(decoder(t, coding, bytes.NewReader(b)))
	if err != nil {
		t.Fatalf("decoding %s: %v", coding, err)
	}
	return out
}

// fixed answers with body, a type and (when withLength) a Content-Length.
func fixed(body []byte, ct string, withLength bool, extra ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		for _, e := range extra {
			k, v, _ := strings.Cut(e, ": ")
			h.Add(k, v)
		}
		if withLength {
			h.Set("Content-Length", strconv.Itoa(len(body)))
		}
		// Several writes, as a handler streaming a page would.
		for b := body; len(b) > 0; {
			n := min(len(b), 7000)
			w.Write(b[:n])
			b = b[n:]
		}
	})
}

func TestDecompressingEveryEncodingGivesTheOriginal(t *testing.T) {
	page := pageHTML(100 << 10)
	for _, withLength := range []bool{true, false} {
		url := compressed(t, config.Compress{}, fixed(page, "text/html; charset=utf-8", withLength, `Etag: "v1"`))
		for _, coding := range []string{"gzip", "br", "zstd"} {
			t.Run(fmt.Sprintf("%s/length=%v", coding, withLength), func(t *testing.T) {
				res, body := fetch(t, "GET", url, "Accept-Encoding: "+coding)
				if got := res.Header.Get("Content-Encoding"); got != coding {
					t.Fatalf("Content-Encoding: got %q, want %q", got, coding)
				}
				if got := decodeAll(t, coding, body); !bytes.Equal(got, page) {
					t.Fatalf("decoded %d bytes, want the %d original bytes", len(got), len(page))
				}
				if len(body) > len(page)/4 {
					t.Errorf("%s: %d bytes from %d, want at least 4x smaller", coding, len(body), len(page))
				}
				if res.Header.Get("Vary") != "Accept-Encoding" {
					t.Errorf("Vary: got %q", res.Header.Get("Vary"))
				}
				if got := res.Header.Get("Etag"); got != `W/"v1"` {
					t.Errorf("ETag: got %q, want W/\"v1\"", got)
				}
				if res.ContentLength != -1 && res.ContentLength != int64(len(body)) {
					t.Errorf("Content-Length %d for %d encoded bytes", res.ContentLength, len(body))
				}
			})
		}
	}
}

func TestCompressOnlyWhatPays(t *testing.T) {
	big := pageHTML(8 << 10)
	small := pageHTML(100)
	tests := []struct {
		name     string
		h        http.Handler
		method   string
		ae       string
		encoded  bool
		wantVary string
	}{
		{"big HTML", fixed(big, "text/html", true), "GET", "gzip", true, "Accept-Encoding"},
		{"JSON", fixed(big, "application/json", true), "GET", "gzip", true, "Accept-Encoding"},
		{"suffix type", fixed(big, "application/ld+json", true), "GET", "gzip", true, "Accept-Encoding"},
		{"type case-insensitive", fixed(big, "Text/HTML; Charset=UTF-8", true), "GET", "gzip", true, "Accept-Encoding"},
		{"under min_size", fixed(small, "text/html", true), "GET", "gzip", false, "Accept-Encoding"},
		{"under min_size, unknown length", fixed(small, "text/html", false), "GET", "gzip", false, "Accept-Encoding"},
		{"image is compressed already", fixed(big, "image/png", true), "GET", "gzip", false, ""},
		{"woff2 is compressed already", fixed(big, "font/woff2", true), "GET", "gzip", false, ""},
		{"no Content-Type", fixed(big, "", true), "GET", "gzip", false, ""},
		{"no Accept-Encoding still varies", fixed(big, "text/html", true), "GET", "", false, "Accept-Encoding"},
		{"unknown coding only", fixed(big, "text/html", true), "GET", "compress", false, "Accept-Encoding"},
		{"no-transform", fixed(big, "text/html", true, "Cache-Control: public, no-transform"), "GET", "gzip", false, "Accept-Encoding"},
		{"identity;q=0 forces even small", fixed(small, "text/html", true), "GET", "gzip, identity;q=0", true, "Accept-Encoding"},
		{"existing Vary is kept", fixed(big, "text/html", true, "Vary: Origin"), "GET", "gzip", true, "Origin, Accept-Encoding"},
		{"Vary already has it", fixed(big, "text/html", true, "Vary: accept-encoding"), "GET", "gzip", true, "accept-encoding"},
		{"HEAD gets the GET headers", fixed(big, "text/html", true), "HEAD", "gzip", true, "Accept-Encoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := compressed(t, config.Compress{}, tt.h)
			var hdr []string
			if tt.ae != "" {
				hdr = append(hdr, "Accept-Encoding: "+tt.ae)
			}
			res, body := fetch(t, tt.method, url, hdr...)
			if got := res.Header.Get("Content-Encoding") == "gzip"; got != tt.encoded {
				t.Fatalf("encoded: got %v (Content-Encoding %q), want %v", got, res.Header.Get("Content-Encoding"), tt.encoded)
			}
			if got := strings.Join(res.Header.Values("Vary"), ", "); got != tt.wantVary {
				t.Errorf("Vary: got %q, want %q", got, tt.wantVary)
			}
			if tt.method == "HEAD" {
				if len(body) != 0 {
					t.Errorf("HEAD: got %d body bytes", len(body))
				}
				return
			}
			if !tt.encoded && res.Header.Get("Content-Length") == "" {
				t.Errorf("identity response lost its Content-Length")
			}
		})
	}
}

func TestNoDoubleCompression(t *testing.T) {
	page := pageHTML(20 << 10)
	var pre bytes.Buffer
	zw := gzip.NewWriter(&pre)
	zw.Write(page)
	zw.Close()
	url := compressed(t, config.Compress{}, fixed(pre.Bytes(), "text/html", true, "Content-Encoding: gzip"))
	for _, ae := range []string{"gzip", "zstd, br, gzip"} {
		res, body := fetch(t, "GET", url, "Accept-Encoding: "+ae)
		if res.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(body, pre.Bytes()) {
			t.Errorf("%s: got Content-Encoding %q and %d bytes, want the upstream's gzip bytes untouched",
				ae, res.Header.Get("Content-Encoding"), len(body))
		}
	}
}

func TestRangeResponsesPassUntouched(t *testing.T) {
	page := pageHTML(20 << 10)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Range", "bytes 0-9999/20480")
		w.Header().Set("Content-Length", "10000")
		w.WriteHeader(http.StatusPartialContent)
		w.Write(page[:10000])
	})
	res, body := fetch(t, "GET", compressed(t, config.Compress{}, h), "Accept-Encoding: gzip", "Range: bytes=0-9999")
	if res.StatusCode != 206 || res.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, page[:10000]) {
		t.Errorf("got %d %q, %d bytes; want the 206 untouched", res.StatusCode, res.Header.Get("Content-Encoding"), len(body))
	}
}

func TestCompressedResponseHeaders(t *testing.T) {
	page := pageHTML(20 << 10)
	url := compressed(t, config.Compress{}, fixed(page, "text/html", true, `Etag: "abc"`, "Accept-Ranges: bytes"))
	res, _ := fetch(t, "GET", url, "Accept-Encoding: br")
	if res.Header.Get("Accept-Ranges") != "" {
		t.Errorf("Accept-Ranges: got %q, want none on an encoded response", res.Header.Get("Accept-Ranges"))
	}
	if res.Header.Get("Etag") != `W/"abc"` {
		t.Errorf("ETag: got %q, want W/\"abc\"", res.Header.Get("Etag"))
	}
	if res.Header.Get("Content-Length") == strconv.Itoa(len(page)) {
		t.Errorf("Content-Length still the original's")
	}
	// A 304 confirming the compressed variant carries the same weak tag.
	nm := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Etag", `"abc"`)
		w.WriteHeader(http.StatusNotModified)
	})
	res, _ = fetch(t, "GET", compressed(t, config.Compress{}, nm), "Accept-Encoding: br", `If-None-Match: W/"abc"`)
	if res.StatusCode != 304 || res.Header.Get("Etag") != `W/"abc"` || res.Header.Get("Content-Encoding") != "" {
		t.Errorf("304: got %d ETag %q Content-Encoding %q", res.StatusCode, res.Header.Get("Etag"), res.Header.Get("Content-Encoding"))
	}
}

func TestConfiguredPreferenceAndLevels(t *testing.T) {
	page := pageHTML(50 << 10)
	url := compressed(t, config.Compress{Encodings: []string{"gzip", "br"}, Levels: config.CompressLevels{Gzip: 9, Brotli: 5}},
		fixed(page, "text/html", true))
	res, body := fetch(t, "GET", url, "Accept-Encoding: zstd, br, gzip")
	if res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("got %q, want gzip (first offered; zstd not offered)", res.Header.Get("Content-Encoding"))
	}
	if !bytes.Equal(decodeAll(t, "gzip", body), page) {
		t.Fatal("decoded body differs")
	}
	if _, err := Compress(&config.Compress{Levels: config.CompressLevels{Gzip: 12}}, http.NotFoundHandler()); err == nil {
		t.Error("gzip level 12: got no error, want one at build time")
	}
	if _, err := Compress(&config.Compress{Encodings: []string{"lz4"}}, http.NotFoundHandler()); err == nil {
		t.Error("unknown encoding: got no error")
	}
}

// TestSSENotDelayed: each event, flushed by the handler, reaches the
// client decodable before the handler writes the next one, for each
// coding and for identity (a flush decides at once, whatever the size).
func TestSSENotDelayed(t *testing.T) {
	for _, coding := range []string{"gzip", "br", "zstd", "identity"} {
		t.Run(coding, func(t *testing.T) {
			next := make(chan struct{})
			done := make(chan struct{})
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer close(done)
				w.Header().Set("Content-Type", "text/event-stream")
				for i := range 3 {
					fmt.Fprintf(w, "data: event %d\n\n", i)
					w.(http.Flusher).Flush()
					select {
					case <-next:
					case <-time.After(10 * time.Second):
						return
					}
				}
			})
			url := compressed(t, config.Compress{}, h)
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("Accept-Encoding", coding)
			res, err := rawClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if want := strings.TrimPrefix(coding, "identity"); res.Header.Get("Content-Encoding") != want {
				t.Fatalf("Content-Encoding: got %q", res.Header.Get("Content-Encoding"))
			}
			br := bufio.NewReader(decoder(t, coding, res.Body))
			for i := range 3 {
				line, err := br.ReadString('\n')
				if want := fmt.Sprintf("data: event %d\n", i); err != nil || line != want {
					t.Fatalf("event %d: got %q (%v), want %q before the next is written", i, line, err, want)
				}
				br.ReadString('\n') // the blank line
				next <- struct{}{}
			}
			<-done
		})
	}
}

// TestEncoderPoolsResetBetweenResponses: encoders are reused; every
// response must still decode to its own body.
func TestEncoderPoolsResetBetweenResponses(t *testing.T) {
	pages := [][]byte{pageHTML(3 << 10), pageHTML(40 << 10), pageHTML(200 << 10)}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, _ := strconv.Atoi(r.URL.Query().Get("i"))
		w.Header().Set("Content-Type", "text/plain")
		w.Write(pages[i%len(pages)])
	})
	url := compressed(t, config.Compress{}, h)
	codings := []string{"gzip", "br", "zstd"}
	for i := range 30 {
		c := codings[i%3]
		res, body := fetch(t, "GET", url+"?i="+strconv.Itoa(i), "Accept-Encoding: "+c)
		if res.Header.Get("Content-Encoding") != c || !bytes.Equal(decodeAll(t, c, body), pages[i%len(pages)]) {
			t.Fatalf("request %d (%s): wrong body", i, c)
		}
	}
}

// readFromSpy is a ResponseWriter that records whether its ReadFrom was
// used, standing in for the engine's sendfile path.
type readFromSpy struct {
	*httptest.ResponseRecorder
	used bool
}

func (s *readFromSpy) ReadFrom(r io.Reader) (int64, error) {
	s.used = true
	return io.Copy(s.ResponseRecorder, r)
}

func TestCompressKeepsReaderFromForIdentity(t *testing.T) {
	body := bytes.Repeat([]byte{0xAB}, 64<<10)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp4")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.(io.ReaderFrom).ReadFrom(bytes.NewReader(body))
	})
	c, _ := Compress(&config.Compress{}, h)
	spy := &readFromSpy{ResponseRecorder: httptest.NewRecorder()}
	req := httptest.NewRequest("GET", "/v.mp4", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	c.ServeHTTP(spy, req)
	if !spy.used || !bytes.Equal(spy.Body.Bytes(), body) {
		t.Errorf("ReadFrom passed through: %v, body equal: %v; want both", spy.used, bytes.Equal(spy.Body.Bytes(), body))
	}
}

// FuzzTypeMatch: Content-Type values come from upstreams. Matching never
// panics and ignores case and parameters.
func FuzzTypeMatch(f *testing.F) {
	m := newTypeMatcher(config.DefaultCompressTypes)
	for _, s := range []string{"text/html", "Text/HTML; charset=utf-8", "application/ld+json", "image/png", "", ";", "text/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ct string) {
		got := m.match(ct)
		if upper := strings.ToUpper(ct); m.match(upper) != got && strings.ToLower(upper) == strings.ToLower(ct) {
			t.Fatalf("%q and %q differ", ct, upper)
		}
		if m.match(ct+"; charset=utf-8") != got && !strings.Contains(ct, ";") {
			t.Fatalf("%q: a parameter changed the answer", ct)
		}
	})
}
