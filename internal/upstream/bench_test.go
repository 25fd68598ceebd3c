package upstream

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/portico-proxy/portico/internal/testbackend"
)

// rawBackend is a minimal keep-alive HTTP/1.1 server that answers every
// request with the same body, so the benchmark measures the proxy, not a
// net/http backend.
func rawBackend(tb testing.TB, body []byte) string {
	head := "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	return "http://" + testbackend.Fixed(tb, append([]byte(head), body...))
}

// discardWriter is a reusable ResponseWriter that throws the body away.
type discardWriter struct {
	h      http.Header
	status int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(code int)        { d.status = code }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) reset() {
	for k := range d.h {
		delete(d.h, k)
	}
}

func benchmarkProxy(b *testing.B, backends int, size int) {
	body := []byte(strings.Repeat("x", size))
	var urls []BackendOptions
	for i := 0; i < backends; i++ {
		urls = append(urls, BackendOptions{URL: rawBackend(b, body)})
	}
	pool, err := NewPool("bench", PoolOptions{Backends: urls})
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	p := &Proxy{Pool: pool}
	req, _ := http.NewRequest("GET", "http://example.com/bytes/1024?x=1", nil)
	req.RemoteAddr = "127.0.0.1:5555"
	req.Header.Set("User-Agent", "bench")
	req.Header.Set("Accept", "*/*")
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.reset()
		p.ServeHTTP(w, req)
		if w.status != 200 {
			b.Fatalf("status %d", w.status)
		}
	}
}

// BenchmarkProxy measures one proxied GET through the lean HTTP/1.1
// client: request head written, response head parsed, body relayed.
func BenchmarkProxy(b *testing.B) {
	b.Run("1KiB/1backend", func(b *testing.B) { benchmarkProxy(b, 1, 1024) })
	b.Run("1KiB/4backends", func(b *testing.B) { benchmarkProxy(b, 4, 1024) })
	b.Run("256KiB/1backend", func(b *testing.B) { benchmarkProxy(b, 1, 256<<10) })
}
