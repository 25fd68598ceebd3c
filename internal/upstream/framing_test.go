package upstream

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/testbackend"
)

// These tests script a backend byte by byte to check how the proxy reads
// a response's framing (RFC 9112 sections 6 and 7): a malformed or hostile
// answer is refused or relayed safely, the client never gets a truncated
// body that looks complete, and what the backend sent beyond its response
// never becomes the answer to a later request on the same connection.

// pause in a scripted answer splits it into two writes 100ms apart.
const pause = "\x00pause\x00"

// goodAnswer is what the scripted backend sends for /good.
const goodAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood"

// smuggled is a complete response a hostile backend appends to another:
// it must never reach a client.
const smuggled = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"

// scriptedBackend answers each request by its path with the raw bytes
// answers holds (goodAnswer for /good), and closes the connection after
// an answer that ends in "\x00close". It counts the connections it took.
func scriptedBackend(t *testing.T, answers map[string]string) (addr string, conns *atomic.Int32) {
	conns = new(atomic.Int32)
	addr = testbackend.Raw(t, func(c net.Conn, br *bufio.Reader) {
		conns.Add(1)
		for {
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			line, err := br.ReadString('\n')
			if err != nil || testbackend.ReadHead(br) != nil {
				return
			}
			f := strings.Fields(line)
			if len(f) < 2 {
				return
			}
			answer, ok := answers[f[1]]
			if f[1] == "/good" {
				answer, ok = goodAnswer, true
			}
			if !ok {
				return
			}
			answer, closing := strings.CutSuffix(answer, "\x00close")
			for i, part := range strings.Split(answer, pause) {
				if i > 0 {
					time.Sleep(100 * time.Millisecond)
				}
				if _, err := io.WriteString(c, part); err != nil {
					return
				}
			}
			if closing {
				return
			}
		}
	})
	return addr, conns
}

