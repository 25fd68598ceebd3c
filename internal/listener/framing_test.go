package listener

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// runGuard feeds input to a fresh guard, cut at the given offsets, the way
// guardedConn.Read does, and returns how many bytes were delivered and the
// reject reason ("" when accepted).
func runGuard(input []byte, cuts ...int) (*framingGuard, int, string) {
	g := newFramingGuard(testMaxTrailer)
	delivered, prev := 0, 0
	for _, c := range append(cuts, len(input)) {
		if c < prev || c > len(input) {
			continue
		}
		k, err := g.feed(input[prev:c])
		delivered += k
		if err != nil {
			return g, delivered, g.reason
		}
		prev = c
	}
	return g, delivered, ""
}

// runGuardBytewise feeds input one byte at a time.
func runGuardBytewise(input []byte) (int, string) {
	g := newFramingGuard(testMaxTrailer)
	for i := range input {
		k, err := g.feed(input[i : i+1])
		if err != nil {
			return i + k, g.reason
		}
	}
	return len(input), ""
}

// testMaxTrailer is small so that the every-split test and the fuzz
// target reach the trailer limit.
const testMaxTrailer = 64

const (
	getHead = "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test/1.0\r\nAccept: */*\r\n\r\n"
	postCL  = "POST /form HTTP/1.1\r\nHost: example.com\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n\r\nhello world"
	chunked = "POST /up HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n" +
		"5;name=value;flag\r\nhello\r\n" +
		"6;spaced=\"q s\";x\r\n world\r\n" +
		"0\r\nX-Sum: abc\r\nX-Other:\tdef \r\n\r\n"
)

type framingCase struct {
	name   string
	input  string
	reason string // "" when the input must be accepted
	// delivered, when >= 0, is the number of bytes delivered when the
	// input comes in one read.
	delivered int
}

