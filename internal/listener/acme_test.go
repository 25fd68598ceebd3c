package listener

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/testbackend"
	"github.com/portico-proxy/portico/internal/testpki"
)

// pebble is a running pebble ACME test CA.
type pebble struct {
	dir  string         // ACME directory URL
	root *x509.CertPool // roots of the certificates pebble issues
	// caRoot is the file with the root of pebble's own HTTPS certificate.
	caRoot string
	cmd    *exec.Cmd
}

// stop ends pebble early, as a CA going away.
func (p *pebble) stop() {
	p.cmd.Process.Kill()
	p.cmd.Wait()
}

// startPebble runs pebble on loopback. It validates HTTP-01 on httpPort
// and TLS-ALPN-01 on tlsPort, where the test's listeners are.
func startPebble(t *testing.T, httpPort, tlsPort int) *pebble {
	t.Helper()
	if _, err := exec.LookPath("pebble"); err != nil {
		if os.Getenv("PORTICO_REQUIRE_REAL") == "" {
			t.Skip("pebble not installed")
		}
		t.Fatal("pebble not installed")
	}
	// Debian ships no test certificates: pebble's HTTPS certificate comes
	// from a CA made here.
	ca := testpki.NewCA(t)
	cert, key, _ := ca.Issue(t, testpki.Leaf{CN: "pebble", Names: []string{"127.0.0.1", "localhost"}})
	acmePort, mgmtPort := freePort(t), freePort(t)
	conf := map[string]any{"pebble": map[string]any{
		"listenAddress":                  "127.0.0.1:" + strconv.Itoa(acmePort),
		"managementListenAddress":        "127.0.0.1:" + strconv.Itoa(mgmtPort),
		"certificate":                    cert,
		"privateKey":                     key,
		"httpPort":                       httpPort,
		"tlsPort":                        tlsPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
	}}
	data, _ := json.Marshal(conf)
	confFile := filepath.Join(t.TempDir(), "pebble.json")
	if err := os.WriteFile(confFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var log testbackend.SyncBuffer
	cmd := exec.Command("pebble", "-config", confFile)
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("pebble log:\n%s", log.String())
		}
	})
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	defer client.CloseIdleConnections()
	p := &pebble{dir: "https://127.0.0.1:" + strconv.Itoa(acmePort) + "/dir", caRoot: ca.File, cmd: cmd}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := client.Get("https://127.0.0.1:" + strconv.Itoa(mgmtPort) + "/roots/0")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			p.root = x509.NewCertPool()
			if resp.StatusCode == 200 && p.root.AppendCertsFromPEM(body) {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble did not come up: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestACMEObtainsFromPebbleThenServesHTTPS(t *testing.T) {
	for _, challenge := range []string{"http-01", "tls-alpn-01"} {
		t.Run(challenge, func(t *testing.T) {
			httpPort, tlsPort := freePort(t), freePort(t)
			peb := startPebble(t, httpPort, tlsPort)
			challenges := &Challenges{}
			opts := Options{Challenges: challenges, ACMEHTTPPort: httpPort}
			var log testbackend.SyncBuffer
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("portico log:\n%s", log.String())
				}
			})
			backend := echoBackend(t).URL
			// The plain listener redirects everything to https, except the
			// CA's HTTP-01 validation requests.
			serveListener(t, config.Listener{Addr: "127.0.0.1:" + strconv.Itoa(httpPort),
				RedirectHTTPS: &config.RedirectHTTPS{Port: 443}}, opts, backend, &log)
			l := config.Listener{Addr: "127.0.0.1:" + strconv.Itoa(tlsPort), TLS: &config.TLS{ACME: &config.ACME{
				Email: "ops@example.com", Domains: []string{"localhost"}, CA: peb.dir, CARoot: peb.caRoot,
				Storage: t.TempDir(), Challenges: []string{challenge},
			}}}
			s := serveListener(t, l, opts, backend, &log)
			waitACME(t, s, 60*time.Second)

			client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
				TLSClientConfig: &tls.Config{ServerName: "localhost", RootCAs: peb.root}}}
			defer client.CloseIdleConnections()
			resp, err := client.Get("https://" + s.Addr().String() + "/")
			if err != nil {
				t.Fatalf("HTTPS with the ACME certificate, verified against pebble's root: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "hello from backend" {
				t.Errorf("got %q", body)
			}
			// The validation was answered by Portico's listeners, not by a
			// solver certmagic started on the side.
			if !strings.Contains(log.String(), "served key authentication") {
				t.Errorf("no challenge answered by the listeners:\n%s", log.String())
			}
			infos := s.Certificates()
			if len(infos) != 1 || infos[0].Source != "acme" || infos[0].Names[0] != "localhost" {
				t.Errorf("Certificates: got %+v, want one acme certificate for localhost", infos)
			}
		})
	}
}

