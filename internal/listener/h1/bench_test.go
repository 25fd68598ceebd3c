package h1

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/testbackend"
)

var kib = bytes.Repeat([]byte("x"), 1024)

// Handlers for BenchmarkServeGET: the 1 KiB response with and without a
// Content-Type set by the handler (each Header().Set costs the handler
// allocations of its own).
var benchHandlers = []struct {
	name string
	h    http.HandlerFunc
}{
	{"write", func(w http.ResponseWriter, r *http.Request) { w.Write(kib) }},
	{"content-type", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(kib)
	}},
}

// BenchmarkServeGET: keep-alive GET with 6 header fields over loopback,
// one connection, 1 KiB response; allocs/op counts the whole process (the
// client below allocates nothing per request).
func BenchmarkServeGET(b *testing.B) {
	for _, bh := range benchHandlers {
		for _, kind := range []string{kindH1, kindStd} {
			b.Run(bh.name+"/"+kind, func(b *testing.B) {
				addr := start(b, kind, bh.h)
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				req := []byte(sixHeaders)
				br := bufio.NewReaderSize(c, 16<<10)
				b.ReportAllocs()
				b.SetBytes(int64(len(kib)))
				cpu0 := testbackend.ProcessCPU()
				for b.Loop() {
					if _, err := c.Write(req); err != nil {
						b.Fatal(err)
					}
					if err := readBenchResponse(br); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(testbackend.ProcessCPU()-cpu0)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// readBenchResponse reads a Content-Length response without allocating.
func readBenchResponse(br *bufio.Reader) error {
	n := -1
	for first := true; ; first = false {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if first {
			if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
				return io.ErrUnexpectedEOF
			}
			continue
		}
		if len(line) == 2 {
			break
		}
		if k := len("Content-Length: "); len(line) > k && strings.EqualFold(string(line[:k]), "Content-Length: ") {
			n = 0
			for _, c := range line[k : len(line)-2] {
				n = n*10 + int(c-'0')
			}
		}
	}
	if n < 0 {
		return io.ErrUnexpectedEOF
	}
	_, err := br.Discard(n)
	return err
}

// BenchmarkParseHead: the head parser alone (6 fields).
func BenchmarkParseHead(b *testing.B) {
	var ph parsedHead
	buf := []byte(sixHeaders)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		end, _ := findHeadEnd(buf, 0)
		if st, r := parseHead(string(buf[:end]), &ph, 100); st != 0 {
			b.Fatal(r)
		}
	}
}

// BenchmarkServeGETParallel: the same over 4*GOMAXPROCS connections.
func BenchmarkServeGETParallel(b *testing.B) {
	for _, kind := range []string{kindH1, kindStd} {
		b.Run(kind, func(b *testing.B) {
			addr := start(b, kind, benchHandlers[1].h)
			b.ReportAllocs()
			b.SetParallelism(4)
			cpu0 := testbackend.ProcessCPU()
			defer func() { b.ReportMetric(float64(testbackend.ProcessCPU()-cpu0)/float64(b.N), "cpu-ns/op") }()
			b.RunParallel(func(pb *testing.PB) {
				c, err := net.DialTimeout("tcp", addr, time.Second)
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				br := bufio.NewReaderSize(c, 16<<10)
				req := []byte(sixHeaders)
				for pb.Next() {
					c.Write(req)
					if err := readBenchResponse(br); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkServeGETPipe: the same over net.Pipe, without the kernel: what
// is left is the servers' own cost plus two goroutine hand-offs per
// request (the same for both). net.Pipe's deadlines allocate a timer
// each time they are set; allocs/op here are not the servers' own.
func BenchmarkServeGETPipe(b *testing.B) {
	for _, kind := range []string{kindH1, kindStd} {
		b.Run(kind, func(b *testing.B) {
			cli, srv := net.Pipe()
			defer cli.Close()
			h := benchHandlers[1].h
			if kind == kindH1 {
				go NewServer(h, Options{}).ServeConn(srv)
			} else {
				ln := &oneConnListener{c: srv, done: make(chan struct{})}
				hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
				go hs.Serve(ln)
				defer hs.Close()
			}
			req := []byte(sixHeaders)
			br := bufio.NewReaderSize(cli, 16<<10)
			b.ReportAllocs()
			cpu0 := testbackend.ProcessCPU()
			for b.Loop() {
				if _, err := cli.Write(req); err != nil {
					b.Fatal(err)
				}
				if err := readBenchResponse(br); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(testbackend.ProcessCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// oneConnListener hands out one connection, then blocks until closed.
type oneConnListener struct {
	c    net.Conn
	once bool
	done chan struct{}
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	if !l.once {
		l.once = true
		return l.c, nil
	}
	<-l.done
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error {
	select {
	case <-l.done:
	default:
		close(l.done)
	}
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return l.c.LocalAddr() }
