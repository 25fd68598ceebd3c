package static

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/listener/h1/h1test"
	"github.com/portico-proxy/portico/internal/testbackend"
)

// BenchmarkStaticFile: keep-alive GETs of one file over loopback through
// Portico's HTTP/1.1 engine, with this package's handler and, for a
// reference ratio, net/http's FileServer on the same engine.
func BenchmarkStaticFile(b *testing.B) {
	root := b.TempDir()
	sizes := []int{10 << 10, 1 << 20}
	for _, n := range sizes {
		os.WriteFile(filepath.Join(root, strconv.Itoa(n)+".bin"), bytes.Repeat([]byte{'x'}, n), 0o644)
	}
	h, err := New(&config.Static{Root: root, Index: []string{"index.html"}})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	handlers := []struct {
		name string
		h    http.Handler
	}{
		{"portico", h},
		{"fileserver", http.FileServer(http.Dir(root))},
	}
	for _, n := range sizes {
		for _, hh := range handlers {
			b.Run(strconv.Itoa(n>>10)+"KiB/"+hh.name, func(b *testing.B) {
				addr := strings.TrimPrefix(h1test.Serve(b, hh.h), "http://")
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				req := []byte("GET /" + strconv.Itoa(n) + ".bin HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
				br := bufio.NewReaderSize(c, 64<<10)
				b.SetBytes(int64(n))
				b.ReportAllocs()
				cpu0 := testbackend.ProcessCPU()
				for b.Loop() {
					if _, err := c.Write(req); err != nil {
						b.Fatal(err)
					}
					if got, err := readResponse(br); err != nil || got != n {
						b.Fatalf("read %d bytes (err %v), want %d", got, err, n)
					}
				}
				// CPU time of the whole process (server and client) per
				// request: steadier than wall time on a shared machine.
				b.ReportMetric(float64(testbackend.ProcessCPU()-cpu0)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// readResponse reads one 200 response with a Content-Length and returns
// the body size.
func readResponse(br *bufio.Reader) (int, error) {
	n := -1
	for first := true; ; first = false {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if first && !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
			return 0, io.ErrUnexpectedEOF
		}
		if len(line) == 2 {
			break
		}
		const cl = "content-length: "
		if len(line) > len(cl) && strings.EqualFold(string(line[:len(cl)]), cl) {
			n, _ = strconv.Atoi(strings.TrimSpace(string(line[len(cl):])))
		}
	}
	if n < 0 {
		return 0, io.ErrUnexpectedEOF
	}
	k, err := br.Discard(n)
	return k, err
}
