package h1

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"testing"
	"time"
)

const sixHeaders = "GET /api/items?id=42 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench/1.0\r\n" +
	"Accept: */*\r\nAccept-Encoding: gzip\r\nX-Request-Id: abc123\r\nConnection: keep-alive\r\n\r\n"

// TestBuildRequestAllocs guards the request construction of a pooled
// exchange: one string for the head and the request's context; the
// exchange and its header map are reused. Request.WithContext must stay
// inlined and allocation free.
func TestBuildRequestAllocs(t *testing.T) {
	c := &conn{remoteAddr: "192.0.2.1:1234", baseCtx: context.Background()}
	buf := []byte(sixHeaders)
	allocs := testing.AllocsPerRun(200, func() {
		head := string(buf)
		if st, r := parseHead(head, &c.ph, 100); st != 0 {
			panic(r)
		}
		ex := getExchange()
		if st, r := c.buildRequest(ex, &c.ph); st != 0 {
			panic(r)
		}
		if ex.req.Context() != ex.ctx || len(ex.req.Header) != 5 {
			panic("request not built")
		}
		putExchange(ex)
	})
	if allocs > 2 {
		t.Errorf("got %v allocations per request head, want at most 2", allocs)
	}
}

func TestFastOriginFormMatchesURL(t *testing.T) {
	targets := []string{
		"/", "/a/b", "/a?b=c", "/a?", "/a??", "/a?b#c", "//host/x", "/a:b@c", "/a;b=c,d",
		"/~user/x.y-z_w", "/$&+,=", "/a?b?c", "/?", "/a/./../b",
	}
	for _, target := range targets {
		var got url.URL
		if !fastOriginForm(target, &got) {
			continue
		}
		want, err := url.ParseRequestURI(target)
		if err != nil {
			t.Errorf("%q: fast path accepted what url rejects: %v", target, err)
			continue
		}
		if got != *want {
			t.Errorf("%q: got %#v, want %#v", target, got, *want)
		}
	}
}

// TestIdleBufferRelease measures the heap an idle keep-alive connection
// holds before and after it gives its buffers back (Linux only).
func TestIdleBufferRelease(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("buffer release needs Linux")
	}
	const conns = 200
	ln := listen(t)
	s := NewServer(http.HandlerFunc(writeString("ok")), Options{})
	s.idleRelease = 300 * time.Millisecond
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	heap := func() uint64 {
		runtime.GC()
		runtime.GC() // and the pools' victim caches
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	base := heap()
	for range conns {
		roundTrip(t, ln.Addr().String(), "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET")
	}
	held := heap()
	for i := 0; s.releases.Load() < conns && i < 1000; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if got := s.releases.Load(); got != conns {
		t.Fatalf("got %d releases, want %d", got, conns)
	}
	released := heap()
	t.Logf("heap per idle connection: %d B with buffers, %d B after release",
		(int64(held)-int64(base))/conns, (int64(released)-int64(base))/conns)
	// The released connections still serve.
	for range 3 {
		roundTrip(t, ln.Addr().String(), "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "GET")
	}
}

func TestStatusLine(t *testing.T) {
	cases := []struct {
		code int
		want string
	}{{200, "HTTP/1.1 200 OK\r\n"}, {299, "HTTP/1.1 299 status code 299\r\n"}, {999, "HTTP/1.1 999 status code 999\r\n"}}
	for _, tc := range cases {
		got := captureWrite(func(w *bufWriter) { writeStatusLine(w.bw, true, tc.code) })
		if got != tc.want {
			t.Errorf("%d: got %q, want %q", tc.code, got, tc.want)
		}
	}
	defer func() {
		if r := recover(); r == nil || fmt.Sprint(r) != "invalid WriteHeader code 1000" {
			t.Errorf("WriteHeader(1000): got panic %v", r)
		}
	}()
	(&response{}).WriteHeader(1000)
}

type bufWriter struct {
	bw *bufio.Writer
	b  bytes.Buffer
}

func captureWrite(f func(*bufWriter)) string {
	w := &bufWriter{}
	w.bw = bufio.NewWriter(&w.b)
	f(w)
	w.bw.Flush()
	return w.b.String()
}
