package static

import (
	"bytes"
	"crypto/sha256"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/listener/h1/h1test"
)

const digits = "0123456789abcdefghijklmnopqrstuvwxyz" // 36 bytes

func rangeSite(t *testing.T) (*site, string) {
	s, url, _ := rangeSiteClock(t)
	return s, url
}

func rangeSiteClock(t *testing.T) (*site, string, *fakeClock) {
	s := newSite(t)
	s.write(t, "d.txt", digits)
	h, clock := newHandlerClock(t, config.Static{Root: s.root})
	return s, h1test.Serve(t, h), clock
}

func TestRanges(t *testing.T) {
	_, url := rangeSite(t)
	tests := []struct {
		name, rng    string
		status       int
		body, cRange string
	}{
		{"first bytes", "bytes=0-9", 206, "0123456789", "bytes 0-9/36"},
		{"open end", "bytes=30-", 206, "uvwxyz", "bytes 30-35/36"},
		{"suffix", "bytes=-5", 206, "vwxyz", "bytes 31-35/36"},
		{"suffix longer than the file", "bytes=-100", 206, digits, "bytes 0-35/36"},
		{"end past the file is clipped", "bytes=34-99", 206, "yz", "bytes 34-35/36"},
		{"one byte", "bytes=5-5", 206, "5", "bytes 5-5/36"},
		{"unit is case-insensitive", "Bytes=0-0", 206, "0", "bytes 0-0/36"},
		{"spaces around ranges", "bytes= 1-1 , ", 206, "1", "bytes 1-1/36"},
		{"start past the end is 416", "bytes=36-", 416, "", "bytes */36"},
		{"suffix of zero is 416", "bytes=-0", 416, "", "bytes */36"},
		{"reversed range is ignored", "bytes=5-2", 200, digits, ""},
		{"other unit is ignored", "items=0-1", 200, digits, ""},
		{"garbage is ignored", "bytes=a-b", 200, digits, ""},
		{"no dash is ignored", "bytes=5", 200, digits, ""},
		{"overflow is ignored", "bytes=0-99999999999999999999", 200, digits, ""},
		{"overlapping ranges over the size are ignored", "bytes=0-30,0-30", 200, digits, ""},
		{"more than 16 ranges are ignored", "bytes=" + strings.Repeat("0-0,", 17) + "0-0", 200, digits, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, "GET", url+"/d.txt", "Range: "+tt.rng)
			if r.status != tt.status {
				t.Fatalf("got %d, want %d", r.status, tt.status)
			}
			if tt.status != 416 && r.body != tt.body {
				t.Errorf("body: got %q, want %q", r.body, tt.body)
			}
			if got := r.header.Get("Content-Range"); got != tt.cRange {
				t.Errorf("Content-Range: got %q, want %q", got, tt.cRange)
			}
			if tt.status == 206 && r.header.Get("Content-Length") != strconv.Itoa(len(tt.body)) {
				t.Errorf("Content-Length: got %q, want %d", r.header.Get("Content-Length"), len(tt.body))
			}
		})
	}
}