// waitACME waits for the listener's ACME manager to report its
// certificates ready; pebble answers within seconds.
func waitACME(t *testing.T, s *Server, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		attempts, err, ready := s.acme.status()
		if ready {
			return
		}
		if attempts > 0 && err != nil {
			t.Fatalf("acme attempt failed: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no ACME certificate within %v", limit)
}

func TestACMEUnreachableCAKeepsServingAndRetries(t *testing.T) {
	ca := testpki.NewCA(t)
	c, k, leaf := ca.Issue(t, testpki.Leaf{Names: []string{"localhost"}})
	dead := freePort(t) // nothing listens here
	l := config.Listener{TLS: &config.TLS{
		Certs: []config.CertPair{{Cert: c, Key: k}},
		ACME: &config.ACME{Email: "ops@example.com", Domains: []string{"localhost"}, CA: "https://127.0.0.1:" + strconv.Itoa(dead) + "/dir",
			Storage: t.TempDir(), Challenges: []string{"tls-alpn-01"}},
	}}
	var log testbackend.SyncBuffer
	s := newListener(t, l, Options{}, echoBackend(t).URL, &log)
	// Backoff waits are recorded, not slept.
	waits := make(chan time.Duration, 100)
	s.acme.after = func(d time.Duration) <-chan time.Time {
		waits <- d
		ch := make(chan time.Time, 1)
		ch <- time.Time{}
		return ch
	}
	startServing(t, s)
	var got []time.Duration
	timeout := time.After(60 * time.Second)
	for len(got) < 3 {
		select {
		case d := <-waits:
			got = append(got, d)
		case <-timeout:
			t.Fatalf("only %d retries within 60s", len(got))
		}
	}
	if got[0] != acmeBackoff[0] || got[1] != acmeBackoff[1] || got[2] != acmeBackoff[2] {
		t.Errorf("backoff: got %v, want it to grow as %v", got, acmeBackoff[:3])
	}
	// Meanwhile the listener serves the ACME name with the file certificate.
	peer, err := handshake(t, s.Addr().String(), &tls.Config{ServerName: "localhost", RootCAs: ca.Pool()})
	if err != nil {
		t.Fatalf("handshake while the CA is down: %v", err)
	}
	if peer.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Error("not the file certificate")
	}
	if !strings.Contains(log.String(), "could not obtain certificates") {
		t.Errorf("the failure is not logged:\n%s", log.String())
	}
}

func TestACMEStoredCertificateServedAfterRestartWhileCAIsDown(t *testing.T) {
	tlsPort := freePort(t)
	peb := startPebble(t, freePort(t), tlsPort)
	storage := t.TempDir()
	acme := &config.ACME{Email: "ops@example.com", Domains: []string{"localhost"}, CA: peb.dir, CARoot: peb.caRoot,
		Storage: storage, Challenges: []string{"tls-alpn-01"}}
	l := config.Listener{Addr: "127.0.0.1:" + strconv.Itoa(tlsPort), TLS: &config.TLS{ACME: acme}}
	first := newListener(t, l, Options{}, echoBackend(t).URL, nil)
	done := make(chan struct{})
	go func() { defer close(done); first.Serve() }()
	waitACME(t, first, 60*time.Second)
	first.Shutdown(t.Context())
	<-done

	peb.stop()
	var log testbackend.SyncBuffer
	second := serveListener(t, l, Options{}, echoBackend(t).URL, &log)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := handshake(t, second.Addr().String(), &tls.Config{ServerName: "localhost", RootCAs: peb.root})
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stored certificate is not served with the CA down: %v\n%s", err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestACMEStopBeforeStartStartsNothing: a Shutdown that overtakes Serve
// (as a quick reload can) stops the ACME work before it started; the
// late start must then not begin obtaining certificates in the background.
func TestACMEStopBeforeStartStartsNothing(t *testing.T) {
	dead := freePort(t)
	l := config.Listener{TLS: &config.TLS{
		ACME: &config.ACME{Email: "ops@example.com", Domains: []string{"localhost"}, CA: "https://127.0.0.1:" + strconv.Itoa(dead) + "/dir",
			Storage: t.TempDir(), Challenges: []string{"tls-alpn-01"}},
	}}
	s := newListener(t, l, Options{}, echoBackend(t).URL, nil)
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	_ = s.Serve() // its listener is closed: it returns at once
	s.acme.life.Lock()
	started := s.acme.done != nil
	s.acme.life.Unlock()
	if started {
		t.Fatal("ACME work started after the listener was shut down")
	}
}
