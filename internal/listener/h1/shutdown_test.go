package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestReadHeaderTimeoutClosesSlowHead(t *testing.T) {
	for _, first := range []bool{true, false} {
		t.Run(fmt.Sprint("first request=", first), func(t *testing.T) {
			addr, _ := startH1(t, http.HandlerFunc(writeString("ok")), Options{ReadHeaderTimeout: 200 * time.Millisecond})
			c := dial(t, addr)
			br := bufio.NewReader(c)
			if !first {
				io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
				if _, err := readResults(br, "GET"); err != nil {
					t.Fatal(err)
				}
			}
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n") // never ends
			if err := closedAfter(c, br); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestIdleTimeoutClosesKeepAlive(t *testing.T) {
	addr, _ := startH1(t, http.HandlerFunc(writeString("ok")), Options{IdleTimeout: 200 * time.Millisecond})
	_, c, br := roundTrip(t, addr, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET")
	if err := closedAfter(c, br); err != nil {
		t.Error(err)
	}
}

// TestBusyConnectionKeepsItsIdleTimeout: a connection that served many
// requests back to back (and so keeps the wait deadline it has instead of
// setting a new one each time) still waits about the whole idle timeout
// for the next request, and is closed once idle.
func TestBusyConnectionKeepsItsIdleTimeout(t *testing.T) {
	const idle = 400 * time.Millisecond
	addr, _ := startH1(t, http.HandlerFunc(writeString("ok")), Options{IdleTimeout: idle})
	req := "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	_, c, br := roundTrip(t, addr, req, "GET")
	// Busy for most of an idle timeout: a deadline kept all that time
	// would run out during the pause below.
	for start, n := time.Now(), 0; time.Since(start) < idle*3/4 && n < 5000; n++ {
		io.WriteString(c, req)
		if _, err := readResults(br, "GET"); err != nil {
			t.Fatal(err)
		}
	}
	// Within the idle timeout, less the slack a kept deadline may have.
	time.Sleep(idle * 3 / 4)
	io.WriteString(c, req)
	if rs, err := readResults(br, "GET"); err != nil || rs[0].status != 200 {
		t.Fatalf("request after %v idle: %v %v", idle*3/4, rs, err)
	}
	if err := closedAfter(c, br); err != nil {
		t.Error(err)
	}
}

// TestSlowSteadyUploadCompletes: an upload taking longer than
// ReadIdleTimeout in total, with gaps shorter than it, is read in full.
func TestSlowSteadyUploadCompletes(t *testing.T) {
	const pieces = 12
	addr, _ := startH1(t, http.HandlerFunc(echo), Options{ReadIdleTimeout: 400 * time.Millisecond})
	c := dial(t, addr)
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n", pieces)
	for range pieces {
		time.Sleep(60 * time.Millisecond) // 0.72s in all, 60ms gaps
		io.WriteString(c, "x")
	}
	rs, err := readResults(bufio.NewReader(c), "POST")
	if err != nil {
		t.Fatal(err)
	}
	if err := bodyHas(rs[0], fmt.Sprintf("body=%q err=<nil>", strings.Repeat("x", pieces))); err != nil {
		t.Error(err)
	}
}

func TestStalledUploadFails(t *testing.T) {
	got := make(chan error, 1)
	addr, _ := startH1(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		got <- err
	}), Options{ReadIdleTimeout: 200 * time.Millisecond})
	c := dial(t, addr)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
	if err := <-got; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("got %v, want a deadline error", err)
	}
}

func TestShutdown(t *testing.T) {
	release, inFlight := make(chan struct{}), make(chan struct{})
	ln := listen(t)
	s := NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow":
			close(inFlight)
			<-release
			io.WriteString(w, "slow done")
		case "/hijack":
			conn, brw, _ := http.NewResponseController(w).Hijack()
			go func() {
				defer conn.Close()
				io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\n\r\n")
				io.Copy(conn, brw) // echo until the client closes
			}()
		default:
			io.WriteString(w, "ok")
		}
	}), Options{})
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	addr := ln.Addr().String()

	_, idle, idleBR := roundTrip(t, addr, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET")
	hj := dial(t, addr)
	io.WriteString(hj, "GET /hijack HTTP/1.1\r\nHost: a\r\n\r\n")
	hjBR := bufio.NewReader(hj)
	if rs, err := readResults(hjBR, "GET"); err != nil || rs[0].status != 101 {
		t.Fatalf("hijack: got %v %v", rs, err)
	}
	busy := dial(t, addr)
	io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	<-inFlight

	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	// The idle connection is closed while /slow is still running.
	if err := closedAfter(idle, idleBR); err != nil {
		t.Errorf("idle connection: %v", err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve returned %v, want ErrServerClosed", err)
	}
	close(release)
	rs, err := readResults(bufio.NewReader(busy), "GET")
	if err != nil || rs[0].body != "slow done" || !rs[0].close {
		t.Errorf("in-flight request: got %v %v, want its response with Connection: close", rs, err)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown returned %v", err)
	}
	// The hijacked connection outlives the shutdown.
	io.WriteString(hj, "still here")
	got := make([]byte, len("still here"))
	if _, err := io.ReadFull(hjBR, got); err != nil || string(got) != "still here" {
		t.Errorf("hijacked connection after Shutdown: got %q %v", got, err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("listener still accepting after Shutdown")
	}
}

func TestShutdownContextExpires(t *testing.T) {
	release, started := make(chan struct{}), make(chan struct{})
	addr, s := startH1(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
	}), Options{})
	defer close(release)
	c := dial(t, addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Shutdown(ctx); err != context.Canceled {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

// TestReverseProxyBehind: httputil.ReverseProxy (streaming, trailers,
// client-gone handling) runs unmodified behind the server.
func TestReverseProxyBehind(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Trailer")
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "backend saw %s %s %q", r.Method, r.URL.Path, b)
		w.Header().Set("X-Trailer", "t")
	}))
	t.Cleanup(backend.Close)
	u, _ := url.Parse(backend.URL)
	addr, _ := startH1(t, httputil.NewSingleHostReverseProxy(u), Options{})
	res, err := http.Post("http://"+addr+"/p", "text/plain", strings.NewReader("up"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if string(b) != `backend saw POST /p "up"` || res.Trailer.Get("X-Trailer") != "t" {
		t.Errorf("got %q trailer %v", b, res.Trailer)
	}
}

func TestFileServerBehind(t *testing.T) {
	dir := t.TempDir()
	content := strings.Repeat("static ", 3000)
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/files/", http.StripPrefix("/files/", http.FileServer(http.Dir(dir))))
	mux.Handle("/fs/", http.StripPrefix("/fs/", http.FileServerFS(fstest.MapFS{"b.txt": {Data: []byte("mapfs")}})))
	addr, _ := startH1(t, mux, Options{})
	cases := []struct{ path, rng, want string }{
		{"/files/a.txt", "", content},
		{"/files/a.txt", "bytes=0-5", "static"},
		{"/fs/b.txt", "", "mapfs"},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest("GET", "http://"+addr+tc.path, nil)
		if tc.rng != "" {
			req.Header.Set("Range", tc.rng)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(b) != tc.want {
			t.Errorf("%s %s: got %d bytes %q..., want %q...", tc.path, tc.rng, len(b), b[:min(len(b), 20)], tc.want[:min(len(tc.want), 20)])
		}
	}
}
