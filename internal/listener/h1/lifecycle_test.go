package h1

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestKeepAliveHundredRequests(t *testing.T) {
	for _, kind := range []string{kindH1, kindStd} {
		t.Run(kind, func(t *testing.T) {
			addr := start(t, kind, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, r.URL.Path)
			}))
			c := dial(t, addr)
			br := bufio.NewReader(c)
			for i := range 100 {
				fmt.Fprintf(c, "GET /%d HTTP/1.1\r\nHost: a\r\n\r\n", i)
				rs, err := readResults(br, "GET")
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if want := fmt.Sprintf("/%d", i); rs[0].body != want {
					t.Fatalf("request %d: got body %q, want %q", i, rs[0].body, want)
				}
			}
		})
	}
}

func TestExpectContinueRead(t *testing.T) {
	for _, kind := range []string{kindH1, kindStd} {
		t.Run(kind, func(t *testing.T) {
			addr := start(t, kind, http.HandlerFunc(echo))
			c := dial(t, addr)
			br := bufio.NewReader(c)
			io.WriteString(c, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
			rs, err := readResults(br, "POST")
			if err != nil || rs[0].status != 100 {
				t.Fatalf("got %v %v, want 100 Continue first", rs, err)
			}
			io.WriteString(c, "hello")
			rs, err = readResults(br, "POST")
			if err != nil {
				t.Fatal(err)
			}
			if err := bodyHas(rs[0], `body="hello"`); err != nil {
				t.Error(err)
			}
			if rs[0].close {
				t.Error("got Connection: close, want the connection kept")
			}
		})
	}
}

func TestHijackWithBufferedBytes(t *testing.T) {
	addr, _ := startH1(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		defer conn.Close()
		extra := make([]byte, brw.Reader.Buffered())
		io.ReadFull(brw.Reader, extra)
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\n\r\nextra=%s", extra)
		brw.Flush()
		io.Copy(conn, io.LimitReader(brw, 4)) // then echo what follows
	}), Options{})
	c := dial(t, addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\nEARLY")
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != 101 {
		t.Fatalf("got %v %v, want 101", res, err)
	}
	got := make([]byte, len("extra=EARLY"))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != "extra=EARLY" {
		t.Fatalf("got %q %v, want extra=EARLY", got, err)
	}
	io.WriteString(c, "ping")
	got = make([]byte, 4)
	if _, err := io.ReadFull(br, got); err != nil || string(got) != "ping" {
		t.Fatalf("got %q %v, want ping", got, err)
	}
}

func TestReadFromFile(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 70000) // ~1.1 MiB
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		h    http.HandlerFunc
	}{
		{"io.Copy with Content-Length", func(w http.ResponseWriter, r *http.Request) {
			f, _ := os.Open(path)
			defer f.Close()
			w.Header().Set("Content-Length", fmt.Sprint(len(data)))
			if n, err := io.Copy(w, f); err != nil || n != int64(len(data)) {
				panic(fmt.Sprint(n, err))
			}
		}},
		{"io.Copy without length", func(w http.ResponseWriter, r *http.Request) {
			f, _ := os.Open(path)
			defer f.Close()
			io.Copy(w, f)
		}},
		{"http.ServeFile", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, path) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := startH1(t, tc.h, Options{})
			rs, _, _ := roundTrip(t, addr, "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "GET")
			for i, r := range rs {
				if r.body != string(data) {
					t.Errorf("response %d: got %d bytes, want the file's %d", i, len(r.body), len(data))
				}
			}
		})
	}
}

// TestReadFromTCP copies from a socket (splice on Linux), limited and
// to EOF.
func TestReadFromTCP(t *testing.T) {
	data := bytes.Repeat([]byte("xyz"), 200000)
	side := listen(t)
	go func() {
		for {
			c, err := side.Accept()
			if err != nil {
				return
			}
			c.Write(data)
			c.Close()
		}
	}()
	t.Cleanup(func() { side.Close() })
	fetch := func(limit bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			src, err := net.Dial("tcp", side.Addr().String())
			if err != nil {
				panic(err)
			}
			defer src.Close()
			w.Header().Set("Content-Length", fmt.Sprint(len(data)))
			var rd io.Reader = src
			if limit {
				rd = io.LimitReader(src, int64(len(data)))
			}
			if n, err := io.Copy(w, rd); err != nil || n != int64(len(data)) {
				panic(fmt.Sprint(n, err))
			}
		}
	}
	for _, limit := range []bool{true, false} {
		t.Run(fmt.Sprint("limit=", limit), func(t *testing.T) {
			addr, _ := startH1(t, fetch(limit), Options{})
			rs, _, _ := roundTrip(t, addr, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET")
			if rs[0].body != string(data) {
				t.Errorf("got %d bytes, want %d", len(rs[0].body), len(data))
			}
		})
	}
}

func TestContentLengthOverrun(t *testing.T) {
	got := make(chan error, 2)
	addr, _ := startH1(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "3")
		_, err := w.Write([]byte("abcd"))
		got <- err
		_, err = io.Copy(w, strings.NewReader("abcd"))
		got <- err
	}), Options{})
	io.WriteString(dial(t, addr), "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	for range 2 {
		if err := <-got; err != http.ErrContentLength {
			t.Errorf("got %v, want http.ErrContentLength", err)
		}
	}
}