func TestMultipartRanges(t *testing.T) {
	_, url := rangeSite(t)
	r := get(t, "GET", url+"/d.txt", "Range: bytes=0-2,10-12,-2")
	if r.status != 206 {
		t.Fatalf("got %d, want 206", r.status)
	}
	if cl, _ := strconv.Atoi(r.header.Get("Content-Length")); cl != len(r.body) {
		t.Errorf("Content-Length %d, body %d bytes; want equal", cl, len(r.body))
	}
	mt, params, err := mime.ParseMediaType(r.header.Get("Content-Type"))
	if err != nil || mt != "multipart/byteranges" {
		t.Fatalf("Content-Type: got %q (%v)", r.header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(strings.NewReader(r.body), params["boundary"])
	want := []struct{ body, cr string }{{"012", "bytes 0-2/36"}, {"abc", "bytes 10-12/36"}, {"yz", "bytes 34-35/36"}}
	for i := 0; ; i++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			if i != len(want) {
				t.Errorf("got %d parts, want %d", i, len(want))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		if i >= len(want) || string(b) != want[i].body || p.Header.Get("Content-Range") != want[i].cr ||
			p.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Errorf("part %d: got %q %q %q", i, b, p.Header.Get("Content-Range"), p.Header.Get("Content-Type"))
		}
	}
	if h := get(t, "HEAD", url+"/d.txt", "Range: bytes=0-2,10-12"); h.status != 206 || h.body != "" {
		t.Errorf("HEAD with ranges: got %d and %d body bytes, want 206 and none", h.status, len(h.body))
	}
}

// TestRangeOnHead: HEAD with a Range answers as GET would, headers only.
func TestRangeOnHead(t *testing.T) {
	_, url := rangeSite(t)
	tests := []struct {
		rng, cRange, length string
		status              int
	}{
		{"bytes=0-9", "bytes 0-9/36", "10", 206},
		{"bytes=-4", "bytes 32-35/36", "4", 206},
		{"bytes=40-", "bytes */36", "", 416},
	}
	for _, tt := range tests {
		g := get(t, "GET", url+"/d.txt", "Range: "+tt.rng)
		h := get(t, "HEAD", url+"/d.txt", "Range: "+tt.rng)
		if h.status != tt.status || h.body != "" || h.header.Get("Content-Range") != tt.cRange {
			t.Errorf("HEAD %s: got %d %q with %d body bytes, want %d %q and none",
				tt.rng, h.status, h.header.Get("Content-Range"), len(h.body), tt.status, tt.cRange)
		}
		if tt.length != "" && h.header.Get("Content-Length") != tt.length {
			t.Errorf("HEAD %s: Content-Length %q, want %s", tt.rng, h.header.Get("Content-Length"), tt.length)
		}
		for _, k := range []string{"Content-Range", "Content-Length", "ETag"} {
			if g.header.Get(k) != h.header.Get(k) {
				t.Errorf("HEAD %s: %s %q, GET %q; want the same", tt.rng, k, h.header.Get(k), g.header.Get(k))
			}
		}
	}
}

// TestMultipartRangesOfALargeFile: several ranges of a file sent from
// disk (not memory), out of order and one of them the tail, each part
// with the right bytes and the total with an exact Content-Length.
func TestMultipartRangesOfALargeFile(t *testing.T) {
	s := newSite(t)
	const size = 1 << 20
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*13 + i>>8)
	}
	s.write(t, "big.bin", string(data))
	url := h1test.Serve(t, newHandler(t, config.Static{Root: s.root}))
	r := get(t, "GET", url+"/big.bin", "Range: bytes=700000-700099,0-9,-5,300000-300000")
	if r.status != 206 {
		t.Fatalf("got %d, want 206", r.status)
	}
	if cl, _ := strconv.Atoi(r.header.Get("Content-Length")); cl != len(r.body) {
		t.Errorf("Content-Length %d, body %d bytes; want equal", cl, len(r.body))
	}
	_, params, _ := mime.ParseMediaType(r.header.Get("Content-Type"))
	mr := multipart.NewReader(strings.NewReader(r.body), params["boundary"])
	want := [][2]int{{700000, 700100}, {0, 10}, {size - 5, size}, {300000, 300001}}
	for i, w := range want {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		b, _ := io.ReadAll(p)
		cr := "bytes " + strconv.Itoa(w[0]) + "-" + strconv.Itoa(w[1]-1) + "/" + strconv.Itoa(size)
		if !bytes.Equal(b, data[w[0]:w[1]]) || p.Header.Get("Content-Range") != cr {
			t.Errorf("part %d: got %d bytes %q, want %s", i, len(b), p.Header.Get("Content-Range"), cr)
		}
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Errorf("after the parts: got %v, want the end", err)
	}
}

