package h1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestLargeUnreadBody: a body over the discard limit left unread gets the
// response with Connection: close, and the close does not lose it.
func TestLargeUnreadBody(t *testing.T) {
	const size = 2 << 20
	addr, _ := startH1(t, http.HandlerFunc(writeString("nope")), Options{})
	c := dial(t, addr)
	go func() {
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n", size)
		c.Write(bytes.Repeat([]byte("z"), size)) // may fail once the server closes
	}()
	rs, err := readResults(bufio.NewReader(c), "POST")
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].body != "nope" || !rs[0].close {
		t.Errorf("got %v, want body nope with Connection: close", rs[0])
	}
}

// TestFullDuplexEcho: with EnableFullDuplex the handler streams its
// response while it reads the body.
func TestFullDuplexEcho(t *testing.T) {
	addr, _ := startH1(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.EnableFullDuplex(); err != nil {
			panic(err)
		}
		w.WriteHeader(200)
		rc.Flush()
		buf := make([]byte, 64)
		for {
			n, err := r.Body.Read(buf)
			w.Write(bytes.ToUpper(buf[:n]))
			rc.Flush()
			if err != nil {
				return
			}
		}
	}), Options{})
	c := dial(t, addr)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, word := range []string{"ping", "pong"} {
		fmt.Fprintf(c, "%x\r\n%s\r\n", len(word), word)
		got := make([]byte, len(word))
		if _, err := io.ReadFull(res.Body, got); err != nil || string(got) != strings.ToUpper(word) {
			t.Fatalf("got %q %v, want %q echoed while the body streams", got, err, strings.ToUpper(word))
		}
	}
	io.WriteString(c, "0\r\n\r\n")
	if rest, err := io.ReadAll(res.Body); err != nil || len(rest) != 0 {
		t.Errorf("got %q %v at the end", rest, err)
	}
}

// TestPipelinedWhileHandlerRuns: a request that arrives while the handler
// runs past the background-read delay is caught by the background read
// and served next.
func TestPipelinedWhileHandlerRuns(t *testing.T) {
	started := make(chan struct{}, 2)
	addr, _ := startH1(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		if r.URL.Path == "/slow" {
			time.Sleep(3 * bgReadDelay) // lets the background read start (not an assertion)
		}
		io.WriteString(w, r.URL.Path)
	}), Options{})
	c := dial(t, addr)
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	<-started
	time.Sleep(2 * bgReadDelay)
	io.WriteString(c, "GET /next HTTP/1.1\r\nHost: a\r\n\r\n")
	rs, err := readResults(bufio.NewReader(c), "GET", "GET")
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].body != "/slow" || rs[1].body != "/next" {
		t.Errorf("got %q and %q, want /slow and /next", rs[0].body, rs[1].body)
	}
}

// TestWriteIdleTimeout: a client that stops reading makes the handler's
// writes fail; one that reads slowly but steadily gets everything.
func TestWriteIdleTimeout(t *testing.T) {
	const size = 32 << 20
	failed := make(chan error, 1)
	addr, _ := startH1(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		chunk := make([]byte, 64<<10)
		var err error
		for n := 0; n < size && err == nil; n += len(chunk) {
			_, err = w.Write(chunk)
		}
		failed <- err
	}), Options{WriteIdleTimeout: 200 * time.Millisecond})
	c := dial(t, addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if err := <-failed; err == nil {
		t.Fatal("got no write error with a client that does not read")
	}

	c = dial(t, addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4<<20)
	var got int64
	for got < size {
		n, err := io.ReadFull(res.Body, buf[:min(int64(len(buf)), size-got)])
		got += int64(n)
		if err != nil {
			t.Fatalf("after %d bytes: %v", got, err)
		}
		time.Sleep(20 * time.Millisecond) // slow but steady (not an assertion)
	}
	if err := <-failed; err != nil {
		t.Errorf("steady reader: handler write failed: %v", err)
	}
}

// TestResponseControllerDeadlines: the deadline methods reach the
// connection.
func TestResponseControllerDeadlines(t *testing.T) {
	got := make(chan error, 1)
	addr, _ := startH1(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
			panic(err)
		}
		if err := rc.SetWriteDeadline(time.Time{}); err != nil {
			panic(err)
		}
		_, err := io.ReadAll(r.Body)
		got <- err
	}), Options{})
	c := dial(t, addr)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nab")
	if err := <-got; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("got %v, want a deadline error", err)
	}
}

// TestBodyLargerThanTheWriteBufferLeavesWithTheHead: a body written in
// one Write after the head goes out gathered with it (writev on plain
// TCP); every size around the buffer's edges arrives whole, in order,
// and the connection stays usable for the next request.
func TestBodyLargerThanTheWriteBufferLeavesWithTheHead(t *testing.T) {
	sizes := []int{writeBufSize - 300, writeBufSize - 1, writeBufSize, writeBufSize + 1, 10 << 10, 64 << 10, 3 << 20}
	addr, _ := startH1(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscan(r.URL.Query().Get("n"), &n)
		body := make([]byte, n)
		for i := range body {
			body[i] = byte('a' + i%26)
		}
		w.Header().Set("Content-Length", fmt.Sprint(n))
		w.Header().Set("X-Pad", strings.Repeat("p", 200))
		if k, err := w.Write(body); k != n || err != nil {
			t.Errorf("size %d: Write returned %d, %v", n, k, err)
		}
	}), Options{})
	c := dial(t, addr)
	br := bufio.NewReader(c)
	for _, n := range sizes {
		fmt.Fprintf(c, "GET /?n=%d HTTP/1.1\r\nHost: a\r\n\r\n", n)
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("size %d: %v", n, err)
		}
		got, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || len(got) != n {
			t.Fatalf("size %d: read %d bytes (%v)", n, len(got), err)
		}
		for i := range got {
			if got[i] != byte('a'+i%26) {
				t.Fatalf("size %d: byte %d is %q", n, i, got[i])
			}
		}
	}
}
