package upstream

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/testbackend"
	"golang.org/x/net/http2"
)

const switched = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"

// xconnect is one WebSocket opened over HTTP/2 (RFC 8441) through a
// proxy in front of a scripted backend.
type xconnect struct {
	front  *httptest.Server
	tr     *http2.Transport
	cancel context.CancelFunc
	res    *http.Response
	pw     *io.PipeWriter
	err    error
}

func openXConnect(t *testing.T, addr string, within time.Duration) *xconnect {
	return openXConnectIdle(t, addr, within, 0)
}

// openXConnectIdle is openXConnect with a tunnel idle timeout (0: the
// default).
func openXConnectIdle(t *testing.T, addr string, within, idle time.Duration) *xconnect {
	t.Helper()
	pool, err := NewPool("ws", PoolOptions{
		Backends:          []BackendOptions{{URL: "http://" + addr}},
		FirstByteTimeout:  10 * time.Second,
		TunnelIdleTimeout: idle,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	x := &xconnect{front: httptest.NewUnstartedServer(&Proxy{Pool: pool})}
	x.front.EnableHTTP2 = true
	x.front.StartTLS()
	x.tr = &http2.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	ctx, cancel := context.WithTimeout(context.Background(), within)
	x.cancel = cancel
	pr, pw := io.Pipe()
	x.pw = pw
	req, _ := http.NewRequestWithContext(ctx, http.MethodConnect, x.front.URL+"/chat", pr)
	req.Header.Set(":protocol", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	x.res, x.err = x.tr.RoundTrip(req)
	return x
}

// readWithin reads body to its end, giving up (by closing it) after d:
// a context deadline does not stop a read of an HTTP/2 response body.
func readWithin(body io.ReadCloser, d time.Duration) ([]byte, error) {
	t := time.AfterFunc(d, func() { body.Close() })
	defer t.Stop()
	return io.ReadAll(body)
}

// close ends the client side and the proxy, bounded.
func (x *xconnect) close() {
	x.cancel()
	x.pw.Close()
	if x.res != nil {
		x.res.Body.Close()
	}
	x.tr.CloseIdleConnections()
	x.front.Close()
}

// TestExtendedConnectRefusal: a backend that does not switch is relayed
// as its status when it refuses; a 2xx that is not a switch, or a 101 to
// another protocol, is a 502 (on HTTP/2 a 2xx would tell the client its
// WebSocket is open).
func TestExtendedConnectRefusal(t *testing.T) {
	for _, tc := range []struct {
		answer string
		status int
		body   string
	}{
		{"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno", 403, "no"},
		{"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: evil\r\n\r\nsmuggled", 502, ""},
		{"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled", 502, ""},
	} {
		closed := make(chan error, 1)
		addr := testbackend.Raw(t, func(c net.Conn, br *bufio.Reader) {
			if testbackend.ReadHead(br) != nil {
				return
			}
			io.WriteString(c, tc.answer)
			closed <- waitClosed(c, br, 3*time.Second)
		})
		x := openXConnect(t, addr, 5*time.Second)
		if x.err != nil {
			t.Fatalf("%.20q: %v", tc.answer, x.err)
		}
		body, _ := readWithin(x.res.Body, 5*time.Second)
		if x.res.StatusCode != tc.status || (tc.body != "" && string(body) != tc.body) || (tc.status == 502 && string(body) == "smuggled") {
			t.Fatalf("backend %.20q: got %d %q, want %d", tc.answer, x.res.StatusCode, body, tc.status)
		}
		if err := <-closed; err != nil {
			t.Fatalf("backend %.20q: its connection was left open: %v", tc.answer, err)
		}
		x.close()
	}
}

// TestExtendedConnectResetClosesBackend: a client that resets its stream
// gets the backend connection closed, and nothing is left running.
func TestExtendedConnectResetClosesBackend(t *testing.T) {
	closed := make(chan error, 1)
	addr := testbackend.Raw(t, func(c net.Conn, br *bufio.Reader) {
		if testbackend.ReadHead(br) != nil {
			return
		}
		io.WriteString(c, switched+"hi")
		closed <- waitClosed(c, br, 3*time.Second)
	})
	base := runtime.NumGoroutine()
	x := openXConnect(t, addr, 10*time.Second)
	if x.err != nil || x.res.StatusCode != 200 {
		t.Fatalf("no tunnel: %v", x.err)
	}
	t0 := time.AfterFunc(5*time.Second, func() { x.res.Body.Close() })
	b := make([]byte, 2)
	_, err := io.ReadFull(x.res.Body, b)
	t0.Stop()
	if err != nil || string(b) != "hi" {
		t.Fatalf("got %q (%v), want hi", b, err)
	}
	x.res.Body.Close() // RST_STREAM
	if err := <-closed; err != nil {
		t.Fatalf("the backend connection outlived the reset stream: %v", err)
	}
	x.close()
	waitGoroutines(t, base)
}

// TestExtendedConnectBackendCloses: when the backend closes, the client's
// stream ends too within the documented grace, even if the client keeps
// its own side open and silent.
func TestExtendedConnectBackendCloses(t *testing.T) {
	addr := testbackend.Raw(t, func(c net.Conn, br *bufio.Reader) {
		if testbackend.ReadHead(br) != nil {
			return
		}
		io.WriteString(c, switched+"bye")
	})
	base := runtime.NumGoroutine()
	x := openXConnect(t, addr, tunnelCloseGrace+5*time.Second)
	if x.err != nil || x.res.StatusCode != 200 {
		t.Fatalf("no tunnel: %v", x.err)
	}
	start := time.Now()
	b, err := readWithin(x.res.Body, tunnelCloseGrace+3*time.Second)
	if string(b) != "bye" || err != nil {
		t.Fatalf("got %q (%v) after %v, want bye and the end of the stream", b, err, time.Since(start))
	}
	if d := time.Since(start); d > tunnelCloseGrace+2*time.Second {
		t.Fatalf("the stream ended %v after the backend closed", d)
	}
	x.close()
	waitGoroutines(t, base)
}

// TestExtendedConnectClientEnds: when the client ends its stream, the
// backend sees EOF, and a backend that then never closes has its
// connection closed within the documented grace.
func TestExtendedConnectClientEnds(t *testing.T) {
	got := make(chan string, 1)
	closed := make(chan error, 1)
	addr := testbackend.Raw(t, func(c net.Conn, br *bufio.Reader) {
		if testbackend.ReadHead(br) != nil {
			return
		}
		io.WriteString(c, switched)
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		b, err := io.ReadAll(br)
		got <- string(b) + " then " + errString(err)
		io.WriteString(c, "reply")
		closed <- waitClosed(c, br, tunnelCloseGrace+3*time.Second) // silent, never closing
	})
	base := runtime.NumGoroutine()
	x := openXConnect(t, addr, tunnelCloseGrace+10*time.Second)
	if x.err != nil || x.res.StatusCode != 200 {
		t.Fatalf("no tunnel: %v", x.err)
	}
	io.WriteString(x.pw, "last")
	x.pw.Close()
	if s := <-got; s != "last then <nil>" {
		t.Fatalf("backend got %q, want last and EOF", s)
	}
	if b, err := readWithin(x.res.Body, tunnelCloseGrace+3*time.Second); string(b) != "reply" {
		t.Fatalf("after its end the client got %q (%v), want the backend's reply", b, err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("a silent backend kept the tunnel past the grace: %v", err)
	}
	x.close()
	waitGoroutines(t, base)
}

// TestExtendedConnectIdleTimeout: a WebSocket over HTTP/2 idle both ways
// for tunnel_idle_timeout has its stream ended and its backend
// connection closed, well before the close grace would matter.
func TestExtendedConnectIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	closed := make(chan error, 1)
	addr := testbackend.Raw(t, func(c net.Conn, br *bufio.Reader) {
		if testbackend.ReadHead(br) != nil {
			return
		}
		io.WriteString(c, switched)
		closed <- waitClosed(c, br, 5*time.Second) // silent, never closing
	})
	base := runtime.NumGoroutine()
	x := openXConnectIdle(t, addr, 10*time.Second, idle)
	if x.err != nil || x.res.StatusCode != 200 {
		t.Fatalf("no tunnel: %v", x.err)
	}
	start := time.Now()
	if err := <-closed; err != nil {
		t.Fatalf("the idle tunnel's backend connection was not closed: %v", err)
	}
	if _, err := readWithin(x.res.Body, 3*time.Second); time.Since(start) > 3*time.Second {
		t.Fatalf("the client's stream did not end (%v)", err)
	}
	if d := time.Since(start); d < idle/2 {
		t.Errorf("closed after %v, before the idle timeout of %v", d, idle)
	}
	x.close()
	waitGoroutines(t, base)
}