func TestClientGoneCancelsContext(t *testing.T) {
	for _, kind := range []string{kindH1, kindStd} {
		t.Run(kind, func(t *testing.T) {
			started, result := make(chan struct{}), make(chan string, 1)
			addr := start(t, kind, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				derived, cancel := context.WithTimeout(r.Context(), time.Hour)
				defer cancel()
				close(started)
				select {
				case <-derived.Done():
					result <- fmt.Sprint(r.Context().Err())
				case <-time.After(5 * time.Second):
					result <- "not cancelled within 5s"
				}
			}))
			c := dial(t, addr)
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
			<-started
			c.Close()
			if got := <-result; got != context.Canceled.Error() {
				t.Errorf("got %q, want %q", got, context.Canceled)
			}
		})
	}
}

func TestContextCancelledWhenHandlerReturns(t *testing.T) {
	ctxs := make(chan context.Context, 1)
	addr, _ := startH1(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Err() != nil {
			panic("context cancelled early")
		}
		if r.Context().Value(http.LocalAddrContextKey) == nil {
			panic("no LocalAddrContextKey")
		}
		ctxs <- r.Context()
	}), Options{})
	roundTrip(t, addr, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET")
	ctx := <-ctxs
	<-ctx.Done()
	if ctx.Err() != context.Canceled {
		t.Errorf("got %v, want context.Canceled", ctx.Err())
	}
}

func TestAbortHandlerClosesSilently(t *testing.T) {
	for _, kind := range []string{kindH1, kindStd} {
		t.Run(kind, func(t *testing.T) {
			addr := start(t, kind, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				panic(http.ErrAbortHandler)
			}))
			c := dial(t, addr)
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
			if err := closedAfter(c, bufio.NewReader(c)); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestH2CPrefaceHandOff(t *testing.T) {
	const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	got := make(chan string, 1)
	ln := listen(t)
	s := NewServer(http.HandlerFunc(echo), Options{H2C: func(c net.Conn) {
		defer c.Close()
		b := make([]byte, len(preface)+len("FRAMES"))
		_, err := io.ReadFull(c, b)
		got <- fmt.Sprintf("%q %v", b, err)
		io.WriteString(c, "ok")
	}})
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	c := dial(t, ln.Addr().String())
	io.WriteString(c, preface[:10])
	time.Sleep(10 * time.Millisecond) // split the preface over two reads (not an assertion)
	io.WriteString(c, preface[10:]+"FRAMES")
	if g, want := <-got, fmt.Sprintf("%q <nil>", preface+"FRAMES"); g != want {
		t.Errorf("H2C read %s, want %s", g, want)
	}
	b, _ := io.ReadAll(c)
	if string(b) != "ok" {
		t.Errorf("got %q from the H2C side, want ok", b)
	}
}

func TestServeConn(t *testing.T) {
	a, b := net.Pipe()
	s := NewServer(http.HandlerFunc(writeString("piped")), Options{})
	done := make(chan struct{})
	go func() { s.ServeConn(a); close(done) }()
	b.SetDeadline(time.Now().Add(ioWait))
	io.WriteString(b, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	rs, err := readResults(bufio.NewReader(b), "GET")
	if err != nil || rs[0].body != "piped" {
		t.Fatalf("got %v %v, want body piped", rs, err)
	}
	<-done
}

// Exchanges are pooled: a request on a connection must not see anything
// of the one before (its URL parts, header fields, response fields), and
// what a handler keeps past its return (the context, a clone of the
// request) must keep describing its own request.
func TestNextRequestSeesNothingOfTheLast(t *testing.T) {
	type kept struct {
		ctx   context.Context
		clone *http.Request
	}
	keep := make(chan kept, 3)
	addr, _ := startH1(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/first" {
			w.Header().Set("X-First", "yes")
		}
		fmt.Fprintf(w, "host=%q scheme=%q query=%q fields=%d one=%q", r.URL.Host, r.URL.Scheme, r.URL.RawQuery, len(r.Header), r.Header.Get("X-One"))
		keep <- kept{r.Context(), r.Clone(context.WithoutCancel(r.Context()))}
	}), Options{})
	raw := "GET http://example.com/first?q=1 HTTP/1.1\r\nHost: example.com\r\nX-One: 1\r\nX-Two: 2\r\n\r\n" +
		"GET /second HTTP/1.1\r\nHost: a\r\n\r\n" +
		"GET /third HTTP/1.1\r\nHost: a\r\nX-One: 3\r\n\r\n"
	rs, _, _ := roundTrip(t, addr, raw, "GET", "GET", "GET")
	want := []string{
		`host="example.com" scheme="http" query="q=1" fields=2 one="1"`,
		`host="" scheme="" query="" fields=0 one=""`,
		`host="" scheme="" query="" fields=1 one="3"`,
	}
	for i, r := range rs {
		if r.body != want[i] {
			t.Errorf("request %d saw %s, want %s", i+1, r.body, want[i])
		}
		if got := r.header.Get("X-First"); (i == 0) != (got == "yes") {
			t.Errorf("response %d: X-First %q", i+1, got)
		}
	}
	first := <-keep
	<-keep
	<-keep
	if first.ctx.Err() != context.Canceled {
		t.Errorf("the first request's context: %v, want canceled", first.ctx.Err())
	}
	if got := first.clone.Header.Get("X-One"); got != "1" || first.clone.URL.Path != "/first" || first.clone.Host != "example.com" {
		t.Errorf("the first request's clone changed: X-One %q, path %q, host %q", got, first.clone.URL.Path, first.clone.Host)
	}
	if first.clone.Context().Value(http.LocalAddrContextKey) == nil {
		t.Error("the clone's context lost its values")
	}
}
