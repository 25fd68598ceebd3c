package middleware

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/listener/h1/h1test"
)

// serveDirect runs one request through a compress middleware built from
// cfg around h, without a network, and returns the recorded response.
func serveDirect(t testing.TB, c http.Handler, method string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, "/", nil)
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Add(k, v)
	}
	w := httptest.NewRecorder()
	c.ServeHTTP(w, req)
	return w
}

func mustCompress(t testing.TB, cfg config.Compress, h http.Handler) http.Handler {
	t.Helper()
	c, err := Compress(&cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCompressNegotiationEndToEnd: the middleware sends the coding
// Accept-Encoding asks for (RFC 9110 12.5.3), with the route's order on
// ties, and identity when none is acceptable. The parser's own cases are in
// httpsyntax; these check what reaches the client.
func TestCompressNegotiationEndToEnd(t *testing.T) {
	page := pageHTML(8 << 10)
	long := strings.Repeat("x-unknown-coding;q=0.5, ", 2000) + "br;q=0.1"
	tests := []struct {
		name, ae, want string // want: Content-Encoding, "" for identity
	}{
		{"gzip;q=0 refuses gzip", "gzip;q=0", ""},
		{"gzip;q=0 with br", "gzip;q=0, br", "br"},
		{"star;q=0 alone", "*;q=0", ""},
		{"star;q=0 with gzip", "*;q=0, gzip;q=0.2", "gzip"},
		{"identity;q=0 and nothing offered", "identity;q=0, compress", ""},
		{"star gives the route's first", "*", "zstd"},
		{"star excluded but named wins", "zstd;q=0, *", "br"},
		{"upper case", "GZIP", "gzip"},
		{"whitespace", " gzip ;  q=0.5 ,\tbr ; q=0.4 ", "gzip"},
		{"malformed q skips element", "zstd;q=high, gzip", "gzip"},
		{"q above 1 skips element", "br;q=1.5, gzip;q=0.1", "gzip"},
		{"best q wins", "zstd;q=0.2, br;q=0.3, gzip;q=0.9", "gzip"},
		{"tie goes to the route's order", "gzip;q=0.7, br;q=0.7, zstd;q=0.7", "zstd"},
		{"very long field", long, "br"},
	}
	c := mustCompress(t, config.Compress{}, fixed(page, "text/html", true))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serveDirect(t, c, "GET", "Accept-Encoding: "+tt.ae)
			if got := w.Header().Get("Content-Encoding"); got != tt.want {
				t.Fatalf("Content-Encoding: got %q, want %q", got, tt.want)
			}
			if got := decodeAll(t, tt.want, w.Body.Bytes()); !bytes.Equal(got, page) {
				t.Fatalf("body: got %d bytes, want the %d original", len(got), len(page))
			}
		})
	}
}

// TestCompressLeavesUntouched: responses that must not be re-encoded go
// through byte for byte with their own headers.
func TestCompressLeavesUntouched(t *testing.T) {
	page := pageHTML(8 << 10)
	status := func(code int, extra ...string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Etag", `"x"`)
			for _, e := range extra {
				k, v, _ := strings.Cut(e, ": ")
				w.Header().Add(k, v)
			}
			w.WriteHeader(code)
			if code != 204 && code != 304 {
				w.Write(page)
			}
		})
	}
	tests := []struct {
		name string
		h    http.Handler
		code int
	}{
		{"Content-Encoding br from the backend", fixed(page, "text/html", true, "Content-Encoding: br"), 200},
		{"Content-Encoding without length", fixed(page, "text/html", false, "Content-Encoding: deflate"), 200},
		{"416 with Content-Range", status(416, "Content-Range: bytes */8192"), 416},
		{"200 with Content-Range", status(200, "Content-Range: bytes 0-8191/8192"), 200},
		{"206", status(206), 206},
		{"204", status(204), 204},
		{"no-transform", status(200, "Cache-Control: no-transform"), 200},
		{"No-Transform upper case among others", status(200, "Cache-Control: max-age=60,NO-TRANSFORM"), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCompress(t, config.Compress{}, tt.h)
			w := serveDirect(t, c, "GET", "Accept-Encoding: gzip, br, zstd")
			if w.Code != tt.code {
				t.Fatalf("status %d, want %d", w.Code, tt.code)
			}
			if ce := w.Header().Get("Content-Encoding"); ce != "" && ce != "br" && ce != "deflate" {
				t.Errorf("Content-Encoding: got %q", ce)
			}
			if et := w.Header().Get("Etag"); et == `W/"x"` {
				t.Errorf("ETag weakened on an untouched response")
			}
			if tt.code == 204 {
				if w.Body.Len() != 0 {
					t.Errorf("204 got %d body bytes", w.Body.Len())
				}
				return
			}
			if !bytes.Equal(w.Body.Bytes(), page) {
				t.Errorf("body changed: %d bytes, want the %d sent", w.Body.Len(), len(page))
			}
		})
	}
}