// framingFront is a proxy in front of addr that never retries, so that
// every request is one exchange with the backend.
func framingFront(t *testing.T, addr string) *httptest.Server {
	pool, err := NewPool("p", PoolOptions{
		Backends:         []BackendOptions{{URL: "http://" + addr}},
		FirstByteTimeout: 3 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return newTestProxy(t, &Proxy{Pool: pool})
}

// exchangeResult is what a client saw for one request.
type exchangeResult struct {
	err     error // no response head at all
	status  int
	header  http.Header
	trailer http.Header
	body    string
	bodyErr error // the body ended in an error: an aborted response
	interim []*http.Response
}

// complete reports whether the client got what looks like a whole response.
func (r exchangeResult) complete() bool { return r.err == nil && r.bodyErr == nil }

// send sends one request on a connection of its own and reads the
// answer, interim responses included, with a deadline.
func send(t *testing.T, front *httptest.Server, method, path string, hdr ...string) exchangeResult {
	t.Helper()
	c, err := net.Dial("tcp", front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	req := method + " " + path + " HTTP/1.1\r\nHost: x\r\n"
	for _, h := range hdr {
		req += h + "\r\n"
	}
	io.WriteString(c, req+"\r\n")
	br := bufio.NewReader(c)
	r, _ := http.NewRequest(method, "http://x"+path, nil)
	var res exchangeResult
	for {
		resp, err := http.ReadResponse(br, r)
		if err != nil {
			res.err = err
			return res
		}
		if resp.StatusCode >= 200 {
			b, err := io.ReadAll(resp.Body)
			res.status, res.header, res.body, res.bodyErr, res.trailer = resp.StatusCode, resp.Header, string(b), err, resp.Trailer
			return res
		}
		res.interim = append(res.interim, resp)
	}
}

// checkNotReused sends /good after a bad answer and checks that it got
// the backend's own answer for it, on a new backend connection.
func checkNotReused(t *testing.T, front *httptest.Server, conns *atomic.Int32) {
	t.Helper()
	before := conns.Load()
	got := send(t, front, "GET", "/good")
	if !got.complete() || got.status != 200 || got.body != "good" {
		t.Fatalf("next request got %d %q (err %v, body err %v), want 200 good", got.status, got.body, got.err, got.bodyErr)
	}
	if conns.Load() != before+1 {
		t.Fatalf("next request went over the connection of the bad answer (%d connections, want %d)", conns.Load(), before+1)
	}
}

// checkReused sends /good after a good answer and checks that it reused
// the connection.
func checkReused(t *testing.T, front *httptest.Server, conns *atomic.Int32) {
	t.Helper()
	before := conns.Load()
	got := send(t, front, "GET", "/good")
	if !got.complete() || got.status != 200 || got.body != "good" {
		t.Fatalf("next request got %d %q (err %v, body err %v), want 200 good", got.status, got.body, got.err, got.bodyErr)
	}
	if conns.Load() != before {
		t.Fatalf("a clean keep-alive connection was not reused (%d connections, want %d)", conns.Load(), before)
	}
}

// TestResponseFramingConflictsAre502: a head whose body length is
// ambiguous (RFC 9112 section 6.3) is refused with a 502 and its
// connection closed, never relayed with a guess.
func TestResponseFramingConflictsAre502(t *testing.T) {
	heads := map[string]string{
		"length and chunked":        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"chunked and length":        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"two lengths":               "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		"length list":               "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!",
		"negative length":           "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nhello",
		"plus sign length":          "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
		"non-numeric length":        "HTTP/1.1 200 OK\r\nContent-Length: five\r\n\r\nhello",
		"hex length":                "HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\nhello",
		"empty length":              "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\nhello",
		"overflowing length":        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\nhello",
		"gzip, chunked":             "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"gzip":                      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nhello",
		"chunked twice":             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"identity":                  "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nhello",
		"chunked in HTTP/1.0":       "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"space before colon":        "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello",
		"folded length":             "HTTP/1.1 200 OK\r\nX-A: a\r\n Content-Length: 5\r\n\r\nhello",
		"bare CR in a field":        "HTTP/1.1 200 OK\r\nX-A: a\rContent-Length: 5\r\n\r\nhello",
		"bare LF in a field":        "HTTP/1.1 200 OK\r\nX-A: a\nContent-Length: 5\r\n\r\nhello",
		"control byte in the value": "HTTP/1.1 200 OK\r\nContent-Length: 5\x00\r\n\r\nhello",
	}
	for name, head := range heads {
		t.Run(name, func(t *testing.T) {
			addr, conns := scriptedBackend(t, map[string]string{"/bad": head + smuggled})
			front := framingFront(t, addr)
			got := send(t, front, "GET", "/bad")
			if got.err != nil || got.status != 502 || got.body != "502 Bad Gateway\n" {
				t.Fatalf("got %d %q (err %v), want a 502", got.status, got.body, got.err)
			}
			checkNotReused(t, front, conns)
		})
	}
}

// TestBrokenBodiesAbortTheResponse: a body the backend cuts short or
// frames wrongly after the head was relayed ends the client's response
// as aborted, never as a complete one with something appended, and the
// backend connection is not used again.
func TestBrokenBodiesAbortTheResponse(t *testing.T) {
	const chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	answers := map[string]string{
		"chunk size overflow":        chunked + "5\r\nhello\r\n10000000000000005\r\nhello\r\n0\r\n\r\n",
		"chunk size not hex":         chunked + "5\r\nhello\r\nzz\r\nhello\r\n0\r\n\r\n",
		"chunk size with a sign":     chunked + "5\r\nhello\r\n+5\r\nhello\r\n0\r\n\r\n",
		"no CRLF after chunk data":   chunked + "5\r\nhelloXX0\r\n\r\n",
		"chunk longer than its size": chunked + "5\r\nhello world\r\n0\r\n\r\n",
		"bare LF chunk line":         chunked + "5\nhello\r\n0\r\n\r\n",
		"bare LF in trailers":        chunked + "5\r\nhello\r\n0\r\nX-A: a\n\r\n",
		"cut inside a chunk":         chunked + "5\r\nhello\r\n5\r\nwor\x00close",
		"cut after a chunk":          chunked + "5\r\nhello\r\n\x00close",
		"cut before the trailers":    chunked + "5\r\nhello\r\n0\r\n\x00close",
		"cut inside a length":        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello\x00close",
		"cut inside a long length":   "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + strings.Repeat("x", 50000) + "\x00close",
		"cut inside an event stream": "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 100\r\n\r\ndata: 1\n\n\x00close",
	}
	for name, answer := range answers {
		t.Run(name, func(t *testing.T) {
			addr, conns := scriptedBackend(t, map[string]string{"/bad": answer})
			front := framingFront(t, addr)
			got := send(t, front, "GET", "/bad")
			if got.complete() {
				t.Fatalf("got a complete-looking response %d %q, want an aborted one", got.status, got.body)
			}
			if got.err == nil && got.status != 200 {
				t.Fatalf("got %d, want the backend's 200 or nothing", got.status)
			}
			checkNotReused(t, front, conns)
		})
	}
}

// TestAbortedBodyPanicsWithErrAbortHandler: after the head went out, a
// failure of the backend is an abort (http.ErrAbortHandler), so the
// server ends the stream; nothing is written after the truncated body.
func TestAbortedBodyPanicsWithErrAbortHandler(t *testing.T) {
	answers := map[string]string{
		"chunked": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n\x00close",
		"length":  "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello\x00close",
		"stream":  "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 10\r\n\r\nhello\x00close",
	}
	for name, answer := range answers {
		t.Run(name, func(t *testing.T) {
			addr, _ := scriptedBackend(t, map[string]string{"/bad": answer})
			pool, _ := NewPool("p", PoolOptions{Backends: []BackendOptions{{URL: "http://" + addr}}, FirstByteTimeout: 3 * time.Second})
			defer pool.Close()
			rec := httptest.NewRecorder()
			var v any
			func() {
				defer func() { v = recover() }()
				(&Proxy{Pool: pool}).ServeHTTP(rec, httptest.NewRequest("GET", "/bad", nil))
			}()
			if v != http.ErrAbortHandler {
				t.Fatalf("ServeHTTP ended with %v and body %q, want a panic with http.ErrAbortHandler", v, rec.Body.String())
			}
			if rec.Body.String() != "hello" {
				t.Fatalf("body %q, want the truncated hello and nothing after it", rec.Body.String())
			}
		})
	}
}

// TestChunkedBodiesRelayed: chunk extensions are dropped, allowed
// trailers relayed and forbidden ones (framing, routing, hop-by-hop) not;
// the connection is reused after a well-formed chunked body.
func TestChunkedBodiesRelayed(t *testing.T) {
	addr, conns := scriptedBackend(t, map[string]string{
		"/ext": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"5;name=value;q=\"a b\"\r\nhello\r\n6;x\r\n world\r\n0;last\r\n\r\n",
		"/trailers": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n" +
			"5\r\nhello\r\n0\r\nX-Sum: abc\r\nX-Late: 1\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n" +
			"Connection: close\r\nKeep-Alive: timeout=1\r\nUpgrade: evil\r\nHost: evil\r\nTrailer: X-A\r\n\r\n",
	})
	front := framingFront(t, addr)
	got := send(t, front, "GET", "/ext")
	if !got.complete() || got.body != "hello world" {
		t.Fatalf("extensions: got %q (err %v %v), want hello world", got.body, got.err, got.bodyErr)
	}
	checkReused(t, front, conns)
	got = send(t, front, "GET", "/trailers")
	if !got.complete() || got.body != "hello" {
		t.Fatalf("trailers: got %q (err %v %v), want hello", got.body, got.err, got.bodyErr)
	}
	if got.trailer.Get("X-Sum") != "abc" || got.trailer.Get("X-Late") != "1" {
		t.Fatalf("trailers %v, want X-Sum and X-Late relayed", got.trailer)
	}
	for _, k := range []string{"Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Upgrade", "Host", "Trailer"} {
		if v, ok := got.trailer[k]; ok && v != nil {
			t.Errorf("forbidden trailer %s: %q relayed", k, v)
		}
	}
	checkReused(t, front, conns)
}

// TestBytesBeyondTheResponseAreNotTheNextOne: what a backend sends after
// the end of its response (a body after HEAD, 204 or 304, more than its
// Content-Length) is neither relayed nor read as the answer to the next
// request on that connection: the connection is closed.
func TestBytesBeyondTheResponseAreNotTheNextOne(t *testing.T) {
	cases := []struct {
		name, method, answer, body string
		status                     int
	}{
		{"HEAD with a body", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" + smuggled, "", 200},
		{"HEAD with a chunked body", "HEAD", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + smuggled, "", 200},
		{"204 with a body", "GET", "HTTP/1.1 204 No Content\r\n\r\n" + smuggled, "", 204},
		{"204 with a length", "GET", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello" + smuggled, "", 204},
		{"304 with a body", "GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nhello" + smuggled, "", 304},
		{"more than the length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" + smuggled, "hello", 200},
		{"more than a long length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 40000\r\n\r\n" + strings.Repeat("x", 40000) + smuggled, strings.Repeat("x", 40000), 200},
		{"more than an event stream's length", "GET", "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 5\r\n\r\nhello" + smuggled, "hello", 200},
		{"after the chunked end", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + smuggled, "hello", 200},
		// Bytes that come late, in a write of their own.
		{"204 with a length sent late", "GET", "HTTP/1.1 204 No Content\r\nContent-Length: 4\r\n\r\n" + pause + "evil", "", 204},
		{"204 chunked", "GET", "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n" + pause + "4\r\nevil\r\n0\r\n\r\n", "", 204},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr, conns := scriptedBackend(t, map[string]string{"/bad": tc.answer})
			front := framingFront(t, addr)
			got := send(t, front, tc.method, "/bad")
			if !got.complete() || got.status != tc.status || got.body != tc.body {
				t.Fatalf("got %d %.40q (err %v %v), want %d %.40q", got.status, got.body, got.err, got.bodyErr, tc.status, tc.body)
			}
			time.Sleep(250 * time.Millisecond) // late bytes have arrived
			checkNotReused(t, front, conns)
		})
	}
}

// TestLateBytesOnAnIdleConnectionAreCaught: bytes a backend sends on a
// kept-alive connection after its response was complete (a HEAD body
// written late) are found by the check before reuse, once the
// connection has been idle long enough to be checked.
func TestLateBytesOnAnIdleConnectionAreCaught(t *testing.T) {
	addr, conns := scriptedBackend(t, map[string]string{
		"/bad": "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n" + pause + smuggled,
	})
	front := framingFront(t, addr)
	got := send(t, front, "HEAD", "/bad")
	if !got.complete() || got.status != 200 {
		t.Fatalf("got %d (err %v %v), want 200", got.status, got.err, got.bodyErr)
	}
	time.Sleep(probeAfter + 200*time.Millisecond)
	checkNotReused(t, front, conns)
}

// TestBodylessAnswersKeepTheConnection: a HEAD answer with a length, a
// 204 and a 304 with their own length are complete at their head: the
// connection is reused and the length kept where it means something.
func TestBodylessAnswersKeepTheConnection(t *testing.T) {
	addr, conns := scriptedBackend(t, map[string]string{
		"/head": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
		"/204":  "HTTP/1.1 204 No Content\r\n\r\n",
		"/304":  "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\nEtag: \"a\"\r\n\r\n",
	})
	front := framingFront(t, addr)
	got := send(t, front, "HEAD", "/head")
	if !got.complete() || got.status != 200 || got.header.Get("Content-Length") != "5" {
		t.Fatalf("HEAD: got %d %v (err %v %v), want 200 with Content-Length 5", got.status, got.header, got.err, got.bodyErr)
	}
	checkReused(t, front, conns)
	for _, path := range []string{"/204", "/304"} {
		got := send(t, front, "GET", path)
		if !got.complete() || got.status != int(path[1]-'0')*100+4 || got.body != "" {
			t.Fatalf("%s: got %d %q (err %v %v)", path, got.status, got.body, got.err, got.bodyErr)
		}
		checkReused(t, front, conns)
	}
}

// TestInterimResponses: early hints are relayed each with its own fields,
// none of which leak into the final response; a 100 the client did not
// ask for is dropped; a 101 to a request that asked for no upgrade is a
// 502, never a tunnel.
func TestInterimResponses(t *testing.T) {
	addr, conns := scriptedBackend(t, map[string]string{
		"/hints": "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" +
			"HTTP/1.1 103 Early Hints\r\nLink: </b.js>; rel=preload\r\nX-Hint: 2\r\n\r\n" +
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Final: 1\r\n\r\nok",
		"/continue":  "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"/switching": "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: evil\r\n\r\n" + smuggled,
	})
	front := framingFront(t, addr)

	got := send(t, front, "GET", "/hints")
	if !got.complete() || got.status != 200 || got.body != "ok" {
		t.Fatalf("hints: got %d %q (err %v %v), want 200 ok", got.status, got.body, got.err, got.bodyErr)
	}
	if len(got.interim) != 2 {
		t.Fatalf("hints: %d interim responses, want 2", len(got.interim))
	}
	if l := got.interim[0].Header.Values("Link"); len(l) != 1 || l[0] != "</a.css>; rel=preload" {
		t.Errorf("first 103 Link %q, want </a.css> alone", l)
	}
	if l := got.interim[1].Header.Values("Link"); len(l) != 1 || l[0] != "</b.js>; rel=preload" {
		t.Errorf("second 103 Link %q, want </b.js> alone", l)
	}
	if got.header.Get("Link") != "" || got.header.Get("X-Hint") != "" || got.header.Get("X-Final") != "1" {
		t.Errorf("final response fields %v: the hints' fields leaked into it", got.header)
	}
	checkReused(t, front, conns)

	got = send(t, front, "GET", "/continue")
	if !got.complete() || got.status != 200 || got.body != "ok" || len(got.interim) != 0 {
		t.Fatalf("unasked 100: got %d %q and %d interim (err %v %v), want 200 ok alone", got.status, got.body, len(got.interim), got.err, got.bodyErr)
	}
	checkReused(t, front, conns)

	got = send(t, front, "GET", "/switching")
	if got.err != nil || got.status != 502 || len(got.interim) != 0 {
		t.Fatalf("unasked 101: got %d %q (err %v), want a 502", got.status, got.body, got.err)
	}
	checkNotReused(t, front, conns)
}

// TestBodyUntilClose: a response with neither a length nor chunked coding
// is relayed to the backend's close, whole, and its connection is not
// used again.
func TestBodyUntilClose(t *testing.T) {
	long := strings.Repeat("y", 50000)
	addr, conns := scriptedBackend(t, map[string]string{
		"/close":      "HTTP/1.1 200 OK\r\n\r\nuntil " + pause + "close\x00close",
		"/long":       "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + long + "\x00close",
		"/http10":     "HTTP/1.0 200 OK\r\n\r\nold\x00close",
		"/keep-alive": "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nold\x00close",
	})
	front := framingFront(t, addr)
	for path, want := range map[string]string{"/close": "until close", "/long": long, "/http10": "old", "/keep-alive": "old"} {
		got := send(t, front, "GET", path)
		if !got.complete() || got.status != 200 || got.body != want {
			t.Fatalf("%s: got %d %.40q (err %v %v), want 200 %.40q", path, got.status, got.body, got.err, got.bodyErr, want)
		}
		checkNotReused(t, front, conns)
	}
}

// TestEarlyHintsBeforeContinue: interim responses other than 100 that a
// backend sends while the proxy waits for its verdict on Expect:
// 100-continue are relayed (103) or skipped, not taken as a malformed
// answer.
func TestEarlyHintsBeforeContinue(t *testing.T) {
	addr := testbackend.Raw(t, func(c net.Conn, br *bufio.Reader) {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if testbackend.ReadHead(br) != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n")
		body := make([]byte, 5)
		if _, err := io.ReadFull(br, body); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"+string(body))
	})
	pool, _ := NewPool("p", PoolOptions{
		Backends:         []BackendOptions{{URL: "http://" + addr}},
		FirstByteTimeout: 3 * time.Second,
		ReplayBody:       -1,
	})
	defer pool.Close()
	front := newTestProxy(t, &Proxy{Pool: pool})
	c, err := net.Dial("tcp", front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello")
	br := bufio.NewReader(c)
	var interim []int
	for {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode < 200 {
			interim = append(interim, res.StatusCode)
			continue
		}
		body, err := io.ReadAll(res.Body)
		if err != nil || res.StatusCode != 200 || string(body) != "hello" {
			t.Fatalf("got %d %q (%v), want 200 hello", res.StatusCode, body, err)
		}
		if res.Header.Get("Link") != "" {
			t.Errorf("the hint's Link leaked into the final response")
		}
		break
	}
	if !slices.Contains(interim, 103) {
		t.Errorf("interim responses %v, want the 103 relayed", interim)
	}
}
