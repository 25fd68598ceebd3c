package h1

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
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
