package listener

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/router"
)

// testCA is a small CA made per test: certificates for SNI, client
// authentication and OCSP tests are issued by it.
type testCA struct {
	cert    *x509.Certificate
	key     crypto.Signer
	file    string // the CA certificate, PEM
	keyFile string
	dir     string
	serial  atomic.Int64
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Portico Test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	dir := t.TempDir()
	ca := &testCA{cert: cert, key: key, dir: dir, file: filepath.Join(dir, "ca.pem"), keyFile: filepath.Join(dir, "ca-key.pem")}
	ca.serial.Store(100)
	writePEM(t, ca.file, "CERTIFICATE", der)
	writePEM(t, ca.keyFile, "PRIVATE KEY", pkcs8(t, key))
	return ca
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// leafOpts describe one certificate to issue.
type leafOpts struct {
	names    []string // DNS names, or IP addresses
	cn       string
	rsa      bool
	client   bool      // a client certificate
	ocspURL  string    // the AIA OCSP responder
	notAfter time.Time // zero: a day from now
}

// issue writes a leaf (full chain: leaf then CA) and its key, returning
// the file paths and the parsed leaf.
func (ca *testCA) issue(t testing.TB, o leafOpts) (certFile, keyFile string, leaf *x509.Certificate) {
	t.Helper()
	var key crypto.Signer
	var err error
	if o.rsa {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	if o.notAfter.IsZero() {
		o.notAfter = time.Now().Add(24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial.Add(1)),
		Subject:      pkix.Name{CommonName: o.cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     o.notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if o.client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	if o.ocspURL != "" {
		tmpl.OCSPServer = []string{o.ocspURL}
	}
	for _, n := range o.names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ = x509.ParseCertificate(der)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	var chain bytes.Buffer
	pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
	if err := os.WriteFile(certFile, chain.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	writePEM(t, keyFile, "PRIVATE KEY", pkcs8(t, key))
	return certFile, keyFile, leaf
}

// clientCert loads a pair issued with client: true.
func (ca *testCA) clientCert(t testing.TB, cn string) tls.Certificate {
	c, k, _ := ca.issue(t, leafOpts{cn: cn, client: true})
	pair, err := tls.LoadX509KeyPair(c, k)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

func pkcs8(t testing.TB, key crypto.Signer) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func writePEM(t testing.TB, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// logBuf collects log output for assertions.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// echoBackend answers with the value of the client subject header and
// the protocol, so tests see what the upstream received.
func echoBackend(t testing.TB) *httptest.Server {
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-Subject", r.Header.Get("X-Client-Subject"))
		w.Header().Set("X-Seen-Proto", r.Header.Get("X-Forwarded-Proto"))
		io.WriteString(w, "hello from backend")
	}))
	t.Cleanup(b.Close)
	return b
}

// serveListener starts a listener for l with one route to backend.
func serveListener(t testing.TB, l config.Listener, opts Options, backend string, log io.Writer) *Server {
	t.Helper()
	s := newListener(t, l, opts, backend, log)
	startServing(t, s)
	return s
}

// newListener binds a listener for l with one route to backend; the
// generation is retired at the end of the test.
func newListener(t testing.TB, l config.Listener, opts Options, backend string, log io.Writer) *Server {
	t.Helper()
	if l.Addr == "" {
		l.Addr = "127.0.0.1:0"
	}
	cfg := &config.Config{Listeners: []config.Listener{l},
		Routes: []config.Route{{Match: config.Match{Path: "/"}, Proxy: backend}}}
	config.ApplyDefaults(cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	gen, err := router.Build(cfg, router.Shared{Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	cur := &Current{}
	cur.Swap(gen)
	if opts.CertPoll == 0 {
		opts.CertPoll = -1 // tests call Check themselves
	}
	if log == nil {
		log = io.Discard
	}
	s, err := NewWithOptions(cfg.Listeners[0], cur, slog.New(slog.NewTextHandler(log, nil)), opts)
	if err != nil {
		gen.Retire()
		t.Fatal(err)
	}
	t.Cleanup(gen.Retire)
	return s
}

// startServing runs s until the end of the test.
func startServing(t testing.TB, s *Server) {
	done := make(chan struct{})
	go func() { defer close(done); s.Serve() }()
	t.Cleanup(func() {
		s.Shutdown(context.Background())
		<-done
	})
}

// handshake connects with conf and returns the certificate served.
func handshake(t testing.TB, addr string, conf *tls.Config) (*x509.Certificate, error) {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, conf)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}
