package upstream

import (
	"bufio"
	"github.com/portico-proxy/portico/internal/httpsyntax"
	"strings"
	"testing"
)

// FuzzParseResponseHead feeds arbitrary backend bytes to the response head
// parser: it must never panic, and what it accepts must be safe to relay
// (no control bytes in names or values, a sane status and length).
func FuzzParseResponseHead(f *testing.F) {
	seeds := []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-A\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n",
		"HTTP/1.1 999\r\n\r\n",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var h responseHead
		err := readResponseHead(bufio.NewReaderSize(strings.NewReader(raw), readBufSize), &h)
		if err != nil {
			return
		}
		if h.status < 100 || h.status > 599 {
			t.Fatalf("accepted status %d", h.status)
		}
		if h.chunked && h.contentLength != -1 {
			t.Fatalf("chunked with a length %d", h.contentLength)
		}
		for _, fl := range h.fields {
			if !httpsyntax.ValidToken(fl.k) || !httpsyntax.ValidFieldValue(fl.v) || strings.ContainsAny(fl.k+fl.v, "\r\n") {
				t.Fatalf("accepted unsafe field %q: %q", fl.k, fl.v)
			}
		}
	})
}