// TestCompressRangeRequestFullAnswer: a server may ignore Range (RFC 9110
// 14.2); a 200 to a Range request is a whole representation, compressed
// as any other, and its Accept-Ranges goes with the encoding.
func TestCompressRangeRequestFullAnswer(t *testing.T) {
	page := pageHTML(8 << 10)
	c := mustCompress(t, config.Compress{}, fixed(page, "text/html", true))
	w := serveDirect(t, c, "GET", "Accept-Encoding: gzip", "Range: bytes=0-99")
	if w.Code != 200 || w.Header().Get("Content-Encoding") != "gzip" || !bytes.Equal(decodeAll(t, "gzip", w.Body.Bytes()), page) {
		t.Fatalf("got %d %q", w.Code, w.Header().Get("Content-Encoding"))
	}
}

// TestCompressVaryAndAcceptRanges: Vary: Accept-Encoding is added once and
// never next to "*"; Accept-Ranges stays on identity responses only.
func TestCompressVaryAndAcceptRanges(t *testing.T) {
	page := pageHTML(8 << 10)
	tests := []struct {
		name, vary, wantVary, ae string
	}{
		{"star", "*", "*", "gzip"},
		{"star among others", "Origin, *", "Origin, *", "gzip"},
		{"two lines, one has it", "Origin|Accept-Encoding", "Origin, Accept-Encoding", "gzip"},
		{"identity keeps Vary", "Origin", "Origin, Accept-Encoding", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var extra []string
			for _, v := range strings.Split(tt.vary, "|") {
				extra = append(extra, "Vary: "+v)
			}
			extra = append(extra, "Accept-Ranges: bytes")
			c := mustCompress(t, config.Compress{}, fixed(page, "text/html", true, extra...))
			var hdr []string
			if tt.ae != "" {
				hdr = append(hdr, "Accept-Encoding: "+tt.ae)
			}
			w := serveDirect(t, c, "GET", hdr...)
			if got := strings.Join(w.Header().Values("Vary"), ", "); got != tt.wantVary {
				t.Errorf("Vary: got %q, want %q", got, tt.wantVary)
			}
			encoded := w.Header().Get("Content-Encoding") != ""
			if ar := w.Header().Get("Accept-Ranges"); (ar == "") != encoded {
				t.Errorf("Accept-Ranges %q on a response encoded=%v", ar, encoded)
			}
		})
	}
}

// TestCompressSmallPassesByteForByte: a body under min_size, or of a type
// not listed, reaches the client as written, however it was written.
func TestCompressSmallPassesByteForByte(t *testing.T) {
	small := pageHTML(900)
	big := bytes.Repeat([]byte{0x89, 'P', 'N', 'G', 0}, 4000)
	pieces := func(body []byte, ct string, flush bool) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ct)
			for i := 0; i < len(body); i += 3 {
				w.Write(body[i:min(i+3, len(body))])
				if flush && i%300 == 0 {
					w.(http.Flusher).Flush()
				}
			}
		})
	}
	tests := []struct {
		name string
		h    http.Handler
		body []byte
	}{
		{"small in 3-byte writes", pieces(small, "text/html", false), small},
		{"unlisted type in 3-byte writes", pieces(big, "image/png", false), big},
		{"unlisted type with flushes", pieces(big, "image/png", true), big},
		{"small ReadFrom, no length", copyHandler(small, "text/html", ""), small},
		{"unlisted ReadFrom, no length", copyHandler(big, "image/png", ""), big},
		{"empty body", pieces(nil, "text/html", false), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCompress(t, config.Compress{}, tt.h)
			w := serveDirect(t, c, "GET", "Accept-Encoding: gzip, br, zstd")
			if ce := w.Header().Get("Content-Encoding"); ce != "" {
				t.Fatalf("Content-Encoding %q, want identity", ce)
			}
			if !bytes.Equal(w.Body.Bytes(), tt.body) {
				t.Fatalf("body: %d bytes, want the %d written", w.Body.Len(), len(tt.body))
			}
		})
	}
}

