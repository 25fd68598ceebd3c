package upstream

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/testbackend"
)

// TestAnEarlyAnswerIsNotMissed: a backend may answer before the whole
// request reached it (here, before reading a body). The answer that
// arrives while the proxy is still sending must not be lost to the wait
// for the response: it is relayed at once, not after the first-byte
// timeout.
func TestAnEarlyAnswerIsNotMissed(t *testing.T) {
	// Answers at the end of the head, then drains the body and closes.
	addr := testbackend.Raw(t, func(c net.Conn, br *bufio.Reader) {
		if testbackend.ReadHead(br) != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nearly")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, br)
	})
	pool, _ := NewPool("p", PoolOptions{
		Backends:         []BackendOptions{{URL: "http://" + addr}},
		FirstByteTimeout: 10 * time.Second,
		ReplayBody:       -1, // bodies stream to the backend as they arrive
	})
	defer pool.Close()
	front := newTestProxy(t, &Proxy{Pool: pool})

	for _, first := range []int{100, 20 << 10} { // all in one write buffer; more than one
		c, err := net.Dial("tcp", front.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		const rest = 1 << 10
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: "+strconv.Itoa(first+rest)+"\r\n\r\n")
		c.Write(bytes.Repeat([]byte("a"), first))
		// The backend's answer reaches the proxy, and its poller, while
		// the proxy waits for the rest of the body.
		time.Sleep(200 * time.Millisecond)
		c.Write(bytes.Repeat([]byte("b"), rest))
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("first %d bytes: %v (the early answer was missed)", first, err)
		}
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || string(body) != "early" {
			t.Fatalf("first %d bytes: %d %q, want 200 early", first, res.StatusCode, body)
		}
		c.Close()
	}
}
