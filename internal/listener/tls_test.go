package listener

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/testbackend"
	"github.com/portico-proxy/portico/internal/testpki"
)

func tlsListener(pairs ...[2]string) config.Listener {
	l := config.Listener{TLS: &config.TLS{}}
	for _, p := range pairs {
		l.TLS.Certs = append(l.TLS.Certs, config.CertPair{Cert: p[0], Key: p[1]})
	}
	return l
}

func TestSNISelectsExactThenWildcardThenDefault(t *testing.T) {
	ca := testpki.NewCA(t)
	dc, dk, _ := ca.Issue(t, testpki.Leaf{Names: []string{"default.test"}})
	ec, ek, _ := ca.Issue(t, testpki.Leaf{Names: []string{"a.example.com"}})
	wc, wk, _ := ca.Issue(t, testpki.Leaf{Names: []string{"*.example.com"}})
	s := serveListener(t, tlsListener([2]string{dc, dk}, [2]string{ec, ek}, [2]string{wc, wk}), Options{}, echoBackend(t).URL, nil)
	tests := []struct{ sni, want string }{
		{"a.example.com", "a.example.com"},
		{"A.Example.COM", "a.example.com"},
		{"b.example.com", "*.example.com"},
		{"x.y.example.com", "default.test"}, // a wildcard covers one label only
		{"other.org", "default.test"},
		{"", "default.test"},
	}
	for _, tt := range tests {
		got, err := handshake(t, s.Addr().String(), &tls.Config{ServerName: tt.sni, InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("sni %q: %v", tt.sni, err)
		}
		if got.DNSNames[0] != tt.want {
			t.Errorf("sni %q: got certificate for %q, want %q", tt.sni, got.DNSNames[0], tt.want)
		}
	}
}

func TestSNIPicksECDSAOrRSAByClientCapability(t *testing.T) {
	ca := testpki.NewCA(t)
	rc, rk, _ := ca.Issue(t, testpki.Leaf{Names: []string{"both.test"}, RSA: true})
	ec, ek, _ := ca.Issue(t, testpki.Leaf{Names: []string{"both.test"}})
	// RSA is configured first; ECDSA still wins for clients that can use it.
	s := serveListener(t, tlsListener([2]string{rc, rk}, [2]string{ec, ek}), Options{}, echoBackend(t).URL, nil)
	tests := []struct {
		name   string
		client *tls.Config
		want   x509.PublicKeyAlgorithm
	}{
		{"modern client", &tls.Config{ServerName: "both.test", RootCAs: ca.Pool()}, x509.ECDSA},
		{"RSA-only TLS 1.2 client", &tls.Config{ServerName: "both.test", RootCAs: ca.Pool(), MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}}, x509.RSA},
		{"no SNI", &tls.Config{InsecureSkipVerify: true}, x509.ECDSA},
	}
	for _, tt := range tests {
		got, err := handshake(t, s.Addr().String(), tt.client)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got.PublicKeyAlgorithm != tt.want {
			t.Errorf("%s: got %v certificate, want %v", tt.name, got.PublicKeyAlgorithm, tt.want)
		}
	}
}

