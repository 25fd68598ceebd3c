package upstream

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/testbackend"
	"golang.org/x/net/http2"
)

// TestWebSocketOverHTTP2ExtendedConnect opens a WebSocket to Portico over
// HTTP/2 (RFC 8441) and talks to an HTTP/1.1 WebSocket backend through it.
func TestWebSocketOverHTTP2ExtendedConnect(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		testbackend.EchoWebSocket(w, r, "echo:")
	}))
	defer backend.Close()
	pool, _ := NewPool("ws", PoolOptions{Backends: []BackendOptions{{URL: backend.URL}}})
	defer pool.Close()
	front := httptest.NewUnstartedServer(&Proxy{Pool: pool})
	front.EnableHTTP2 = true
	front.StartTLS()
	defer front.Close()

	// net/http's Transport refuses the :protocol pseudo-header; x/net's
	// HTTP/2 transport speaks RFC 8441.
	tr := &http2.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pr, pw := io.Pipe()
	req, _ := http.NewRequestWithContext(ctx, http.MethodConnect, front.URL+"/chat", pr)
	req.Header.Set(":protocol", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	res, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("extended CONNECT: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.ProtoMajor != 2 {
		t.Fatalf("got %d over HTTP/%d, want 200 over HTTP/2", res.StatusCode, res.ProtoMajor)
	}
	for _, msg := range []string{"one", "two"} {
		// A masked text frame, as a client must send.
		frame := []byte{0x81, 0x80 | byte(len(msg)), 1, 2, 3, 4}
		for i := range len(msg) {
			frame = append(frame, msg[i]^frame[2+i%4])
		}
		if _, err := pw.Write(frame); err != nil {
			t.Fatal(err)
		}
		var hdr [2]byte
		if _, err := io.ReadFull(res.Body, hdr[:]); err != nil {
			t.Fatal(err)
		}
		n := int(hdr[1] & 0x7f)
		if n == 126 {
			var ext [2]byte
			io.ReadFull(res.Body, ext[:])
			n = int(binary.BigEndian.Uint16(ext[:]))
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(res.Body, payload); err != nil {
			t.Fatal(err)
		}
		if hdr[0] != 0x81 || string(payload) != "echo:"+msg {
			t.Fatalf("got frame %#x %q, want text echo:%s", hdr[0], payload, msg)
		}
	}
	pw.Close()
}

func TestPlainConnectIsRefused(t *testing.T) {
	front := newTestProxy(t, &Proxy{}, "http://127.0.0.1:1")
	req, _ := http.NewRequest(http.MethodConnect, front.URL, nil)
	req.Host = "example.com:443"
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("CONNECT got %d, want 405", res.StatusCode)
	}
}
