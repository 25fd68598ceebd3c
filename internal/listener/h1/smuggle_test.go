package h1

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// smuggled is a request hidden where a body would be: the server must
// never parse it.
const smuggled = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"

// TestRejectedHeadHidesNoRequest: after a rejected head, the bytes that
// follow it (a body under one reading of the framing) are never parsed
// as a request: one response, then the connection closes, and the
// handler never runs.
func TestRejectedHeadHidesNoRequest(t *testing.T) {
	for _, tc := range rejectCases {
		if len(tc.send) > 1024 {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			calls := newCounter()
			addr, _ := startH1(t, calls.wrap(echo), Options{})
			rs, c, br := roundTrip(t, addr, tc.send+smuggled, "GET")
			if rs[0].status != tc.status {
				t.Errorf("got status %d, want %d", rs[0].status, tc.status)
			}
			if err := closedAfter(c, br); err != nil {
				t.Error(err)
			}
			if n := calls.calls(); n != 0 {
				t.Errorf("handler called %d times, want 0", n)
			}
		})
	}
}

// TestChunkExtensionOverhead: chunk extensions are bounded per line (the
// read buffer) and in total against the data they come with (RFC 9112
// 7.1.1; as net/http since CVE-2023-39326), so a client cannot make the
// server read without end for a small body, in the handler or in the
// discard after it. Short extensions on one-byte chunks are fine.
func TestChunkExtensionOverhead(t *testing.T) {
	const head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	ext := ";e=" + strings.Repeat("x", 1000)
	cases := []struct {
		name, body string
		ok         bool
		want       string
	}{
		{"one-byte chunks with short extensions", strings.Repeat("1;a=b\r\nz\r\n", 3000) + "0\r\n\r\n", true, strings.Repeat("z", 3000)},
		{"one long extension", "1" + strings.Repeat(ext, 3) + "\r\nz\r\n0\r\n\r\n", true, "z"},
		{"extension longer than the read buffer", "1" + strings.Repeat(ext, 5) + "\r\nz\r\n0\r\n\r\n", false, ""},
		{"long extensions on one-byte chunks", strings.Repeat("1"+ext+"\r\nz\r\n", 40) + "0\r\n\r\n", false, ""},
	}
	for _, tc := range cases {
		for _, read := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/read=%v", tc.name, read), func(t *testing.T) {
				addr, _ := startH1(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/next" || !read {
						io.WriteString(w, "next")
						return
					}
					b, err := io.ReadAll(r.Body)
					fmt.Fprintf(w, "body=%q err=%v", b, err)
				}), Options{})
				c := dial(t, addr)
				go io.WriteString(c, head+tc.body+"GET /next HTTP/1.1\r\nHost: a\r\n\r\n")
				br := bufio.NewReader(c)
				methods := []string{"POST"}
				if tc.ok {
					methods = append(methods, "GET")
				}
				rs, err := readResults(br, methods...)
				if err != nil {
					t.Fatalf("reading responses: %v (got %v)", err, rs)
				}
				switch {
				case read && tc.ok:
					err = bodyHas(rs[0], fmt.Sprintf("body=%q err=<nil>", tc.want))
				case read:
					err = bodyHas(rs[0], "err=h1: malformed")
				default:
					err = wantBody(rs[0], "next")
				}
				if err != nil {
					t.Error(err)
				}
				if tc.ok {
					if err := wantBody(rs[1], "next"); err != nil {
						t.Error(err)
					}
				} else if err := closedAfter(c, br); err != nil {
					t.Error(err)
				}
			})
		}
	}
}

// TestPipelinedHalfClose: a client that sends its requests and then
// half-closes gets every response, in order, then the close; also when
// a handler runs long enough for the background read to see the EOF.
func TestPipelinedHalfClose(t *testing.T) {
	for _, slow := range []bool{false, true} {
		t.Run(fmt.Sprint("slow=", slow), func(t *testing.T) {
			addr, _ := startH1(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, err := io.ReadAll(r.Body)
				if slow {
					time.Sleep(3 * bgReadDelay) // lets the background read see the EOF (not an assertion)
				}
				fmt.Fprintf(w, "%s body=%q err=%v", r.URL.Path, b, err)
			}), Options{})
			c := dial(t, addr)
			io.WriteString(c, "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"+
				"POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"+
				"POST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n")
			if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			rs, err := readResults(br, "GET", "POST", "POST")
			if err != nil {
				t.Fatalf("reading responses: %v (got %v)", err, rs)
			}
			if err := firstErr(wantBody(rs[0], `/1 body="" err=<nil>`), wantBody(rs[1], `/2 body="abc" err=<nil>`),
				wantBody(rs[2], `/3 body="de" err=<nil>`)); err != nil {
				t.Error(err)
			}
			if err := closedAfter(c, br); err != nil {
				t.Error(err)
			}
		})
	}
}