func TestCertReloadPicksUpChangedFileWithoutDroppingConnections(t *testing.T) {
	ca := testpki.NewCA(t)
	c1, k1, leaf1 := ca.Issue(t, testpki.Leaf{Names: []string{"site.test"}})
	s := serveListener(t, tlsListener([2]string{c1, k1}), Options{}, echoBackend(t).URL, nil)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{ServerName: "site.test", RootCAs: ca.Pool()}}}
	defer client.CloseIdleConnections()
	url := "https://" + s.Addr().String() + "/"
	resp := get(t, client, url)
	if resp.TLS.PeerCertificates[0].SerialNumber.Cmp(leaf1.SerialNumber) != 0 {
		t.Fatal("first request: not the first certificate")
	}
	if len(resp.TLS.PeerCertificates) != 2 {
		t.Errorf("got a chain of %d certificates, want the leaf and its CA as in the file", len(resp.TLS.PeerCertificates))
	}

	c2, k2, leaf2 := ca.Issue(t, testpki.Leaf{Names: []string{"site.test"}})
	replaceFile(t, c2, c1)
	replaceFile(t, k2, k1)
	if err := s.CertStore().Check(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	// The open keep-alive connection is still served...
	reused := false
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), "GET", url, nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("request on the open connection after reload: %v", err)
	}
	resp.Body.Close()
	if !reused || resp.TLS.PeerCertificates[0].SerialNumber.Cmp(leaf1.SerialNumber) != 0 {
		t.Error("the open connection was not kept across the reload")
	}
	// ...and new handshakes get the new certificate.
	got, err := handshake(t, s.Addr().String(), &tls.Config{ServerName: "site.test", RootCAs: ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	if got.SerialNumber.Cmp(leaf2.SerialNumber) != 0 {
		t.Errorf("after reload: got serial %v, want %v", got.SerialNumber, leaf2.SerialNumber)
	}
}

func TestCertReloadBrokenFileKeepsOldAndReports(t *testing.T) {
	ca := testpki.NewCA(t)
	c1, k1, leaf1 := ca.Issue(t, testpki.Leaf{Names: []string{"site.test"}})
	var log testbackend.SyncBuffer
	s := serveListener(t, tlsListener([2]string{c1, k1}), Options{}, echoBackend(t).URL, &log)
	if err := os.WriteFile(c1, []byte("-----BEGIN CERTIFICATE-----\nbroken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := s.CertStore().Check()
	if err == nil || !strings.Contains(err.Error(), c1) {
		t.Fatalf("got %v, want an error naming %s", err, c1)
	}
	if !strings.Contains(log.String(), "keeping the old certificate") {
		t.Errorf("log does not report the failure:\n%s", log.String())
	}
	// The watch reports a broken file once, not on every poll.
	if err := s.CertStore().Check(); err != nil {
		t.Errorf("second poll of the unchanged broken file: got %v, want nothing new", err)
	}
	got, err := handshake(t, s.Addr().String(), &tls.Config{ServerName: "site.test", RootCAs: ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	if got.SerialNumber.Cmp(leaf1.SerialNumber) != 0 {
		t.Error("the old certificate is not served any more")
	}
	// A later fix is picked up by the next poll.
	c3, k3, leaf3 := ca.Issue(t, testpki.Leaf{Names: []string{"site.test"}})
	replaceFile(t, c3, c1)
	replaceFile(t, k3, k1)
	if err := s.CertStore().Check(); err != nil {
		t.Fatal(err)
	}
	got, _ = handshake(t, s.Addr().String(), &tls.Config{ServerName: "site.test", RootCAs: ca.Pool()})
	if got == nil || got.SerialNumber.Cmp(leaf3.SerialNumber) != 0 {
		t.Error("the repaired file was not picked up")
	}
}

func TestCertFileWatchReloadsByItself(t *testing.T) {
	ca := testpki.NewCA(t)
	c1, k1, _ := ca.Issue(t, testpki.Leaf{Names: []string{"site.test"}})
	s := serveListener(t, tlsListener([2]string{c1, k1}), Options{CertPoll: 20 * time.Millisecond}, echoBackend(t).URL, nil)
	c2, k2, leaf2 := ca.Issue(t, testpki.Leaf{Names: []string{"site.test"}})
	replaceFile(t, k2, k1)
	replaceFile(t, c2, c1)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		got, err := handshake(t, s.Addr().String(), &tls.Config{ServerName: "site.test", RootCAs: ca.Pool()})
		if err == nil && got.SerialNumber.Cmp(leaf2.SerialNumber) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the file watch did not load the new certificate within 5s")
}

func TestEncryptedKeyIsRejectedWithClearMessage(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("PORTICO_REQUIRE_REAL") == "" {
			t.Skip("openssl not installed")
		}
		t.Fatal("openssl not installed")
	}
	ca := testpki.NewCA(t)
	c, k, _ := ca.Issue(t, testpki.Leaf{Names: []string{"site.test"}})
	enc := k + ".enc"
	out, err := exec.Command("openssl", "pkey", "-in", k, "-aes256", "-passout", "pass:secret", "-out", enc).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	_, err = NewCertStore("test", []config.CertPair{{Cert: c, Key: enc}}, nil)
	if err == nil || !strings.Contains(err.Error(), "is encrypted") || !strings.Contains(err.Error(), enc) {
		t.Fatalf("got %v, want an error saying %s is encrypted", err, enc)
	}
}

func TestTLSRefusesOldVersionsAndWeakCiphers(t *testing.T) {
	ca := testpki.NewCA(t)
	c, k, _ := ca.Issue(t, testpki.Leaf{Names: []string{"site.test"}, RSA: true})
	s := serveListener(t, tlsListener([2]string{c, k}), Options{}, echoBackend(t).URL, nil)
	l13 := tlsListener([2]string{c, k})
	l13.TLS.MinVersion = "1.3"
	s13 := serveListener(t, l13, Options{}, echoBackend(t).URL, nil)
	base := func() *tls.Config { return &tls.Config{ServerName: "site.test", RootCAs: ca.Pool()} }
	tests := []struct {
		name   string
		addr   string
		client func(*tls.Config)
		ok     bool
	}{
		{"TLS 1.3", s.Addr().String(), func(c *tls.Config) {}, true},
		{"TLS 1.2 AEAD", s.Addr().String(), func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }, true},
		{"TLS 1.0 and 1.1 only", s.Addr().String(), func(c *tls.Config) {
			c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
		}, false},
		{"CBC and RSA key exchange only", s.Addr().String(), func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_128_GCM_SHA256}
		}, false},
		{"TLS 1.2 to a 1.3-only listener", s13.Addr().String(), func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }, false},
	}
	for _, tt := range tests {
		conf := base()
		tt.client(conf)
		_, err := handshake(t, tt.addr, conf)
		if (err == nil) != tt.ok {
			t.Errorf("%s: got err %v, want success %v", tt.name, err, tt.ok)
		}
	}
}

func TestTLSRefusesLegacyClientsWithOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("PORTICO_REQUIRE_REAL") == "" {
			t.Skip("openssl not installed")
		}
		t.Fatal("openssl not installed")
	}
	ca := testpki.NewCA(t)
	c, k, _ := ca.Issue(t, testpki.Leaf{Names: []string{"site.test"}, RSA: true})
	s := serveListener(t, tlsListener([2]string{c, k}), Options{}, echoBackend(t).URL, nil)
	tests := []struct {
		name string
		args []string
		ok   bool
	}{
		{"modern", []string{"-tls1_2"}, true},
		{"TLS 1.1", []string{"-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"}, false},
		{"TLS 1.0", []string{"-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"}, false},
		{"weak ciphers", []string{"-tls1_2", "-cipher", "AES128-SHA:DES-CBC3-SHA:@SECLEVEL=0"}, false},
	}
	for _, tt := range tests {
		args := append([]string{"s_client", "-connect", s.Addr().String(), "-servername", "site.test"}, tt.args...)
		cmd := exec.Command("openssl", args...)
		cmd.Stdin = strings.NewReader("Q\n")
		out, _ := cmd.CombinedOutput()
		got := strings.Contains(string(out), "Cipher is ") && !strings.Contains(string(out), "Cipher is (NONE)")
		if got != tt.ok {
			t.Errorf("%s: handshake succeeded %v, want %v\n%s", tt.name, got, tt.ok, out)
		}
	}
}

func TestSessionTicketsResumeAcrossRotationUntilKeyDropped(t *testing.T) {
	ca := testpki.NewCA(t)
	c, k, _ := ca.Issue(t, testpki.Leaf{Names: []string{"site.test"}})
	s := serveListener(t, tlsListener([2]string{c, k}), Options{}, echoBackend(t).URL, nil)
	clock := &fakeClock{t: periodStart.Add(time.Hour)}
	useClock(s.tickets, clock.now)
	rotate := func() {
		clock.advance(ticketRotation)
		s.tickets.refresh()
	}
	conf := &tls.Config{ServerName: "site.test", RootCAs: ca.Pool(), ClientSessionCache: tls.NewLRUClientSessionCache(4),
		MaxVersion: tls.VersionTLS12} // TLS 1.2 tickets are handed out in the handshake itself
	resumed := func() bool {
		conn, err := tls.Dial("tcp", s.Addr().String(), conf)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().DidResume
	}
	if resumed() {
		t.Fatal("first connection resumed")
	}
	if !resumed() {
		t.Fatal("second connection did not resume")
	}
	rotate()
	// The ticket from before the rotation still opens: no full handshake.
	if !resumed() {
		t.Error("resumption failed right after a rotation")
	}
	for range ticketKeep {
		rotate()
	}
	// Our last ticket was sealed with a key now dropped.
	if resumed() {
		t.Error("a ticket sealed with a dropped key was accepted")
	}
}