// TestCompressReadFromUnknownLength: a source read with ReadFrom and no
// Content-Length is held back up to min_size like written bytes: large ones
// are compressed whole, small ones (above) are not.
func TestCompressReadFromUnknownLength(t *testing.T) {
	for _, size := range []int{1023, 1024, 5000, 200 << 10} {
		page := pageHTML(size)
		c := mustCompress(t, config.Compress{}, copyHandler(page, "text/html", ""))
		w := serveDirect(t, c, "GET", "Accept-Encoding: gzip")
		want := ""
		if size >= 1024 {
			want = "gzip"
		}
		if ce := w.Header().Get("Content-Encoding"); ce != want {
			t.Fatalf("%d bytes: Content-Encoding %q, want %q", size, ce, want)
		}
		if got := decodeAll(t, want, w.Body.Bytes()); !bytes.Equal(got, page) {
			t.Fatalf("%d bytes: decoded %d", size, len(got))
		}
	}
}

// copyHandler sends body through the writer's ReadFrom, as static files
// do, with the given Content-Length ("" for none).
func copyHandler(body []byte, ct, length string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ct)
		if length != "" {
			w.Header().Set("Content-Length", length)
		}
		n, err := w.(io.ReaderFrom).ReadFrom(bytes.NewReader(body))
		if n != int64(len(body)) || err != nil {
			panic(fmt.Sprintf("ReadFrom returned %d, %v for %d bytes", n, err, len(body)))
		}
	})
}

// TestCompressForcedAddsVary: identity;q=0 gets an unlisted type
// compressed; that response depends on Accept-Encoding, so it must say so,
// or a shared cache hands the encoded body to clients that never asked.
func TestCompressForcedAddsVary(t *testing.T) {
	body := bytes.Repeat([]byte("binary-ish payload "), 500)
	c := mustCompress(t, config.Compress{}, fixed(body, "application/octet-stream", true, "Vary: Origin"))
	w := serveDirect(t, c, "GET", "Accept-Encoding: gzip, identity;q=0")
	if w.Header().Get("Content-Encoding") != "gzip" || !bytes.Equal(decodeAll(t, "gzip", w.Body.Bytes()), body) {
		t.Fatalf("got Content-Encoding %q, want gzip", w.Header().Get("Content-Encoding"))
	}
	if got := strings.Join(w.Header().Values("Vary"), ", "); got != "Origin, Accept-Encoding" {
		t.Errorf("Vary: got %q, want %q", got, "Origin, Accept-Encoding")
	}
}