var framingCases = []framingCase{
	// Accepted.
	{"valid GET", getHead, "", -1},
	{"valid POST with Content-Length", postCL, "", -1},
	{"valid chunked with extensions and trailers", chunked, "", -1},
	{"pipelined GET, POST, chunked, GET", getHead + postCL + chunked + getHead, "", -1},
	{"duplicate equal Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length:  3 \r\n\r\nabc", "", -1},
	{"Content-Length zero", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n" + getHead, "", -1},
	{"Chunked in any case, hex in upper case", "POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding:  Chunked \r\n\r\nA\r\n0123456789\r\n0\r\n\r\n", "", -1},
	{"HTTP/1.0 with Content-Length", "POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nok", "", -1},
	{"leading empty lines", "\r\n\r\n" + getHead, "", -1},
	{"tab and obs-text in values", "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\tb\xff\x80c\r\nX-Empty:\r\n\r\n", "", -1},
	{"h2c prior knowledge preface then frames", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00\x00\x00\x00\x00\r\r\n\n", "", -1},
	{"Upgrade request keeps guarding", "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n" + getHead, "", -1},
	{"CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", "", -1},
	{"long header name", "GET / HTTP/1.1\r\nX-Content-Length-Transfer-Encoding: 1\r\nContent-Lengthx: 2\r\n\r\n", "", -1},

	// Content-Length and Transfer-Encoding.
	{"Content-Length with Transfer-Encoding", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", reasonCLAndTE, 0},
	{"Transfer-Encoding then Content-Length", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", reasonCLAndTE, 0},
	{"conflicting Content-Length", "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", reasonConflictingCL, 0},
	{"Content-Length 5 and 05", "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 05\r\n\r\nhello", reasonConflictingCL, 0},
	{"Content-Length with sign", "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello", reasonBadCL, 0},
	{"Content-Length list", "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\nhello", reasonBadCL, 0},
	{"Content-Length hex", "POST / HTTP/1.1\r\nContent-Length: 0x5\r\n\r\nhello", reasonBadCL, 0},
	{"Content-Length empty", "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", reasonBadCL, 0},
	{"Content-Length overflow", "POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n", reasonBadCL, 0},
	{"Content-Length too long to keep", "POST / HTTP/1.1\r\nContent-Length: 000000000000000000000000000000005\r\n\r\nhello", reasonBadCL, 0},
	{"Transfer-Encoding gzip, chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", reasonBadTE, 0},
	{"Transfer-Encoding chunked, chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", reasonBadTE, 0},
	{"Transfer-Encoding twice", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", reasonBadTE, 0},
	{"Transfer-Encoding xchunked", "POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", reasonBadTE, 0},
	{"Transfer-Encoding identity", "POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n", reasonBadTE, 0},
	{"Transfer-Encoding with parameter", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n", reasonBadTE, 0},
	{"Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", reasonTENotHTTP11, 0},

	// Head syntax.
	{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", reasonObsFold, 0},
	{"obs-fold on the first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", reasonObsFold, 0},
	{"bare CR in value", "GET / HTTP/1.1\r\nHost: a\rX-B: c\r\n\r\n", reasonBareCR, 0},
	{"bare CR in request line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", reasonBareCR, 0},
	{"bare CR before the request line", "\rGET / HTTP/1.1\r\n\r\n", reasonBareCR, 1},
	{"bare LF ending a field", "GET / HTTP/1.1\r\nHost: a\nX-B: c\r\n\r\n", reasonBareLF, 0},
	{"bare LF ending the request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", reasonBareLF, 0},
	{"bare LF ending the head", "GET / HTTP/1.1\r\nHost: a\r\n\n", reasonBareLF, 0},
	{"NUL in value", "GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n", reasonCTL, 0},
	{"DEL in value", "GET / HTTP/1.1\r\nHost: a\x7fb\r\n\r\n", reasonCTL, 0},
	{"control byte in name", "GET / HTTP/1.1\r\nHo\x01st: a\r\n\r\n", reasonCTL, 0},
	{"control byte starting a name", "GET / HTTP/1.1\r\n\x0bHost: a\r\n\r\n", reasonCTL, 0},
	{"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", reasonSpaceBeforeColon, 0},
	{"tab before colon", "POST / HTTP/1.1\r\nContent-Length\t: 5\r\n\r\nhello", reasonSpaceBeforeColon, 0},
	{"empty header name", "GET / HTTP/1.1\r\n: a\r\n\r\n", reasonEmptyName, 0},
	{"separator in name", "GET / HTTP/1.1\r\nX(a): b\r\n\r\n", reasonBadName, 0},
	{"field without colon", "GET / HTTP/1.1\r\nHosta\r\n\r\n", reasonNoColon, 0},
	{"request line with two parts", "GET /\r\nHost: a\r\n\r\n", reasonBadRequestLine, 0},
	{"request line with four parts", "GET / x HTTP/1.1\r\n\r\n", reasonBadRequestLine, 0},
	{"request line with a double space", "GET  / HTTP/1.1\r\n\r\n", reasonBadRequestLine, 0},
	{"request line starting with a space", " GET / HTTP/1.1\r\n\r\n", reasonBadRequestLine, 0},
	{"request line with a tab", "GET\t/ HTTP/1.1\r\n\r\n", reasonBadRequestLine, 0},
	{"three leading empty lines", "\r\n\r\n\r\n" + getHead, reasonBadRequestLine, 4},
	{"h2 preface with fields", "PRI * HTTP/2.0\r\nHost: a\r\n\r\nSM\r\n\r\n", reasonBadH2Preface, 0},
	{"h2 preface with a bad tail", "PRI * HTTP/2.0\r\n\r\nSX\r\n\r\n", reasonBadH2Preface, 0},

	// Chunked framing.
	{"chunk size not hex", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", reasonBadChunkSize, 47},
	{"chunk size empty", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", reasonBadChunkSize, 47},
	{"chunk size empty with extension", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n;a=b\r\n", reasonBadChunkSize, 47},
	{"chunk size with trailing space", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n", reasonBadChunkSize, 48},
	{"chunk size over int64", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8000000000000000\r\n", reasonChunkSizeOverflow, 62},
	{"chunk size with 17 digits", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000001\r\nx\r\n0\r\n\r\n", reasonChunkSizeOverflow, 63},
	{"chunk size line ending in bare LF", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", reasonBareLF, 48},
	{"chunk size line with bare CR", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\rhello\r\n0\r\n\r\n", reasonBareCR, 49},
	{"control byte in chunk extension", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a\x00\r\nhello\r\n0\r\n\r\n", reasonBadChunkExt, 50},
	{"chunk data longer than its size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello!\r\n0\r\n\r\n", reasonBadChunkEnd, 55},
	{"chunk data ending in bare LF", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n", reasonBadChunkEnd, 55},
	{"obs-fold in trailer", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-A: b\r\n c\r\n\r\n", reasonObsFold, 58},
	{"bare LF in trailer", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-A: b\n\r\n", reasonBareLF, 56},
	{"chunk line too long", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;" + strings.Repeat("e", maxChunkLine) + "\r\nx\r\n0\r\n\r\n", reasonChunkLineTooLong, -1},
	{"trailer too large", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-A: " + strings.Repeat("t", 2<<10) + "\r\n\r\n", reasonTrailerTooLarge, -1},
	{"trailer too large before a bad byte", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-A: " + strings.Repeat("t", 80) + "\x00\r\n\r\n", reasonTrailerTooLarge, -1},
	{"bad byte before trailer too large", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-A: " + strings.Repeat("t", 20) + "\x00" + strings.Repeat("t", 80) + "\r\n\r\n", reasonCTL, -1},
	{"trailer at the limit", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-A: " + strings.Repeat("t", testMaxTrailer-9) + "\r\n\r\n" + getHead, "", -1},
	{"trailer one byte over the limit", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-A: " + strings.Repeat("t", testMaxTrailer-8) + "\r\n\r\n" + getHead, reasonTrailerTooLarge, -1},

	// A bad request after good ones: the good ones are delivered.
	{"good GET then Content-Length with Transfer-Encoding", getHead + "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", reasonCLAndTE, len(getHead)},
	{"good chunked then bare LF", chunked + "GET / HTTP/1.1\nHost: a\r\n\r\n", reasonBareLF, len(chunked)},
}

func TestFramingGuardRules(t *testing.T) {
	for _, tc := range framingCases {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.input)
			g, delivered, reason := runGuard(in)
			if reason != tc.reason {
				t.Fatalf("got reason %q, want %q", reason, tc.reason)
			}
			switch {
			case tc.reason == "" && delivered != len(in):
				t.Errorf("got %d bytes delivered, want all %d", delivered, len(in))
			case tc.delivered >= 0 && delivered != tc.delivered:
				t.Errorf("got %d bytes delivered, want %d", delivered, tc.delivered)
			case tc.reason != "" && int64(delivered) > g.failAt:
				t.Errorf("got %d bytes delivered, past the violation at %d", delivered, g.failAt)
			}
			if tc.reason != "" {
				if k, err := g.feed([]byte(getHead)); k != 0 || !errors.Is(err, errFraming) {
					t.Errorf("after a violation: got (%d, %v), want (0, errFraming)", k, err)
				}
			}
		})
	}
}

// TestFramingGuardEverySplit checks that the verdict does not depend on the
// read boundaries: each input cut at every offset, and fed byte by byte.
func TestFramingGuardEverySplit(t *testing.T) {
	for _, tc := range framingCases {
		in := []byte(tc.input)
		if len(in) > 600 {
			in = in[:600] // the long rows: their prefix is enough here
		}
		_, _, whole := runGuard(in)
		for cut := 0; cut <= len(in); cut++ {
			g, delivered, reason := runGuard(in, cut)
			if reason != whole {
				t.Fatalf("%s: cut at %d: got %q, want %q", tc.name, cut, reason, whole)
			}
			if reason != "" && int64(delivered) > g.failAt {
				t.Fatalf("%s: cut at %d: delivered %d bytes, past the violation at %d", tc.name, cut, delivered, g.failAt)
			}
		}
		for cut := 1; cut+3 <= len(in); cut += 7 {
			if _, _, reason := runGuard(in, cut, cut+1, cut+3); reason != whole {
				t.Fatalf("%s: cuts at %d,%d,%d: got %q, want %q", tc.name, cut, cut+1, cut+3, reason, whole)
			}
		}
		if _, reason := runGuardBytewise(in); reason != whole {
			t.Fatalf("%s: byte by byte: got %q, want %q", tc.name, reason, whole)
		}
	}
}

func TestFramingGuardHeadViolationAsksForReply(t *testing.T) {
	tests := []struct {
		input string
		reply bool
	}{
		{"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", true},
		{"\n", true},
		{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false},
		{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\n", false},
		{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-A: " + strings.Repeat("t", testMaxTrailer-8) + "\r\n\r\n", false},
	}
	for _, tc := range tests {
		g, _, reason := runGuard([]byte(tc.input))
		if reason == "" {
			t.Fatalf("%q: accepted", tc.input)
		}
		if g.reply != tc.reply {
			t.Errorf("%q: got reply %v, want %v", tc.input, g.reply, tc.reply)
		}
	}
}

func TestFramingGuardUpgradeNeedsConfirmation(t *testing.T) {
	tests := []struct {
		name     string
		head     string
		response string
		wantPass bool
	}{
		{"101 to Upgrade", "GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", "HTTP/1.1 101 Switching Protocols\r\n\r\n", true},
		{"200 to Upgrade", "GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n", false},
		{"2xx to CONNECT", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n", true},
		{"101 to CONNECT", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", "HTTP/1.1 101 Switching Protocols\r\n\r\n", false},
		{"101 without Upgrade", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 101 Switching Protocols\r\n\r\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, _, reason := runGuard([]byte(tc.head))
			if reason != "" {
				t.Fatalf("head rejected: %s", reason)
			}
			if want := g.upgradeWanted.Load(); want != upgradeNone {
				g.sniffResponse(want, []byte("HTTP/1.1 100 Continue\r\n\r\n"))
				g.sniffResponse(want, []byte(tc.response))
			}
			if got := g.passthrough.Load(); got != tc.wantPass {
				t.Fatalf("got passthrough %v, want %v", got, tc.wantPass)
			}
			if g.upgradeWanted.Load() != upgradeNone {
				t.Errorf("still waiting for an upgrade after a final response")
			}
		})
	}
}

// A typical browser GET head of about 400 bytes.
var benchGet = []byte("GET /static/app.js?v=1234 HTTP/1.1\r\n" +
	"Host: www.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: */*\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\n" +
	"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Referer: https://www.example.com/\r\n" +
	"Connection: keep-alive\r\n" +
	"Cookie: session=0123456789abcdef0123456789abcdef; theme=dark\r\n" +
	"Sec-Fetch-Dest: script\r\n" +
	"Sec-Fetch-Mode: no-cors\r\n" +
	"\r\n")

var benchChunked = []byte("POST /api/upload HTTP/1.1\r\n" +
	"Host: www.example.com\r\n" +
	"User-Agent: curl/8.5.0\r\n" +
	"Content-Type: application/json\r\n" +
	"Transfer-Encoding: chunked\r\n" +
	"\r\n" +
	"100\r\n" + strings.Repeat("x", 256) + "\r\n" +
	"100\r\n" + strings.Repeat("y", 256) + "\r\n" +
	"0\r\n\r\n")

func BenchmarkFramingGuard(b *testing.B) {
	for _, bc := range []struct {
		name  string
		input []byte
	}{{"get400", benchGet}, {"chunkedPost", benchChunked}} {
		b.Run(bc.name, func(b *testing.B) {
			g := newFramingGuard(0)
			b.SetBytes(int64(len(bc.input)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := g.feed(bc.input); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkNetHTTPReadRequest is the yardstick for BenchmarkFramingGuard:
// net/http parsing the same heads (what the guard adds to).
func BenchmarkNetHTTPReadRequest(b *testing.B) {
	for _, bc := range []struct {
		name  string
		input []byte
	}{{"get400", benchGet}, {"chunkedPost", benchChunked}} {
		b.Run(bc.name, func(b *testing.B) {
			rd := bytes.NewReader(bc.input)
			br := bufio.NewReader(rd)
			b.SetBytes(int64(len(bc.input)))
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(bc.input)
				br.Reset(rd)
				req, err := http.ReadRequest(br)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, req.Body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