func TestIfRange(t *testing.T) {
	s, url := rangeSite(t)
	full := get(t, "GET", url+"/d.txt")
	etag, lm := full.header.Get("ETag"), full.header.Get("Last-Modified")
	fi, _ := os.Stat(filepath.Join(s.root, "d.txt"))
	older := fi.ModTime().Add(-time.Hour).UTC().Format(http.TimeFormat)
	tests := []struct {
		name, ifRange string
		status        int
	}{
		{"current ETag honours the range", etag, 206},
		{"current Last-Modified honours the range", lm, 206},
		{"stale ETag sends the whole file", `"stale"`, 200},
		{"weak ETag never validates a range", "W/" + etag, 200},
		{"older date sends the whole file", older, 200},
		{"malformed date sends the whole file", "yesterday", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, "GET", url+"/d.txt", "Range: bytes=0-3", "If-Range: "+tt.ifRange)
			if r.status != tt.status {
				t.Errorf("got %d, want %d", r.status, tt.status)
			}
			if tt.status == 200 && r.body != digits {
				t.Errorf("got body %q, want the whole file", r.body)
			}
		})
	}
}

func TestConditionals(t *testing.T) {
	s, url, clock := rangeSiteClock(t)
	full := get(t, "GET", url+"/d.txt")
	etag := full.header.Get("ETag")
	fi, _ := os.Stat(filepath.Join(s.root, "d.txt"))
	mt := fi.ModTime()
	before := mt.Add(-time.Hour).UTC().Format(http.TimeFormat)
	after := mt.Add(time.Hour).UTC().Format(http.TimeFormat)
	tests := []struct {
		name    string
		method  string
		headers []string
		status  int
	}{
		{"If-None-Match matching", "GET", []string{"If-None-Match: " + etag}, 304},
		{"If-None-Match weak form matches (weak comparison)", "GET", []string{"If-None-Match: W/" + etag}, 304},
		{"If-None-Match in a list", "GET", []string{`If-None-Match: "a", ` + etag}, 304},
		{"If-None-Match star", "GET", []string{"If-None-Match: *"}, 304},
		{"If-None-Match other", "GET", []string{`If-None-Match: "other"`}, 200},
		{"If-None-Match on HEAD", "HEAD", []string{"If-None-Match: " + etag}, 304},
		{"If-Modified-Since later", "GET", []string{"If-Modified-Since: " + after}, 304},
		{"If-Modified-Since earlier", "GET", []string{"If-Modified-Since: " + before}, 200},
		{"If-Modified-Since malformed is ignored", "GET", []string{"If-Modified-Since: soon"}, 200},
		{"If-None-Match wins over If-Modified-Since", "GET", []string{`If-None-Match: "other"`, "If-Modified-Since: " + after}, 200},
		{"If-Match matching", "GET", []string{"If-Match: " + etag}, 200},
		{"If-Match other", "GET", []string{`If-Match: "other"`}, 412},
		{"If-Match weak never matches", "GET", []string{"If-Match: W/" + etag}, 412},
		{"If-Unmodified-Since earlier", "GET", []string{"If-Unmodified-Since: " + before}, 412},
		{"If-Unmodified-Since later", "GET", []string{"If-Unmodified-Since: " + after}, 200},
		{"If-Match wins over If-Unmodified-Since", "GET", []string{"If-Match: " + etag, "If-Unmodified-Since: " + before}, 200},
		{"If-None-Match matching wins over If-Modified-Since", "GET", []string{"If-None-Match: " + etag, "If-Modified-Since: " + before}, 304},
		{"If-None-Match matching before a Range", "GET", []string{"If-None-Match: " + etag, "Range: bytes=0-3"}, 304},
		{"If-Match failing before a Range", "GET", []string{`If-Match: "other"`, "Range: bytes=0-3"}, 412},
		{"If-Unmodified-Since failing on HEAD", "HEAD", []string{"If-Unmodified-Since: " + before}, 412},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, tt.method, url+"/d.txt", tt.headers...)
			if r.status != tt.status {
				t.Fatalf("got %d, want %d", r.status, tt.status)
			}
			if r.status == 304 && (r.body != "" || r.header.Get("ETag") != etag ||
				r.header.Get("Last-Modified") != full.header.Get("Last-Modified")) {
				t.Errorf("304: got body %q ETag %q Last-Modified %q, want none, %q and %q", r.body,
					r.header.Get("ETag"), r.header.Get("Last-Modified"), etag, full.header.Get("Last-Modified"))
			}
			if r.status != 206 && r.header.Get("Content-Range") != "" {
				t.Errorf("%d with Content-Range %q", r.status, r.header.Get("Content-Range"))
			}
		})
	}
	s.write(t, "d.txt", digits+"!")
	clock.advance(2 * time.Second) // past the cache's look at the disk
	if r := get(t, "GET", url+"/d.txt", "If-None-Match: "+etag); r.status != 200 {
		t.Errorf("after a change: got %d, want 200 (a new ETag)", r.status)
	}
}