// TestCompressHEADMatchesGET: a HEAD answer carries the header fields a
// GET would (RFC 9110 9.3.2), whether the handler declares a length,
// writes the body (discarded by the server) or writes nothing.
func TestCompressHEADMatchesGET(t *testing.T) {
	small, big := pageHTML(500), pageHTML(8<<10)
	headerOnly := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(200)
		if r.Method != "HEAD" {
			w.Write(big)
		}
	})
	tests := []struct {
		name string
		h    http.Handler
	}{
		{"small, length", fixed(small, "text/html", true)},
		{"small, no length", fixed(small, "text/html", false)},
		{"big, length", fixed(big, "text/html", true)},
		{"big, no length", fixed(big, "text/html", false)},
		{"small ReadFrom, no length", copyHandler(small, "text/html", "")},
		{"big ReadFrom, no length", copyHandler(big, "text/html", "")},
		{"HEAD writes nothing", headerOnly},
	}
	fields := []string{"Content-Encoding", "Content-Length", "Vary", "Etag", "Accept-Ranges"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCompress(t, config.Compress{}, tt.h)
			get := serveDirect(t, c, "GET", "Accept-Encoding: gzip")
			head := serveDirect(t, c, "HEAD", "Accept-Encoding: gzip")
			for _, f := range fields {
				if f == "Content-Length" && get.Header().Get(f) == "" {
					continue // computed by the server for a GET that ends early
				}
				if g, h := get.Header().Values(f), head.Header().Values(f); strings.Join(g, ",") != strings.Join(h, ",") {
					t.Errorf("%s: GET %q, HEAD %q", f, g, h)
				}
			}
			url := h1test.Serve(t, c) // and through the engine, which frames HEAD itself
			gres, _ := fetch(t, "GET", url, "Accept-Encoding: gzip")
			hres, hbody := fetch(t, "HEAD", url, "Accept-Encoding: gzip")
			if g, h := gres.Header.Get("Content-Encoding"), hres.Header.Get("Content-Encoding"); g != h || len(hbody) != 0 {
				t.Errorf("engine: GET Content-Encoding %q, HEAD %q with %d body bytes", g, h, len(hbody))
			}
		})
	}
}

// TestCompress304WithoutTypeWeakensAsTheClientHolds: a 304 often comes
// without Content-Type (the cache layer drops it, as do many backends).
// Its ETag must be the one the client holds: W/"x" when the client has
// the encoded variant, "x" when it has the identity one; else a cache
// updating on the 304 pairs a strong tag with an encoded body.
func TestCompress304WithoutTypeWeakensAsTheClientHolds(t *testing.T) {
	const weak, strong, vary = `W/"x,1"`, `"x,1"`, "Accept-Encoding"
	tests := []struct{ ct, inm, ae, want, vary string }{
		{"", weak, "gzip", weak, vary},
		{"", `"a", ` + weak, "br", weak, vary},
		{"", `W/"x", ` + strong, "gzip", strong, ""},
		{"", strong, "gzip", strong, ""},
		{"", weak, "", strong, ""}, // no coding acceptable: it cannot hold an encoded variant
		{"", `*`, "gzip", strong, ""},
		{"", `W/`, "gzip", strong, ""},
		{"text/html", weak, "gzip", weak, vary},
		{"text/html", strong, "gzip", strong, vary}, // it holds the identity variant (a small body)
		{"text/html", `*`, "gzip", weak, vary},      // neither listed: judged by type, as before
	}
	for _, tt := range tests {
		nm := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tt.ct != "" {
				w.Header().Set("Content-Type", tt.ct)
			}
			w.Header().Set("Etag", strong)
			w.WriteHeader(http.StatusNotModified)
		})
		hdr := []string{"If-None-Match: " + tt.inm}
		if tt.ae != "" {
			hdr = append(hdr, "Accept-Encoding: "+tt.ae)
		}
		w := serveDirect(t, mustCompress(t, config.Compress{}, nm), "GET", hdr...)
		if w.Code != 304 || w.Header().Get("Etag") != tt.want || w.Header().Get("Content-Encoding") != "" ||
			w.Header().Get("Vary") != tt.vary {
			t.Errorf("type %q, If-None-Match %s, AE %q: got %d ETag %s CE %q Vary %q, want 304 ETag %s Vary %q",
				tt.ct, tt.inm, tt.ae, w.Code, w.Header().Get("Etag"), w.Header().Get("Content-Encoding"),
				w.Header().Get("Vary"), tt.want, tt.vary)
		}
	}
}

