package listener

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/testbackend"
)

const waitLimit = 5 * time.Second

// rejectLog collects OnReject reasons.
type rejectLog struct {
	mu      sync.Mutex
	reasons []string
}

func (r *rejectLog) add(reason string) {
	r.mu.Lock()
	r.reasons = append(r.reasons, reason)
	r.mu.Unlock()
}

func (r *rejectLog) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.reasons...)
}

// startServer serves h with net/http on a guarded listener on 127.0.0.1.
func startServer(t *testing.T, opts guardOptions, h http.Handler, configure func(*http.Server)) string {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: waitLimit}
	if configure != nil {
		configure(srv)
	}
	go srv.Serve(newGuardedListener(inner, opts))
	t.Cleanup(func() { srv.Close() })
	return inner.Addr().String()
}

func countingHandler(calls *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %d", r.Method, r.URL.Path, len(body))
	})
}

// Keep-alive traffic (bodies by length and chunked) over guarded conns with
// an idle write deadline: 100 requests, one connection.
func TestServerKeepAliveHundredRequests(t *testing.T) {
	var calls, conns atomic.Int32
	addr := startServer(t, guardOptions{WriteIdle: time.Second}, countingHandler(&calls), func(s *http.Server) {
		s.ConnState = func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				conns.Add(1)
			}
		}
	})
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}, Timeout: waitLimit}
	defer client.CloseIdleConnections()
	for i := range 100 {
		var resp *http.Response
		var err error
		want := "GET /get 0"
		switch i % 3 {
		case 0:
			resp, err = client.Get("http://" + addr + "/get")
		case 1:
			resp, err = client.Post("http://"+addr+"/cl", "text/plain", strings.NewReader("hello"))
			want = "POST /cl 5"
		case 2: // no length: sent chunked
			resp, err = client.Post("http://"+addr+"/chunked", "text/plain", io.MultiReader(strings.NewReader("abc"), strings.NewReader("defg")))
			want = "POST /chunked 7"
		}
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != want {
			t.Fatalf("request %d: got %d %q, want 200 %q", i, resp.StatusCode, body, want)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("got %d connections, want 1", n)
	}
}

// HTTP/2 frames written through a guarded conn with an idle write deadline.
func TestServerH2CPriorKnowledge(t *testing.T) {
	var calls atomic.Int32
	var proto atomic.Value
	inner := countingHandler(&calls)
	addr := startServer(t, guardOptions{WriteIdle: time.Second}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto.Store(r.Proto)
		inner.ServeHTTP(w, r)
	}), func(s *http.Server) {
		s.Protocols = new(http.Protocols)
		s.Protocols.SetHTTP1(true)
		s.Protocols.SetUnencryptedHTTP2(true)
	})
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: waitLimit}
	for i := range 10 {
		resp, err := client.Post("http://"+addr+"/h2", "text/plain", strings.NewReader(strings.Repeat("x", i*1000)))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf("POST /h2 %d", i*1000); string(body) != want {
			t.Fatalf("got %q, want %q", body, want)
		}
	}
	if p := proto.Load(); p != "HTTP/2.0" {
		t.Errorf("got protocol %v, want HTTP/2.0", p)
	}
}

// A client that stops reading makes the handler's writes fail.
func TestServerWriteIdleStalledClient(t *testing.T) {
	writeErr := make(chan error, 1)
	addr := startServer(t, guardOptions{WriteIdle: 200 * time.Millisecond}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("z"), 32<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				writeErr <- err
				return
			}
		}
	}), nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(4 << 10)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	// ... and never read.
	select {
	case err := <-writeErr:
		if err == nil {
			t.Fatal("got nil error")
		}
	case <-time.After(waitLimit):
		t.Fatal("write to a stalled client did not fail")
	}
}

