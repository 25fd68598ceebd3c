package static

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/listener/h1/h1test"
)

func decode(t *testing.T, coding, body string) string {
	t.Helper()
	var r io.Reader = bytes.NewReader([]byte(body))
	switch coding {
	case "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case "br":
		r = brotli.NewReader(r)
	case "zstd":
		zr, err := zstd.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decoding %s: %v", coding, err)
	}
	return string(b)
}

func TestPrecompressedSelection(t *testing.T) {
	s := newSite(t)
	s.precompress(t, "app.js", "gz", "br", "zst")
	s.precompress(t, "style.css", "gz")
	s.precompress(t, "logo.png", "gz")
	orig, _ := os.ReadFile(filepath.Join(s.root, "app.js"))
	url := h1test.Serve(t, newHandler(t, config.Static{Root: s.root, Precompressed: true}))
	tests := []struct {
		name, path, ae, want string
	}{
		{"all accepted: zstd first", "/app.js", "gzip, deflate, br, zstd", "zstd"},
		{"q-values win over the order", "/app.js", "zstd;q=0.5, br;q=0.9, gzip;q=0.1", "br"},
		{"gzip only", "/app.js", "gzip", "gzip"},
		{"x-gzip is gzip", "/app.js", "x-gzip", "gzip"},
		{"zstd refused", "/app.js", "zstd;q=0, br", "br"},
		{"star accepts the first sidecar", "/app.js", "*", "zstd"},
		{"identity only", "/app.js", "identity", ""},
		{"no Accept-Encoding", "/app.js", "", ""},
		{"only the sidecars that exist", "/style.css", "zstd, br, gzip", "gzip"},
		{"a missing sidecar falls back to the file", "/style.css", "br", ""},
		{"not for images", "/logo.png", "gzip", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.ae != "" {
				hdr = append(hdr, "Accept-Encoding: "+tt.ae)
			}
			r := get(t, "GET", url+tt.path, hdr...)
			if r.status != 200 {
				t.Fatalf("got %d", r.status)
			}
			if got := r.header.Get("Content-Encoding"); got != tt.want {
				t.Fatalf("Content-Encoding: got %q, want %q", got, tt.want)
			}
			if tt.path == "/app.js" {
				if got := decode(t, tt.want, r.body); got != string(orig) {
					t.Errorf("decoded body differs from the file")
				}
				if r.header.Get("Content-Type") != "text/javascript; charset=utf-8" {
					t.Errorf("Content-Type: got %q, want the original's", r.header.Get("Content-Type"))
				}
			}
			if vary := r.header.Get("Vary"); tt.path != "/logo.png" && vary != "Accept-Encoding" {
				t.Errorf("Vary: got %q, want Accept-Encoding", vary)
			}
		})
	}
}

func TestPrecompressedETagsDiffer(t *testing.T) {
	s := newSite(t)
	s.precompress(t, "app.js", "gz", "br")
	url := h1test.Serve(t, newHandler(t, config.Static{Root: s.root, Precompressed: true}))
	seen := map[string]string{}
	for _, ae := range []string{"identity", "gzip", "br"} {
		r := get(t, "GET", url+"/app.js", "Accept-Encoding: "+ae)
		et := r.header.Get("ETag")
		if prev, dup := seen[et]; dup {
			t.Errorf("%s and %s share ETag %s", prev, ae, et)
		}
		seen[et] = ae
		// The validator works for its own representation.
		if c := get(t, "GET", url+"/app.js", "Accept-Encoding: "+ae, "If-None-Match: "+et); c.status != 304 {
			t.Errorf("%s: If-None-Match its own ETag: got %d, want 304", ae, c.status)
		}
	}
}

func TestPrecompressedRange(t *testing.T) {
	s := newSite(t)
	s.precompress(t, "app.js", "gz")
	gz, _ := os.ReadFile(filepath.Join(s.root, "app.js.gz"))
	url := h1test.Serve(t, newHandler(t, config.Static{Root: s.root, Precompressed: true}))
	r := get(t, "GET", url+"/app.js", "Accept-Encoding: gzip", "Range: bytes=0-9")
	if r.status != 206 || r.body != string(gz[:10]) || r.header.Get("Content-Encoding") != "gzip" {
		t.Errorf("got %d %q %q, want the first bytes of the .gz", r.status, r.body, r.header.Get("Content-Encoding"))
	}
}