// TestCompressAbortLeavesPoolsClean: a handler that panics with
// http.ErrAbortHandler mid-body leaves the client with a body that does
// not decode as complete, and the encoder it held serves the next
// responses correctly.
func TestCompressAbortLeavesPoolsClean(t *testing.T) {
	page := pageHTML(300 << 10)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		if r.URL.Query().Get("abort") == "" {
			w.Write(page)
			return
		}
		w.Write(page[:100<<10])
		w.(http.Flusher).Flush()
		w.Write(page[100<<10 : 150<<10])
		panic(http.ErrAbortHandler)
	})
	url := compressed(t, config.Compress{}, h)
	for i := range 4 {
		for _, coding := range []string{"gzip", "br", "zstd"} {
			req, _ := http.NewRequest("GET", url+"/?abort=1", nil)
			req.Header.Set("Accept-Encoding", coding)
			res, err := rawClient.Do(req) // rawClient has a deadline
			if err == nil {
				got, err := io.ReadAll(decoder(t, coding, res.Body))
				res.Body.Close()
				if err == nil {
					t.Fatalf("%s aborted: decoded %d bytes with no error, want a truncated body", coding, len(got))
				}
			}
			res2, body := fetch(t, "GET", url+"/?n="+strconv.Itoa(i), "Accept-Encoding: "+coding)
			if res2.Header.Get("Content-Encoding") != coding || !bytes.Equal(decodeAll(t, coding, body), page) {
				t.Fatalf("%s after an abort: wrong body", coding)
			}
		}
	}
}

// failAfter is a ResponseWriter whose connection breaks after n bytes.
type failAfter struct {
	h http.Header
	n int
}

func (w *failAfter) Header() http.Header { return w.h }
func (w *failAfter) WriteHeader(int)     {}
func (w *failAfter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		n := w.n
		w.n = 0
		return n, io.ErrClosedPipe
	}
	w.n -= len(p)
	return len(p), nil
}
func (w *failAfter) FlushError() error { return nil }

// TestCompressClientGoneLeavesPoolsClean: writes that fail mid-stream
// (the client went away) stop the encoder; the pooled encoder is reset,
// not closed into a dead writer or handed out twice, and the next
// responses on the same middleware decode.
func TestCompressClientGoneLeavesPoolsClean(t *testing.T) {
	page := pageHTML(300 << 10)
	c := mustCompress(t, config.Compress{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		for b := page; len(b) > 0; {
			n := min(len(b), 16<<10)
			if _, err := w.Write(b[:n]); err != nil && r.URL.Query().Get("ignore") == "" {
				return
			}
			w.(http.Flusher).Flush()
			b = b[n:]
		}
	}))
	for _, coding := range []string{"gzip", "br", "zstd"} {
		for _, q := range []string{"/", "/?ignore=1"} {
			req := httptest.NewRequest("GET", q, nil)
			req.Header.Set("Accept-Encoding", coding)
			c.ServeHTTP(&failAfter{h: http.Header{}, n: 3000}, req)
			w := serveDirect(t, c, "GET", "Accept-Encoding: "+coding)
			if w.Header().Get("Content-Encoding") != coding || !bytes.Equal(decodeAll(t, coding, w.Body.Bytes()), page) {
				t.Fatalf("%s after a broken client (%s): wrong body", coding, q)
			}
		}
	}
}

// TestCompressDropsDigestsOfTheOriginalBytes: a backend's Content-Digest
// and Repr-Digest (RFC 9530) describe the bytes it sent; on a response
// Portico encodes they would fail every client check, so they go. A
// response passed through keeps them.
func TestCompressDropsDigestsOfTheOriginalBytes(t *testing.T) {
	page := pageHTML(8 << 10)
	digests := []string{"Content-Digest: sha-256=:AAAA:", "Repr-Digest: sha-256=:BBBB:", "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ=="}
	c := mustCompress(t, config.Compress{}, fixed(page, "text/html", true, digests...))
	for _, tt := range []struct {
		ae   string
		keep bool
	}{{"gzip", false}, {"", true}} {
		w := serveDirect(t, c, "GET", "Accept-Encoding: "+tt.ae)
		encoded := w.Header().Get("Content-Encoding") != ""
		if encoded == tt.keep {
			t.Fatalf("Accept-Encoding %q: encoded=%v", tt.ae, encoded)
		}
		for _, name := range []string{"Content-Digest", "Repr-Digest", "Content-Md5"} {
			if has := w.Header().Get(name) != ""; has != tt.keep {
				t.Errorf("Accept-Encoding %q: %s present=%v, want %v", tt.ae, name, has, tt.keep)
			}
		}
	}
}
