package upstream

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/testbackend"
)

const upgradeRequest = "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"

// upgradeFront is a proxy in front of addr whose first-byte timeout is
// long enough never to be what ends a test.
func upgradeFront(t *testing.T, addr string) *httptest.Server {
	return upgradeFrontIdle(t, addr, 0)
}

// upgradeFrontIdle is upgradeFront with a tunnel idle timeout (0: the
// default).
func upgradeFrontIdle(t *testing.T, addr string, idle time.Duration) *httptest.Server {
	t.Helper()
	pool, err := NewPool("up", PoolOptions{
		Backends:          []BackendOptions{{URL: "http://" + addr}},
		FirstByteTimeout:  10 * time.Second,
		TunnelIdleTimeout: idle,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return newTestProxy(t, &Proxy{Pool: pool})
}

// dialFront opens a raw connection to front whose reads and writes give
// up after a few seconds.
func dialFront(t *testing.T, front *httptest.Server) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	return c
}

// waitGoroutines waits, a bounded time, for the goroutine count to fall

// openTunnel dials front, sends the upgrade request and requires the 101.
func openTunnel(t *testing.T, front *httptest.Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	c := dialFront(t, front)
	io.WriteString(c, upgradeRequest)
	br := bufio.NewReader(c)
	if res, err := http.ReadResponse(br, nil); err != nil || res.StatusCode != 101 {
		t.Fatalf("no 101: %v", err)
	}
	return c, br
}

// back to base.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before: a tunnel leaked\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitClosed reports whether the peer of c closed it (EOF or reset)
// within the bound, reading away anything sent before.
func waitClosed(c net.Conn, br *bufio.Reader, within time.Duration) error {
	c.SetReadDeadline(time.Now().Add(within))
	_, err := io.Copy(io.Discard, br)
	if err == nil {
		return nil // EOF
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	return nil // reset: closed as well
}

// TestUpgradeAnswerMustMatchTheAsk: a 101 whose Upgrade names a protocol
// the client did not ask for (or none) is a 502 and never a tunnel, and
// the backend connection is closed.
func TestUpgradeAnswerMustMatchTheAsk(t *testing.T) {
	for _, upgrade := range []string{"Upgrade: evil\r\n", "Upgrade: websocket, evil\r\n", ""} {
		closed := make(chan error, 1)
		addr := testbackend.Raw(t, func(c net.Conn, br *bufio.Reader) {
			if testbackend.ReadHead(br) != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"+upgrade+"\r\nsmuggled")
			closed <- waitClosed(c, br, 3*time.Second)
		})
		front := upgradeFront(t, addr)
		c := dialFront(t, front)
		io.WriteString(c, upgradeRequest)
		br := bufio.NewReader(c)
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%q: %v", upgrade, err)
		}
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusBadGateway {
			t.Fatalf("101 with %q to Upgrade: websocket: got %d %q, want 502", upgrade, res.StatusCode, body)
		}
		if err := <-closed; err != nil {
			t.Fatalf("%q: the backend connection was left open: %v", upgrade, err)
		}
	}
}

// TestUpgradeAnswered200IsAPlainResponse: a backend that does not switch
// answers the upgrade request like any other; the client connection
// stays HTTP and serves the next request.
func TestUpgradeAnswered200IsAPlainResponse(t *testing.T) {
	addr := testbackend.Raw(t, func(c net.Conn, br *bufio.Reader) {
		for testbackend.ReadHead(br) == nil {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nplain")
		}
	})
	front := upgradeFront(t, addr)
	c := dialFront(t, front)
	br := bufio.NewReader(c)
	for i := range 2 {
		io.WriteString(c, upgradeRequest)
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || string(body) != "plain" || res.Header.Get("Upgrade") != "" || res.Close {
			t.Fatalf("request %d: got %d %q %v close=%v, want a plain kept-alive 200", i, res.StatusCode, body, res.Header, res.Close)
		}
	}
}

// TestTunnelEarlyBytes: bytes the backend sent in the packet of its 101
// and bytes the client sent right behind its request head both reach the
// other side, in order, once.
func TestTunnelEarlyBytes(t *testing.T) {
	got := make(chan string, 1)
	addr := testbackend.Raw(t, func(c net.Conn, br *bufio.Reader) {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if testbackend.ReadHead(br) != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nbackend-early|")
		b := make([]byte, len("client-early|client-late|"))
		_, err := io.ReadFull(br, b)
		io.WriteString(c, "backend-late|")
		rest, _ := io.ReadAll(br) // to the client's close
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(b) + string(rest)
	})
	base := runtime.NumGoroutine()
	front := upgradeFront(t, addr)
	c := dialFront(t, front)
	io.WriteString(c, upgradeRequest+"client-early|")
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 101 || res.Header.Get("Upgrade") != "websocket" {
		t.Fatalf("got %d %v, want 101 websocket", res.StatusCode, res.Header)
	}
	b := make([]byte, len("backend-early|"))
	if _, err := io.ReadFull(br, b); err != nil || string(b) != "backend-early|" {
		t.Fatalf("got %q (%v), want the backend's early bytes", b, err)
	}
	io.WriteString(c, "client-late|")
	b = make([]byte, len("backend-late|"))
	if _, err := io.ReadFull(br, b); err != nil || string(b) != "backend-late|" {
		t.Fatalf("got %q (%v), want backend-late|", b, err)
	}
	c.Close()
	if s := <-got; s != "client-early|client-late|" {
		t.Fatalf("backend got %q, want client-early|client-late|", s)
	}
	front.Close()
	waitGoroutines(t, base)
}

// TestTunnelHalfClose: when one side half-closes, the other direction
// keeps flowing until it ends too; then both connections are closed and
// the tunnel's goroutines are gone.
func TestTunnelHalfClose(t *testing.T) {
	for _, clientFirst := range []bool{true, false} {
		got := make(chan string, 1)
		addr := testbackend.Raw(t, func(c net.Conn, br *bufio.Reader) {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if testbackend.ReadHead(br) != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
			if clientFirst {
				in, _ := io.ReadAll(br) // to the client's half-close
				for _, s := range []string{"after ", "the ", "close"} {
					time.Sleep(50 * time.Millisecond)
					io.WriteString(c, s)
				}
				c.(*net.TCPConn).CloseWrite()
				_, err := br.ReadByte()
				got <- string(in) + " then " + errString(err)
				return
			}
			io.WriteString(c, "bye")
			c.(*net.TCPConn).CloseWrite()
			in, err := io.ReadAll(br)
			got <- string(in) + " then " + errString(err)
		})
		base := runtime.NumGoroutine()
		front := upgradeFront(t, addr)
		c, br := openTunnel(t, front)
		var want string
		if clientFirst {
			io.WriteString(c, "bye")
			c.(*net.TCPConn).CloseWrite()
			b, err := io.ReadAll(br)
			if string(b) != "after the close" || err != nil {
				t.Fatalf("client got %q (%v) after its half-close, want the rest and EOF", b, err)
			}
			want = "bye then EOF"
		} else {
			b, err := io.ReadAll(br)
			if string(b) != "bye" || err != nil {
				t.Fatalf("client got %q (%v), want bye and EOF", b, err)
			}
			for _, s := range []string{"after ", "the ", "close"} {
				time.Sleep(50 * time.Millisecond)
				if _, err := io.WriteString(c, s); err != nil {
					t.Fatalf("client write after the backend's half-close: %v", err)
				}
			}
			c.Close()
			want = "after the close then <nil>"
		}
		if s := <-got; s != want {
			t.Fatalf("client first %v: backend got %q, want %q", clientFirst, s, want)
		}
		c.Close()
		front.Close()
		waitGoroutines(t, base)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	if err == io.EOF {
		return "EOF"
	}
	return err.Error()
}

// TestUpgradeClientGoneBeforeSwitch: a client that leaves while the
// backend has not answered yet gets the backend connection closed, long
// before the first-byte timeout.
func TestUpgradeClientGoneBeforeSwitch(t *testing.T) {
	headIn := make(chan struct{})
	closed := make(chan error, 1)
	addr := testbackend.Raw(t, func(c net.Conn, br *bufio.Reader) {
		if testbackend.ReadHead(br) != nil {
			return
		}
		close(headIn)
		closed <- waitClosed(c, br, 3*time.Second)
	})
	base := runtime.NumGoroutine()
	front := upgradeFront(t, addr)
	c := dialFront(t, front)
	io.WriteString(c, upgradeRequest)
	select {
	case <-headIn:
	case <-time.After(5 * time.Second):
		t.Fatal("the request never reached the backend")
	}
	c.Close()
	if err := <-closed; err != nil {
		t.Fatalf("the backend connection outlived the client: %v", err)
	}
	front.Close()
	waitGoroutines(t, base)
}

// TestTunnelIdleTimeout: a tunnel idle both ways for tunnel_idle_timeout
// is closed on both sides; one where only one side talks is not.
func TestTunnelIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	backendClosed := make(chan time.Duration, 2)
	addr := testbackend.Raw(t, func(c net.Conn, br *bufio.Reader) {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if testbackend.ReadHead(br) != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		start := time.Now()
		io.Copy(io.Discard, br) // until Portico closes
		backendClosed <- time.Since(start)
	})
	base := runtime.NumGoroutine()
	front := upgradeFrontIdle(t, addr, idle)

	t.Run("silent both ways", func(t *testing.T) {
		c, br := openTunnel(t, front)
		start := time.Now()
		if err := waitClosed(c, br, 5*time.Second); err != nil {
			t.Fatalf("the idle tunnel was not closed: %v", err)
		}
		if d := time.Since(start); d < idle/2 {
			t.Errorf("closed after %v, before the idle timeout of %v", d, idle)
		}
		select {
		case <-backendClosed:
		case <-time.After(5 * time.Second):
			t.Fatal("the backend side stayed open")
		}
	})

	t.Run("one side talking", func(t *testing.T) {
		c, _ := openTunnel(t, front)
		// The client talks every idle/3 for three idle periods; the
		// backend never answers. The tunnel must stay open throughout.
		for i := 0; i < 9; i++ {
			time.Sleep(idle / 3)
			if _, err := io.WriteString(c, "tick|"); err != nil {
				t.Fatalf("write %d: %v", i, err)
			}
		}
		select {
		case d := <-backendClosed:
			t.Fatalf("the tunnel closed after %v while the client was talking", d)
		default:
		}
		c.Close()
		select {
		case <-backendClosed:
		case <-time.After(10 * time.Second):
			t.Fatal("the backend side stayed open after the client left")
		}
	})
	front.Close()
	waitGoroutines(t, base)
}
