package h2_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/portico-proxy/portico/internal/listener/h2"
)

// BenchmarkSmallResponses measures 1 KiB responses over one h2c
// connection with many streams in flight, on this engine and, for
// comparison, on net/http's HTTP/2 server. Client and server share the
// process, so the figure is for comparing the two, not absolute.
func BenchmarkSmallResponses(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1024)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})
	b.Run("portico", func(b *testing.B) {
		url := "http://" + serveH2C(b, h2.NewServer(h, h2.Options{}))
		benchClient(b, url)
	})
	b.Run("net-http", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: h, Protocols: new(http.Protocols)}
		srv.Protocols.SetUnencryptedHTTP2(true)
		go srv.Serve(ln)
		defer srv.Close()
		benchClient(b, "http://"+ln.Addr().String())
	})
}

func benchClient(b *testing.B, url string) {
	client := h2cClient(b, false)
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	})
}