func TestClientAuth(t *testing.T) {
	ca := testpki.NewCA(t)
	other := testpki.NewCA(t)
	c, k, _ := ca.Issue(t, testpki.Leaf{Names: []string{"site.test"}})
	backend := echoBackend(t)
	listen := func(mode string) *Server {
		l := tlsListener([2]string{c, k})
		l.TLS.ClientAuth = &config.ClientAuth{Mode: mode, CA: ca.File}
		return serveListener(t, l, Options{}, backend.URL, nil)
	}
	require, request := listen("require"), listen("request")
	alice := ca.ClientCert(t, "alice")
	mallory := other.ClientCert(t, "mallory")
	tests := []struct {
		name        string
		s           *Server
		cert        *tls.Certificate
		wantOK      bool
		wantSubject string
	}{
		{"require with a valid certificate", require, &alice, true, "CN=alice"},
		{"require without a certificate", require, nil, false, ""},
		{"require with a foreign certificate", require, &mallory, false, ""},
		{"request without a certificate", request, nil, true, ""},
		{"request with a valid certificate", request, &alice, true, "CN=alice"},
		{"request with a foreign certificate", request, &mallory, false, ""},
	}
	for _, tt := range tests {
		conf := &tls.Config{ServerName: "site.test", RootCAs: ca.Pool()}
		if tt.cert != nil {
			conf.Certificates = []tls.Certificate{*tt.cert}
		}
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: conf}, Timeout: 5 * time.Second}
		req, _ := http.NewRequest("GET", "https://"+tt.s.Addr().String()+"/", nil)
		req.Header.Set("X-Client-Subject", "CN=forged")
		resp, err := client.Do(req)
		if (err == nil) != tt.wantOK {
			t.Errorf("%s: got err %v, want success %v", tt.name, err, tt.wantOK)
			continue
		}
		if err != nil {
			continue
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Seen-Subject"); got != tt.wantSubject {
			t.Errorf("%s: upstream saw subject %q, want %q", tt.name, got, tt.wantSubject)
		}
	}
}

func TestClientSubjectHeaderStrippedOnPlainListeners(t *testing.T) {
	s := serveListener(t, config.Listener{}, Options{}, echoBackend(t).URL, nil)
	req, _ := http.NewRequest("GET", "http://"+s.Addr().String()+"/", nil)
	req.Header.Set("X-Client-Subject", "CN=forged")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Seen-Subject"); got != "" {
		t.Errorf("upstream saw forged subject %q", got)
	}
}

func TestRedirectHTTPS(t *testing.T) {
	tests := []struct {
		port   int
		host   string
		target string
		want   string
	}{
		{443, "example.com", "/a/b?x=1", "https://example.com/a/b?x=1"},
		{8443, "example.com:8080", "/", "https://example.com:8443/"},
		{443, "[::1]:8080", "/p", "https://[::1]/p"},
	}
	for _, tt := range tests {
		l := config.Listener{RedirectHTTPS: &config.RedirectHTTPS{Port: tt.port}}
		s := serveListener(t, l, Options{}, echoBackend(t).URL, nil)
		req, _ := http.NewRequest("POST", "http://"+s.Addr().String()+tt.target, strings.NewReader("body"))
		req.Host = tt.host
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != tt.want {
			t.Errorf("host %q %s: got %d %q, want 308 %q", tt.host, tt.target, resp.StatusCode, resp.Header.Get("Location"), tt.want)
		}
	}
}

