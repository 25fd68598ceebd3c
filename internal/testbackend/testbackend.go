// Package testbackend holds backends for tests and benchmarks that must
// cost next to nothing themselves, so that what is measured is Portico.
// It is imported by tests only.
package testbackend

import (
	"bufio"
	"bytes"
	"net"
	"sync"
	"testing"
)

// Fixed starts a keep-alive HTTP/1.1 backend on loopback that answers
// every request (heads only, no bodies are read) with resp, allocating
// nothing per request. It returns the address; the listener closes with
// the test.
func Fixed(tb testing.TB, resp []byte) string {
	return Raw(tb, func(c net.Conn, br *bufio.Reader) {
		for ReadHead(br) == nil {
			if _, err := c.Write(resp); err != nil {
				return
			}
		}
	})
}

// Raw starts a backend on loopback that hands every connection, with a
// reader on it, to serve in a goroutine of its own, and closes the
// connection when serve returns. It returns the address; the listener
// closes with the test.
func Raw(tb testing.TB, serve func(c net.Conn, br *bufio.Reader)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c, bufio.NewReader(c))
			}()
		}
	}()
	return ln.Addr().String()
}

// ReadHead reads one request head, up to its empty line.
func ReadHead(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			return nil
		}
	}
}

// TCPPair returns the two ends of a loopback TCP connection, both closed
// when the test ends: client is the dialled end, server the accepted one.
func TCPPair(tb testing.TB) (client, server *net.TCPConn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		c.Close()
		tb.Fatal(err)
	}
	client, server = c.(*net.TCPConn), s.(*net.TCPConn)
	tb.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// SyncBuffer is a log sink a test reads while the code under test writes
// to it from other goroutines.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