// TestBrowserSeeksIn20MiBVideo fetches a 20 MiB MP4-like file the way a
// browser's media element does: bytes=0- (it reads the start and drops
// the connection), then, seeking, bytes=N- from the middle with If-Range,
// and a range after the file changed.
func TestBrowserSeeksIn20MiBVideo(t *testing.T) {
	s := newSite(t)
	const size = 20 << 20
	video := make([]byte, size)
	copy(video, "\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41")
	for i := 32; i < size; i++ {
		video[i] = byte(i*7 + i>>11)
	}
	p := filepath.Join(s.root, "movie.mp4")
	if err := os.WriteFile(p, video, 0o644); err != nil {
		t.Fatal(err)
	}
	url := h1test.Serve(t, newHandler(t, config.Static{Root: s.root}))

	// 1. The first request: bytes=0-. The browser reads the head and the
	// moov box, then aborts.
	req, _ := http.NewRequest("GET", url+"/movie.mp4", nil)
	req.Header.Set("Range", "bytes=0-")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 206 || res.Header.Get("Content-Range") != "bytes 0-20971519/20971520" ||
		res.Header.Get("Content-Type") != "video/mp4" || res.Header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("bytes=0-: got %d %q %q", res.StatusCode, res.Header.Get("Content-Range"), res.Header.Get("Content-Type"))
	}
	head := make([]byte, 1<<20)
	if _, err := io.ReadFull(res.Body, head); err != nil || !bytes.Equal(head, video[:1<<20]) {
		t.Fatalf("first MiB differs (err %v)", err)
	}
	res.Body.Close()
	etag := res.Header.Get("ETag")

	// 2. Seeking to the middle: bytes=N- with If-Range.
	mid := size/2 + 12345
	r := get(t, "GET", url+"/movie.mp4", "Range: bytes="+strconv.Itoa(mid)+"-", "If-Range: "+etag)
	if r.status != 206 || r.header.Get("Content-Range") != "bytes "+strconv.Itoa(mid)+"-20971519/20971520" {
		t.Fatalf("seek: got %d %q", r.status, r.header.Get("Content-Range"))
	}
	if sha256.Sum256([]byte(r.body)) != sha256.Sum256(video[mid:]) {
		t.Fatalf("seek: %d bytes differ from the file's tail", len(r.body))
	}

	// 3. A closed range near the end (the moov box of a non-faststart file).
	r = get(t, "GET", url+"/movie.mp4", "Range: bytes=20971000-20971519", "If-Range: "+etag)
	if r.status != 206 || r.body != string(video[20971000:]) {
		t.Fatalf("tail range: got %d, %d bytes", r.status, len(r.body))
	}

	// 4. The file was replaced: If-Range no longer holds, the whole new
	// file comes back with 200.
	video[100] ^= 0xff
	if err := os.WriteFile(p, video, 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(2 * time.Second)
	os.Chtimes(p, later, later)
	r = get(t, "GET", url+"/movie.mp4", "Range: bytes="+strconv.Itoa(mid)+"-", "If-Range: "+etag)
	if r.status != 200 || len(r.body) != size || r.body[100] != video[100] {
		t.Fatalf("after a change: got %d, %d bytes; want 200 with the new file", r.status, len(r.body))
	}
}