// tcpPair returns the two ends of a loopback TCP connection, with small
// socket buffers so that a slow reader holds the writer back.
func tcpPair(t *testing.T) (server, client *net.TCPConn) {
	t.Helper()
	client, server = testbackend.TCPPair(t)
	// Small, but above the loopback MSS (64 KiB), or window updates wait
	// for the persist timer.
	server.SetWriteBuffer(128 << 10)
	client.SetReadBuffer(128 << 10)
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// slowRead reads everything from c in steps of step bytes with a pause
// between, and returns what it read.
func slowRead(c net.Conn, step int, pause time.Duration) ([]byte, error) {
	var out bytes.Buffer
	buf := make([]byte, step)
	for {
		n, err := c.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			return out.Bytes(), nil
		}
		if err != nil {
			return out.Bytes(), err
		}
		time.Sleep(pause)
	}
}

// onlyReader hides every method but Read (no WriterTo, no kernel copy).
type onlyReader struct{ io.Reader }

func testPayload(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + i>>10)
	}
	return p
}

// A slow client that keeps reading gets a download that lasts several
// times writeIdle, by every write path.
func TestWriteIdleSlowSteadyReaderCompletes(t *testing.T) {
	payload := testPayload(4 << 20)
	file := filepath.Join(t.TempDir(), "payload")
	if err := os.WriteFile(file, payload, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		idle time.Duration
		send func(t *testing.T, gc *guardedConn) error
	}{
		{"one large Write", 200 * time.Millisecond, func(t *testing.T, gc *guardedConn) error {
			_, err := gc.Write(payload)
			return err
		}},
		{"ReadFrom a file (sendfile)", 200 * time.Millisecond, func(t *testing.T, gc *guardedConn) error {
			f, err := os.Open(file)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = gc.ReadFrom(&io.LimitedReader{R: f, N: int64(len(payload))})
			return err
		}},
		{"ReadFrom a plain reader", 200 * time.Millisecond, func(t *testing.T, gc *guardedConn) error {
			_, err := gc.ReadFrom(onlyReader{bytes.NewReader(payload)})
			return err
		}},
		{"ReadFrom a socket (splice)", time.Second, func(t *testing.T, gc *guardedConn) error {
			src, feeder := tcpPair(t)
			go func() {
				feeder.Write(payload)
				feeder.Close()
			}()
			_, err := gc.ReadFrom(src)
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			server, client := tcpPair(t)
			gc := newGuardedConn(server, tc.idle)
			sendErr := make(chan error, 1)
			go func() {
				err := tc.send(t, gc)
				gc.Close()
				sendErr <- err
			}()
			// At most 64 KiB per 10ms: a 4 MiB download takes several
			// writeIdle periods, with the writer blocked most of it.
			got, err := slowRead(client, 64<<10, 10*time.Millisecond)
			if err != nil {
				t.Fatalf("client read: %v", err)
			}
			if err := <-sendErr; err != nil {
				t.Fatalf("send: %v", err)
			}
			if !bytes.Equal(got, payload) {
				t.Fatalf("got %d bytes, want the %d sent", len(got), len(payload))
			}
		})
	}
}

// A client that stops reading makes every write path fail with a timeout.
func TestWriteIdleStalledReaderFails(t *testing.T) {
	payload := testPayload(16 << 20)
	file := filepath.Join(t.TempDir(), "payload")
	if err := os.WriteFile(file, payload, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		send func(t *testing.T, gc *guardedConn) error
	}{
		{"Write", func(t *testing.T, gc *guardedConn) error {
			_, err := gc.Write(payload)
			return err
		}},
		{"ReadFrom a file", func(t *testing.T, gc *guardedConn) error {
			f, err := os.Open(file)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = gc.ReadFrom(f)
			return err
		}},
		{"ReadFrom a socket", func(t *testing.T, gc *guardedConn) error {
			src, feeder := tcpPair(t)
			go feeder.Write(payload)
			_, err := gc.ReadFrom(src)
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			server, _ := tcpPair(t)
			gc := newGuardedConn(server, 200*time.Millisecond)
			sendErr := make(chan error, 1)
			go func() { sendErr <- tc.send(t, gc) }()
			select {
			case err := <-sendErr:
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("got %v, want a deadline error", err)
				}
			case <-time.After(waitLimit):
				gc.Close()
				t.Fatal("write to a stalled client did not fail")
			}
		})
	}
}