// TestPrecompressedRangesUseTheSidecarsOwnBytes: a range of a sidecar
// counts in the sidecar's bytes and its length, under its own ETag, so
// an If-Range naming the original (a download begun without gzip)
// cannot splice bytes of one encoding into the other: the whole sidecar
// comes back instead.
func TestPrecompressedRangesUseTheSidecarsOwnBytes(t *testing.T) {
	s := newSite(t)
	s.precompress(t, "app.js", "gz")
	orig, _ := os.ReadFile(filepath.Join(s.root, "app.js"))
	gz, _ := os.ReadFile(filepath.Join(s.root, "app.js.gz"))
	n := len(gz)
	url := h1test.Serve(t, newHandler(t, config.Static{Root: s.root, Precompressed: true}))
	idTag := get(t, "GET", url+"/app.js").header.Get("ETag")
	gzTag := get(t, "GET", url+"/app.js", "Accept-Encoding: gzip").header.Get("ETag")
	tail := "bytes=" + strconv.Itoa(n) + "-"
	tests := []struct {
		name    string
		headers []string
		status  int
		coding  string
		body    string
		cRange  string
	}{
		{"If-Range of the original, gzip accepted", []string{"Accept-Encoding: gzip", "Range: bytes=10-", "If-Range: " + idTag}, 200, "gzip", string(gz), ""},
		{"If-Range of the sidecar", []string{"Accept-Encoding: gzip", "Range: bytes=10-", "If-Range: " + gzTag}, 206, "gzip", string(gz[10:]), "bytes 10-" + strconv.Itoa(n-1) + "/" + strconv.Itoa(n)},
		{"If-Range of the sidecar, gzip no longer accepted", []string{"Range: bytes=10-", "If-Range: " + gzTag}, 200, "", string(orig), ""},
		{"past the sidecar's end is 416 with its length", []string{"Accept-Encoding: gzip", "Range: " + tail}, 416, "", "", "bytes */" + strconv.Itoa(n)},
		{"the same range of the original", []string{"Range: " + tail}, 206, "", string(orig[n:]), "bytes " + strconv.Itoa(n) + "-" + strconv.Itoa(len(orig)-1) + "/" + strconv.Itoa(len(orig))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, "GET", url+"/app.js", tt.headers...)
			if r.status != tt.status || r.header.Get("Content-Encoding") != tt.coding || r.header.Get("Content-Range") != tt.cRange {
				t.Fatalf("got %d Content-Encoding %q Content-Range %q, want %d %q %q", r.status,
					r.header.Get("Content-Encoding"), r.header.Get("Content-Range"), tt.status, tt.coding, tt.cRange)
			}
			if tt.status != 416 && r.body != tt.body {
				t.Errorf("body: got %d bytes, want %d", len(r.body), len(tt.body))
			}
			if r.header.Get("Vary") != "Accept-Encoding" {
				t.Errorf("Vary: got %q, want Accept-Encoding", r.header.Get("Vary"))
			}
		})
	}
}

// TestLargeSidecarIsSentWhole: a sidecar over the memory limit is sent
// from its file, whole, whether the original is small or large, in memory
// or not, and so is a range of it.
func TestLargeSidecarIsSentWhole(t *testing.T) {
	gz := make([]byte, maxCachedFile*3)
	for i := range gz {
		gz[i] = byte(i*31 + i>>9)
	}
	tests := []struct {
		name       string
		original   string
		warm       bool // an identity request first puts a small original in memory
		rng, want  string
		wantStatus int
	}{
		{"small original", "small", false, "", string(gz), 200},
		{"small original in memory", "small", true, "", string(gz), 200},
		{"large original", strings.Repeat("x", maxCachedFile*4), false, "", string(gz), 200},
		{"range of it", "small", false, "bytes=100000-100009", string(gz[100000:100010]), 206},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSite(t)
			s.write(t, "big.js", tt.original)
			s.write(t, "big.js.gz", string(gz))
			url := h1test.Serve(t, newHandler(t, config.Static{Root: s.root, Precompressed: true}))
			if tt.warm {
				get(t, "GET", url+"/big.js")
			}
			hdr := []string{"Accept-Encoding: gzip"}
			if tt.rng != "" {
				hdr = append(hdr, "Range: "+tt.rng)
			}
			for i := range 2 {
				r := get(t, "GET", url+"/big.js", hdr...)
				if r.status != tt.wantStatus || r.header.Get("Content-Encoding") != "gzip" || r.body != tt.want {
					t.Fatalf("request %d: got %d Content-Encoding %q with %d body bytes, want %d gzip with %d",
						i+1, r.status, r.header.Get("Content-Encoding"), len(r.body), tt.wantStatus, len(tt.want))
				}
			}
		})
	}
}
