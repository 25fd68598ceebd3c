package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// selfSigned writes a certificate for 127.0.0.1 and its key as PEM files
// and returns their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "portico test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return certFile, keyFile, roots
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
	certFile, keyFile, roots := selfSigned(t)
	inst, _, _ := testInstance(t, fmt.Sprintf(`listeners:
  - addr: "127.0.0.1:0"
    tls: {certs: [{cert: %q, key: %q}]}
routes:
  - match: /
    proxy: %q
`, certFile, keyFile, backend.URL))
	url := "https://" + inst.servers[0].Addr().String() + "/"
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
	c, err := tls.Dial("tcp", inst.servers[0].Addr().String(), &tls.Config{RootCAs: roots, NextProtos: []string{"http/1.1"}})
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
