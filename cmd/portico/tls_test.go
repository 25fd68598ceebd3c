package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/portico-proxy/portico/internal/testbackend"
	"github.com/portico-proxy/portico/internal/testpki"
)

// selfSigned writes a certificate for 127.0.0.1 (issued by a CA made for
// the test) and its key as PEM files, and returns their paths and a pool
// that trusts the CA.
func selfSigned(t *testing.T) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	ca := testpki.NewCA(t)
	certFile, keyFile, _ = ca.Issue(t, testpki.Leaf{CN: "portico test", Names: []string{"127.0.0.1"}})
	return certFile, keyFile, ca.Pool()
}

// tlsInstance runs Portico with one TLS listener (a certificate from a
// fresh test CA) that sends every request to backend; it returns the
// listener's address and the roots that verify it.
func tlsInstance(t *testing.T, backend string) (addr string, roots *x509.CertPool) {
	t.Helper()
	certFile, keyFile, roots := selfSigned(t)
	inst, _, _ := testInstance(t, fmt.Sprintf(`listeners:
  - addr: "127.0.0.1:0"
    tls: {certs: [{cert: %q, key: %q}]}
routes:
  - match: /
    proxy: %q
`, certFile, keyFile, backend))
	return inst.servers[0].Addr().String(), roots
}

// TestTLSListenerServesHTTP1AndHTTP2 checks both protocols over TLS and
// that the backend learns the client used https.
func TestTLSListenerServesHTTP1AndHTTP2(t *testing.T) {
	protos := make(chan string, 4)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		protos <- r.Header.Get("X-Forwarded-Proto")
		io.WriteString(w, "secure")
	}))
	defer backend.Close()
	addr, roots := tlsInstance(t, backend.URL)
	url := "https://" + addr + "/"
	for _, h2 := range []bool{false, true} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: h2}
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		res, err := (&http.Client{Transport: tr}).Get(url)
		if err != nil {
			t.Fatalf("h2=%v: %v", h2, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		tr.CloseIdleConnections()
		wantMajor := 1
		if h2 {
			wantMajor = 2
		}
		if res.StatusCode != 200 || string(body) != "secure" || res.ProtoMajor != wantMajor {
			t.Fatalf("h2=%v: got %d %q over HTTP/%d", h2, res.StatusCode, body, res.ProtoMajor)
		}
		if p := <-protos; p != "https" {
			t.Errorf("h2=%v: backend saw X-Forwarded-Proto %q, want https", h2, p)
		}
	}

	// HTTP/1.1 over TLS is parsed as strictly as in clear.
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 400 {
		t.Fatalf("CL+TE over TLS: got %d, want 400", res.StatusCode)
	}
	select {
	case p := <-protos:
		t.Fatalf("the backend received the ambiguous request (%s)", p)
	default:
	}
}

// TestWebSocketOverHTTP2ThroughTheListener opens a WebSocket over HTTP/2
// (RFC 8441 extended CONNECT) to a TLS listener and echoes through a
// WebSocket backend: the listener's HTTP/2 engine advertises extended
// CONNECT and carries the stream both ways.
func TestWebSocketOverHTTP2ThroughTheListener(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		testbackend.EchoWebSocket(w, r, "echo:")
	}))
	defer backend.Close()
	addr, roots := tlsInstance(t, backend.URL)
	tr := &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pr, pw := io.Pipe()
	req, _ := http.NewRequestWithContext(ctx, http.MethodConnect, "https://"+addr+"/chat", pr)
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
	// A masked text frame "hi", as a client must send.
	frame := []byte{0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2}
	if _, err := pw.Write(frame); err != nil {
		t.Fatal(err)
	}
	var hdr [2]byte
	if _, err := io.ReadFull(res.Body, hdr[:]); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, hdr[1]&0x7f)
	if _, err := io.ReadFull(res.Body, payload); err != nil || string(payload) != "echo:hi" {
		t.Fatalf("got %q, %v; want echo:hi", payload, err)
	}
}
