package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/portico-proxy/portico/internal/testbackend"
	"github.com/portico-proxy/portico/internal/testpki"
)

// BenchmarkProxiedRequest measures one keep-alive GET through the whole
// path, in clear and over TLS: the listener's HTTP/1.1 engine, the route,
// the proxy and its backend connection pool. Client and backend are
// minimal and allocate nothing per request, so allocs/op is Portico's
// (over TLS, the client's record layer adds none either).
func BenchmarkProxiedRequest(b *testing.B) {
	body := strings.Repeat("x", 1024)
	backend := testbackend.Fixed(b, []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1024\r\n\r\n"+body))
	b.Run("plain", func(b *testing.B) {
		inst, _, _ := testInstance(b, proxyConfig("http://"+backend))
		c, err := net.Dial("tcp", inst.servers[0].Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		benchRequests(b, c)
	})
	b.Run("tls", func(b *testing.B) {
		ca := testpki.NewCA(b)
		cert, key, _ := ca.Issue(b, testpki.Leaf{Names: []string{"127.0.0.1"}})
		inst, _, _ := testInstance(b, fmt.Sprintf(`listeners:
  - addr: "127.0.0.1:0"
    tls: {certs: [{cert: %q, key: %q}]}
routes:
  - match: /
    proxy: "http://%s"
`, cert, key, backend))
		c, err := tls.Dial("tcp", inst.servers[0].Addr().String(), &tls.Config{RootCAs: ca.Pool(), NextProtos: []string{"http/1.1"}})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		benchRequests(b, c)
	})
}

// benchRequests sends keep-alive GETs on c, one at a time.
func benchRequests(b *testing.B, c net.Conn) {
	req := []byte("GET /bytes/1024?x=1 HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	br := bufio.NewReaderSize(c, 64<<10)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if err := readResponse(br); err != nil {
			b.Fatal(err)
		}
	}
}

// readResponse reads one response with a Content-Length, allocating
// nothing.
func readResponse(br *bufio.Reader) error {
	n := -1
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if n < 0 {
		return io.ErrUnexpectedEOF
	}
	_, err := br.Discard(n)
	return err
}
