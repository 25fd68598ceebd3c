// Package testbackend holds backends for tests and benchmarks that must
// cost next to nothing themselves, so that what is measured is Portico.
// It is imported by tests only.
package testbackend

import (
	"bufio"
	"net"
	"testing"
)

// Fixed starts a keep-alive HTTP/1.1 backend on loopback that answers
// every request (heads only, no bodies are read) with resp, allocating
// nothing per request. It returns the address; the listener closes with
// the test.
func Fixed(tb testing.TB, resp []byte) string {
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
			go serve(c, resp)
		}
	}()
	return ln.Addr().String()
}

func serve(c net.Conn, resp []byte) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 {
				break
			}
		}
		if _, err := c.Write(resp); err != nil {
			return
		}
	}
}