func TestCertificatesDescribeEachPair(t *testing.T) {
	ca := testpki.NewCA(t)
	ec, ek, leaf := ca.Issue(t, testpki.Leaf{Names: []string{"a.test", "b.test"}})
	rc, rk, _ := ca.Issue(t, testpki.Leaf{Names: []string{"a.test"}, RSA: true})
	l := tlsListener([2]string{ec, ek}, [2]string{rc, rk})
	l.Name = "web"
	s := serveListener(t, l, Options{}, echoBackend(t).URL, nil)
	got := s.Certificates()
	if len(got) != 2 {
		t.Fatalf("got %d certificates, want 2", len(got))
	}
	if got[0].Listener != "web" || got[0].Source != "file" || got[0].File != ec || got[0].KeyType != "ECDSA" ||
		!slices.Equal(got[0].Names, []string{"a.test", "b.test"}) || !got[0].NotAfter.Equal(leaf.NotAfter) ||
		got[0].Issuer != "CN=Portico Test CA" {
		t.Errorf("got %+v", got[0])
	}
	if got[1].KeyType != "RSA" {
		t.Errorf("second: got key type %q, want RSA", got[1].KeyType)
	}
}

func TestExpiryWarnings(t *testing.T) {
	ca := testpki.NewCA(t)
	now := time.Now()
	soon, soonKey, _ := ca.Issue(t, testpki.Leaf{Names: []string{"soon.test"}, NotAfter: now.Add(10 * 24 * time.Hour)})
	later, laterKey, _ := ca.Issue(t, testpki.Leaf{Names: []string{"later.test"}, NotAfter: now.Add(90 * 24 * time.Hour)})
	cfg := &config.Config{Listeners: []config.Listener{tlsListener([2]string{soon, soonKey}, [2]string{later, laterKey}, [2]string{"missing.pem", "missing-key.pem"})}}
	got := ExpiryWarnings(cfg, now, 30*24*time.Hour)
	if len(got) != 2 || !strings.Contains(got[0], soon) || !strings.Contains(got[0], "expires in 9 days") ||
		!strings.Contains(got[1], "missing.pem") {
		t.Errorf("got %q", got)
	}
}

func get(t *testing.T, c *http.Client, url string) *http.Response {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// replaceFile moves src over dst, as deploy tools do (atomic rename).
func replaceFile(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.Rename(src, dst); err != nil {
		t.Fatal(err)
	}
}

func TestTLSSetupErrorsNameTheProblem(t *testing.T) {
	ca := testpki.NewCA(t)
	c, k, _ := ca.Issue(t, testpki.Leaf{Names: []string{"site.test"}})
	empty := filepath.Join(t.TempDir(), "empty.pem")
	os.WriteFile(empty, []byte("no pem here"), 0o600)
	tests := []struct {
		name string
		tls  config.TLS
		want string
	}{
		{"missing certificate file", config.TLS{Certs: []config.CertPair{{Cert: "/nonexistent/cert.pem", Key: k}}}, "/nonexistent/cert.pem"},
		{"certificate and key that do not match", config.TLS{Certs: []config.CertPair{{Cert: c, Key: ca.KeyFile}}}, "private key does not match"},
		{"client_auth CA file missing", config.TLS{Certs: []config.CertPair{{Cert: c, Key: k}},
			ClientAuth: &config.ClientAuth{Mode: "require", CA: "/nonexistent/ca.pem"}}, "client_auth"},
		{"client_auth CA file without certificates", config.TLS{Certs: []config.CertPair{{Cert: c, Key: k}},
			ClientAuth: &config.ClientAuth{Mode: "require", CA: empty}}, "no PEM certificates"},
		{"acme ca_root without certificates", config.TLS{ACME: &config.ACME{Domains: []string{"a.test"},
			CA: "https://127.0.0.1:1/dir", CARoot: empty, Storage: t.TempDir()}}, "ca_root"},
	}
	for _, tt := range tests {
		l := config.Listener{Addr: "127.0.0.1:0", TLS: &tt.tls}
		config.ApplyDefaults(&config.Config{Listeners: []config.Listener{l}})
		s, err := New(l, &Current{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err == nil {
			s.Shutdown(t.Context())
			t.Errorf("%s: got no error", tt.name)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %q, want it to mention %q", tt.name, err, tt.want)
		}
	}
}
