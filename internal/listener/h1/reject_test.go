package h1

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// rejectCase is a request the server must refuse before calling the
// handler, answering status and closing. std: net/http's server answers
// the same status (the rows where it does not are the point of this
// package's strictness).
type rejectCase struct {
	name   string
	send   string
	status int
	std    bool
}

const host = "Host: a\r\n"

var rejectCases = []rejectCase{
	{"Content-Length with Transfer-Encoding", "POST / HTTP/1.1\r\n" + host + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, false},
	{"Transfer-Encoding then Content-Length", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400, false},
	{"different Content-Lengths", "POST / HTTP/1.1\r\n" + host + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400, true},
	{"non-digit Content-Length", "POST / HTTP/1.1\r\n" + host + "Content-Length: 3a\r\n\r\nabc", 400, true},
	{"empty Content-Length", "POST / HTTP/1.1\r\n" + host + "Content-Length: \r\n\r\n", 400, true},
	{"signed Content-Length", "POST / HTTP/1.1\r\n" + host + "Content-Length: +3\r\n\r\nabc", 400, true},
	{"negative Content-Length", "POST / HTTP/1.1\r\n" + host + "Content-Length: -1\r\n\r\n", 400, true},
	{"overflowing Content-Length", "POST / HTTP/1.1\r\n" + host + "Content-Length: 99999999999999999999\r\n\r\n", 400, true},
	{"Content-Length of 2^63", "POST / HTTP/1.1\r\n" + host + "Content-Length: 9223372036854775808\r\n\r\n", 400, true},
	{"space inside Content-Length", "POST / HTTP/1.1\r\n" + host + "Content-Length: 1 0\r\n\r\nabcdefghij", 400, true},
	{"Content-Length list", "POST / HTTP/1.1\r\n" + host + "Content-Length: 3, 3\r\n\r\nabc", 400, true},
	{"Transfer-Encoding gzip", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip\r\n\r\n", 400, false},
	{"Transfer-Encoding gzip, chunked", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip, chunked\r\n\r\n", 501, true},
	{"two Transfer-Encoding fields", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, false},
	{"Transfer-Encoding identity", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: identity\r\n\r\n", 400, false},
	{"Transfer-Encoding chunked, gzip", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400, false},
	{"Transfer-Encoding chunked then gzip fields", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n", 400, false},
	{"Transfer-Encoding chunked, chunked", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400, false},
	{"Transfer-Encoding gzip then chunked fields", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501, true},
	{"chunked in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, false},
	{"obs-fold", "GET / HTTP/1.1\r\n" + host + "X-A: b\r\n c\r\n\r\n", 400, false},
	{"bare LF ending a field", "GET / HTTP/1.1\r\n" + host + "X-A: b\n\r\n", 400, false},
	{"bare LF ending the request line", "GET / HTTP/1.1\n" + host + "\r\n", 400, false},
	{"bare LF ending the head", "GET / HTTP/1.1\r\n" + host + "\n", 400, false},
	{"bare CR in a value", "GET / HTTP/1.1\r\n" + host + "X-A: b\rc\r\n\r\n", 400, true},
	{"NUL in a value", "GET / HTTP/1.1\r\n" + host + "X-A: b\x00c\r\n\r\n", 400, true},
	{"DEL in a value", "GET / HTTP/1.1\r\n" + host + "X-A: b\x7fc\r\n\r\n", 400, true},
	{"control byte in a value", "GET / HTTP/1.1\r\n" + host + "X-A: b\x01c\r\n\r\n", 400, true},
	{"control byte in a name", "GET / HTTP/1.1\r\n" + host + "X-\x01A: b\r\n\r\n", 400, true},
	{"bare CR in a name", "GET / HTTP/1.1\r\n" + host + "X-A\r: b\r\n\r\n", 400, true},
	{"bare CR in the request line", "GET /\r HTTP/1.1\r\n" + host + "\r\n", 400, true},
	{"whitespace before the first field", "GET / HTTP/1.1\r\n " + host + "\r\n", 400, true},
	{"space before colon", "GET / HTTP/1.1\r\n" + host + "X-A : b\r\n\r\n", 400, true},
	{"tab before colon", "GET / HTTP/1.1\r\n" + host + "X-A\t: b\r\n\r\n", 400, true},
	{"empty name", "GET / HTTP/1.1\r\n" + host + ": b\r\n\r\n", 400, true},
	{"field without colon", "GET / HTTP/1.1\r\n" + host + "X-A b\r\n\r\n", 400, true},
	{"separator in a name", "GET / HTTP/1.1\r\n" + host + "X(A): b\r\n\r\n", 400, true},
	{"double space in the request line", "GET  / HTTP/1.1\r\n" + host + "\r\n", 400, true},
	{"trailing space in the request line", "GET / HTTP/1.1 \r\n" + host + "\r\n", 400, true},
	{"leading space in the request line", " GET / HTTP/1.1\r\n" + host + "\r\n", 400, true},
	{"request line without version", "GET /\r\n" + host + "\r\n", 400, true},
	{"lower-case version", "GET / http/1.1\r\n" + host + "\r\n", 400, true},
	{"malformed version", "GET / HTTP/1.10\r\n" + host + "\r\n", 400, true},
	{"HTTP/2.0 request line", "GET / HTTP/2.0\r\n" + host + "\r\n", 505, true},
	{"HTTP/3.0 request line", "GET / HTTP/3.0\r\n" + host + "\r\n", 505, true},
	{"HTTP/0.9 request line", "GET / HTTP/0.9\r\n" + host + "\r\n", 505, true},
	{"h2 preface without H2C", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, false},
	{"method with a separator", "G(T / HTTP/1.1\r\n" + host + "\r\n", 400, true},
	{"tab in the target", "GET /a\tb HTTP/1.1\r\n" + host + "\r\n", 400, true},
	{"control byte in the target", "GET /a\x01b HTTP/1.1\r\n" + host + "\r\n", 400, true},
	{"missing Host in HTTP/1.1", "GET / HTTP/1.1\r\n\r\n", 400, true},
	{"two Host fields", "GET / HTTP/1.1\r\n" + host + "Host: b\r\n\r\n", 400, true},
	{"malformed Host", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, true},
	{"absolute-form with an empty authority", "GET http:///x HTTP/1.1\r\n" + host + "\r\n", 400, false},
	{"absolute-form with a bad host", "GET http://a<b/x HTTP/1.1\r\n" + host + "\r\n", 400, false},
	{"authority-form for GET", "GET example.com:80 HTTP/1.1\r\n" + host + "\r\n", 400, false},
	{"asterisk for GET", "GET * HTTP/1.1\r\n" + host + "\r\n", 400, false},
	{"relative target", "GET a/b HTTP/1.1\r\n" + host + "\r\n", 400, true},
	{"bad percent-escape in the path", "GET /a%zz HTTP/1.1\r\n" + host + "\r\n", 400, true},
	{"forbidden announced trailer", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nTrailer: Content-Length\r\n\r\n0\r\n\r\n", 400, true},
	{"unknown Expect", "GET / HTTP/1.1\r\n" + host + "Expect: magic\r\n\r\n", 417, true},
	{"too many fields", "GET / HTTP/1.1\r\n" + host + strings.Repeat("X-A: b\r\n", 100) + "\r\n", 431, false},
	{"head over the limit", "GET / HTTP/1.1\r\n" + host + "X-A: " + strings.Repeat("b", 40<<10) + "\r\n\r\n", 431, false},
	{"request line over the limit", "GET /" + strings.Repeat("a", 40<<10) + " HTTP/1.1\r\n" + host + "\r\n", 431, false},
}

func TestRejections(t *testing.T) {
	if len(rejectCases) < 20 {
		t.Fatalf("got %d rejection rows, want at least 20", len(rejectCases))
	}
	for _, kind := range []string{kindH1, kindStd} {
		for _, tc := range rejectCases {
			if kind == kindStd && !tc.std {
				continue
			}
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				calls := newCounter()
				addr := start(t, kind, calls.wrap(echo))
				rs, c, br := roundTrip(t, addr, tc.send, "GET")
				if rs[0].status != tc.status {
					t.Errorf("got status %d, want %d (%v)", rs[0].status, tc.status, rs[0])
				}
				if n := calls.calls(); n != 0 {
					t.Errorf("handler called %d times, want 0", n)
				}
				if kind == kindH1 {
					if !rs[0].close {
						t.Errorf("got no Connection: close in %v", rs[0])
					}
					if err := closedAfter(c, br); err != nil {
						t.Error(err)
					}
				}
			})
		}
	}
}

// TestBadChunkedBody: bad chunked framing is found while the handler
// reads; its read fails and the connection is closed after the response.
func TestBadChunkedBody(t *testing.T) {
	const head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	cases := []struct{ name, body string }{
		{"non-hex size", "zz\r\nab\r\n0\r\n\r\n"},
		{"empty size", "\r\nab\r\n0\r\n\r\n"},
		{"space after size", "2 \r\nab\r\n0\r\n\r\n"},
		{"size over 16 digits", "00000000000000002\r\nab\r\n0\r\n\r\n"},
		{"size overflowing int64", "8000000000000000\r\nab\r\n0\r\n\r\n"},
		{"control byte in an extension", "2;a=\x01\r\nab\r\n0\r\n\r\n"},
		{"bare LF after size", "2\nab\r\n0\r\n\r\n"},
		{"missing CRLF after data", "2\r\nabc\r\n0\r\n\r\n"},
		{"bare LF after data", "2\r\nab\n0\r\n\r\n"},
		{"obs-fold in a trailer", "0\r\nX-A: b\r\n c\r\n\r\n"},
		{"bare LF in the trailer", "0\r\nX-A: b\n\r\n"},
		{"control byte in a trailer", "0\r\nX-A: b\x01\r\n\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := startH1(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, err := io.ReadAll(r.Body)
				fmt.Fprintf(w, "err=%v", err)
			}), Options{})
			rs, c, br := roundTrip(t, addr, head+tc.body+"GET / HTTP/1.1\r\nHost: a\r\n\r\n", "POST")
			if !strings.HasPrefix(rs[0].body, "err=h1: malformed") {
				t.Errorf("got body %q, want the handler to see a framing error", rs[0].body)
			}
			if err := closedAfter(c, br); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestTruncatedBody: a client closing mid-body makes the handler's read
// fail with io.ErrUnexpectedEOF.
func TestTruncatedBody(t *testing.T) {
	for _, tc := range []struct{ name, send string }{
		{"Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc"},
		{"chunked data", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"},
		{"chunk size line", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n1"},
		{"trailer section", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: v\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan error, 1)
			addr, _ := startH1(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, err := io.ReadAll(r.Body)
				got <- err
			}), Options{})
			c := dial(t, addr)
			io.WriteString(c, tc.send)
			c.(interface{ CloseWrite() error }).CloseWrite()
			if err := <-got; err != io.ErrUnexpectedEOF {
				t.Errorf("got %v, want io.ErrUnexpectedEOF", err)
			}
			br := bufio.NewReader(c)
			if rs, err := readResults(br, "POST"); err != nil || !rs[0].close {
				t.Errorf("got %v %v, want a response with Connection: close", rs, err)
			}
			if err := closedAfter(c, br); err != nil {
				t.Error(err)
			}
		})
	}
}
