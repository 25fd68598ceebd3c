package middleware

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/portico-proxy/portico/internal/config"
)

// countingWriter is a ResponseWriter that keeps only the byte count.
type countingWriter struct {
	h http.Header
	n int
}

func (w *countingWriter) Header() http.Header         { return w.h }
func (w *countingWriter) WriteHeader(int)             {}
func (w *countingWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// benchHTML is the page the side-by-side benchmark's backend serves under
// /html/N, so ratios here compare with nginx's and Caddy's there (zlib
// level 1 gives 6.1 on it, level 5 gives 8.0).
func benchHTML(n int) []byte {
	words := []string{"proxy", "cache", "upstream", "listener", "route", "header", "latency", "throughput", "worker", "socket"}
	var b []byte
	b = append(b, "<!DOCTYPE html>\n<html><head><title>bench</title></head><body><table>\n"...)
	for i := 0; len(b) < n; i++ {
		b = fmt.Appendf(b, "<tr class=\"row%d\"><td>%d</td><td>%s %s</td><td>%d.%02d</td></tr>\n",
			i%7, i, words[i%len(words)], words[(i*7+3)%len(words)], (i*7919)%10007, i%100)
	}
	b = b[:n]
	copy(b[n-15:], "</table></html>")
	return b
}

// BenchmarkCompress100KiBHTML: one 100 KiB HTML response through the
// compress middleware per op, for each encoding at its default level.
// MB/s is input throughput on one core; "ratio" is original/encoded size.
func BenchmarkCompress100KiBHTML(b *testing.B) {
	page := benchHTML(100 << 10)
	h := fixed(page, "text/html; charset=utf-8", true)
	for _, coding := range []string{"gzip", "br", "zstd"} {
		b.Run(coding, func(b *testing.B) {
			c, err := Compress(&config.Compress{}, h)
			if err != nil {
				b.Fatal(err)
			}
			req := httptest.NewRequest("GET", "/", nil)
			req.Header.Set("Accept-Encoding", coding)
			w := &countingWriter{h: http.Header{}}
			b.SetBytes(int64(len(page)))
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				w.n = 0
				c.ServeHTTP(w, req)
			}
			if w.h.Get("Content-Encoding") != coding {
				b.Fatalf("Content-Encoding %q", w.h.Get("Content-Encoding"))
			}
			b.ReportMetric(float64(len(page))/float64(w.n), "ratio")
		})
	}
}
