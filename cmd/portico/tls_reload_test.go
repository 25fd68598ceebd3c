package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/testbackend"
)

func tlsConfigYAML(cert, key, backend string) string {
	return fmt.Sprintf(`listeners:
  - addr: "127.0.0.1:0"
    tls: {certs: [{cert: %q, key: %q}]}
routes:
  - match: /
    proxy: %q
`, cert, key, backend)
}

// servedCert returns the leaf certificate a fresh handshake gets.
func servedCert(t *testing.T, inst *instance, roots *x509.CertPool) []byte {
	t.Helper()
	c, err := tls.Dial("tcp", inst.servers[0].Addr().String(), &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Raw
}

func TestReloadAppliesNewCertificateFiles(t *testing.T) {
	backend := namedBackend(t, "a")
	certA, keyA, rootsA := selfSigned(t)
	certB, keyB, rootsB := selfSigned(t)
	inst, _, path := testInstance(t, tlsConfigYAML(certA, keyA, backend.URL))
	before := servedCert(t, inst, rootsA)
	if err := os.WriteFile(path, []byte(tlsConfigYAML(certB, keyB, backend.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := inst.reload(); err != nil {
		t.Fatal(err)
	}
	after := servedCert(t, inst, rootsB)
	if bytes.Equal(before, after) {
		t.Fatal("the reload did not apply the new certificate files")
	}
}

func TestReloadWithBrokenCertificateKeepsServingTheOldOne(t *testing.T) {
	backend := namedBackend(t, "a")
	cert, key, roots := selfSigned(t)
	log := &testbackend.SyncBuffer{}
	path := filepath.Join(t.TempDir(), "portico.yaml")
	os.WriteFile(path, []byte(tlsConfigYAML(cert, key, backend.URL)), 0o644)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := start(cfg, slog.New(slog.NewTextHandler(log, nil)), func() (*config.Config, error) { return config.Load(path) }, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(inst.shutdown)
	before := servedCert(t, inst, roots)
	os.WriteFile(cert, []byte("not a certificate"), 0o600)
	if err := inst.reload(); err != nil {
		t.Fatalf("a broken certificate file must not fail the whole reload: %v", err)
	}
	logged := log.String()
	if !strings.Contains(logged, "certificate kept") {
		t.Errorf("the broken file is not reported:\n%s", logged)
	}
	if after := servedCert(t, inst, roots); !bytes.Equal(before, after) {
		t.Error("the old certificate is not served any more")
	}
}

func TestValidateWarnsForCertificatesExpiringSoon(t *testing.T) {
	cert, key, _ := selfSigned(t) // valid for one hour
	path := filepath.Join(t.TempDir(), "portico.yaml")
	os.WriteFile(path, []byte(tlsConfigYAML(cert, key, "http://127.0.0.1:9")), 0o644)
	var out bytes.Buffer
	if err := cmdValidate([]string{"-c", path}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "warning: listener 127.0.0.1:0: certificate "+cert+" expires in 0 days") ||
		!strings.HasSuffix(out.String(), ": ok\n") {
		t.Errorf("got:\n%s", out.String())
	}
}

func TestHSTSAndHTTPSBackendEndToEnd(t *testing.T) {
	backend := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "from tls backend")
	}))
	defer backend.Close()
	caFile := filepath.Join(t.TempDir(), "backend-ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: backend.Certificate().Raw}), 0o600)
	cert, key, roots := selfSigned(t)
	inst, _, _ := testInstance(t, fmt.Sprintf(`listeners:
  - addr: "127.0.0.1:0"
    tls: {certs: [{cert: %q, key: %q}]}
upstreams:
  secure:
    backends: [%q]
    tls: {ca: %q}
routes:
  - match: /
    proxy: secure
    hsts: {max_age: 1h, include_subdomains: true}
`, cert, key, backend.URL, caFile))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	defer client.CloseIdleConnections()
	res, err := client.Get("https://" + inst.servers[0].Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "from tls backend" {
		t.Fatalf("got %d %q", res.StatusCode, body)
	}
	if got := res.Header.Get("Strict-Transport-Security"); got != "max-age=3600; includeSubDomains" {
		t.Errorf("Strict-Transport-Security: got %q", got)
	}
}

func TestInstanceListsCertificatesOfEveryListener(t *testing.T) {
	cert, key, _ := selfSigned(t)
	inst, _, _ := testInstance(t, fmt.Sprintf(`admin: {addr: "127.0.0.1:0"}
listeners:
  - {name: plain, addr: "127.0.0.1:0"}
  - name: secure
    addr: "127.0.0.1:0"
    tls: {certs: [{cert: %q, key: %q}]}
routes:
  - match: /
    respond: ok
`, cert, key))
	got := inst.certificates()
	if len(got) != 1 || got[0].Listener != "secure" || got[0].File != cert || got[0].Source != "file" ||
		len(got[0].Names) != 1 || got[0].Names[0] != "127.0.0.1" {
		t.Errorf("got %+v", got)
	}

	// The admin API shows the same, with the days left.
	code, body := adminCall(t, inst, "GET", "/api/certificates")
	var listed []struct {
		Listener string    `json:"listener"`
		Names    []string  `json:"names"`
		NotAfter time.Time `json:"not_after"`
		DaysLeft int       `json:"days_left"`
	}
	if err := json.Unmarshal([]byte(body), &listed); err != nil || code != 200 {
		t.Fatalf("GET /api/certificates: got %d %s (%v)", code, body, err)
	}
	wantDays := int(time.Until(got[0].NotAfter).Hours() / 24)
	if len(listed) != 1 || listed[0].Listener != "secure" || !listed[0].NotAfter.Equal(got[0].NotAfter) ||
		listed[0].DaysLeft < wantDays-1 || listed[0].DaysLeft > wantDays {
		t.Errorf("GET /api/certificates: got %+v, want the secure listener's certificate with %d days left", listed, wantDays)
	}
}