func TestWriteIdleExplicitDeadlineWins(t *testing.T) {
	server, client := tcpPair(t)
	gc := newGuardedConn(server, time.Minute)
	gc.SetWriteDeadline(time.Now().Add(-time.Second))
	if _, err := gc.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("with a past deadline: got %v, want a deadline error", err)
	}
	gc.SetDeadline(time.Time{}) // back to the idle deadline
	if _, err := gc.Write([]byte("y")); err != nil {
		t.Fatalf("after clearing: %v", err)
	}
	client.SetReadDeadline(time.Now().Add(waitLimit))
	b := make([]byte, 1)
	if _, err := io.ReadFull(client, b); err != nil || b[0] != 'y' {
		t.Fatalf("got %q, %v; want y", b, err)
	}
}

// fakeListener returns queued results from Accept.
type fakeListener struct {
	net.Listener
	results []acceptResult
}

type acceptResult struct {
	conn net.Conn
	err  error
}

func (l *fakeListener) Accept() (net.Conn, error) {
	if len(l.results) == 0 {
		return nil, net.ErrClosed
	}
	r := l.results[0]
	l.results = l.results[1:]
	return r.conn, r.err
}

func TestAcceptWaitsOutTemporaryErrors(t *testing.T) {
	emfile := &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept", syscall.EMFILE)}
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	inner := &fakeListener{results: []acceptResult{{err: emfile}, {err: emfile}, {err: emfile}, {conn: c1}, {err: net.ErrClosed}}}
	l := newGuardedListener(inner, guardOptions{WriteIdle: time.Second}).(*guardedListener)
	var slept []time.Duration
	l.sleep = func(d time.Duration) { slept = append(slept, d) }
	c, err := l.Accept()
	if err != nil {
		t.Fatalf("got error %v, want the connection", err)
	}
	if gc, ok := c.(*guardedConn); !ok || gc.Unwrap() != c1 {
		t.Errorf("got %T, want a *guardedConn around the accepted conn", c)
	}
	if want := []time.Duration{5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond}; fmt.Sprint(slept) != fmt.Sprint(want) {
		t.Errorf("got backoff %v, want %v", slept, want)
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("got %v, want net.ErrClosed", err)
	}
}

// A slow steady client downloads a file served by net/http (which hands
// the file to guardedConn.ReadFrom for sendfile) over several writeIdle
// periods.
func TestServerSlowClientDownloadsFile(t *testing.T) {
	payload := testPayload(4 << 20)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "big.bin"), payload, 0o600); err != nil {
		t.Fatal(err)
	}
	addr := startServer(t, guardOptions{WriteIdle: 200 * time.Millisecond}, http.FileServer(http.Dir(dir)), nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(128 << 10)
	io.WriteString(c, "GET /big.bin HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	got, err := slowRead(c, 64<<10, 10*time.Millisecond)
	if err != nil {
		t.Fatalf("client read: %v", err)
	}
	head, body, ok := bytes.Cut(got, []byte("\r\n\r\n"))
	if !ok || !bytes.HasPrefix(head, []byte("HTTP/1.1 200")) || !bytes.Equal(body, payload) {
		t.Fatalf("got head %q and %d body bytes, want 200 and %d bytes", head, len(body), len(payload))
	}
}

func TestAcceptReturnsTimeouts(t *testing.T) {
	timeout := &net.OpError{Op: "accept", Net: "tcp", Err: os.ErrDeadlineExceeded}
	l := newGuardedListener(&fakeListener{results: []acceptResult{{err: timeout}}}, guardOptions{})
	if _, err := l.Accept(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("got %v, want the timeout", err)
	}
}

// discardConn accepts every write.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error)      { return len(p), nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }

func BenchmarkGuardedConnWrite(b *testing.B) {
	gc := newGuardedConn(discardConn{}, time.Minute)
	p := make([]byte, 4096)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := gc.Write(p); err != nil {
			b.Fatal(err)
		}
	}
}
