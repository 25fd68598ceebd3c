package h1

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestTLSRequestSentWithTheHandshakeIsServed: a client may send its first
// request in the same segment as its handshake's last flight, so
// crypto/tls already holds the request when the handshake ends and the
// socket has nothing more to read. The wait for the first request must
// take it from there (a peek at the socket would wait until the
// deadline). The handler checks that no socket read happened after the
// handshake, which shows the request came from crypto/tls's buffer.
func TestTLSRequestSentWithTheHandshakeIsServed(t *testing.T) {
	serverConf, clientConf := tlsConfigs(t)
	ln := listen(t)
	var readsAfterHandshake atomic.Int64
	s := NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := readsAfterHandshake.Load(); n != 0 {
			t.Errorf("%d socket reads after the handshake; the test wants the request already in crypto/tls", n)
		}
		io.WriteString(w, "ok")
	}), Options{ReadHeaderTimeout: time.Minute})
	t.Cleanup(func() { s.Close() })
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			return
		}
		counted := &countingConn{Conn: raw}
		tc := tls.Server(counted, serverConf)
		if err := tc.Handshake(); err != nil {
			t.Errorf("server handshake: %v", err)
			raw.Close()
			return
		}
		counted.count = &readsAfterHandshake
		s.ServeConn(tc)
	}()

	raw := dial(t, ln.Addr().String())
	_ = raw.SetDeadline(time.Now().Add(3 * time.Second)) // well before ReadHeaderTimeout
	held := &holdingConn{Conn: raw}
	clientConf.ServerName = "127.0.0.1"
	tc := tls.Client(held, clientConf)
	held.holdAfterFirstWrite() // the ClientHello goes out; the rest waits
	if err := tc.Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if _, err := io.WriteString(tc, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if err := held.flush(); err != nil { // Finished and the request, in one write
		t.Fatal(err)
	}
	rs, err := readResults(bufio.NewReader(tc), "GET")
	if err != nil || rs[0].body != "ok" {
		t.Fatalf("got %v, %v; want the request answered", rs, err)
	}
}

// countingConn counts reads once count is set.
type countingConn struct {
	net.Conn
	count *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	if c.count != nil {
		c.count.Add(1)
	}
	return c.Conn.Read(p)
}

// holdingConn passes its first write through and keeps later ones until
// flush, which sends them in one write.
type holdingConn struct {
	net.Conn
	mu     sync.Mutex
	armed  bool
	writes int
	held   bytes.Buffer
}

func (c *holdingConn) holdAfterFirstWrite() { c.mu.Lock(); c.armed = true; c.mu.Unlock() }

func (c *holdingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	if c.armed && c.writes > 1 {
		return c.held.Write(p)
	}
	return c.Conn.Write(p)
}

func (c *holdingConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed = false
	_, err := c.Conn.Write(c.held.Bytes())
	return err
}
