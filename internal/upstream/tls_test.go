package upstream

import (
	"crypto/tls"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/testpki"
)

// tlsBackend is an HTTPS backend; its certificate is valid for
// example.com and 127.0.0.1 (httptest's), and caFile trusts it.
func tlsBackend(t *testing.T, clientAuth tls.ClientAuthType) (srv *httptest.Server, caFile string) {
	t.Helper()
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) > 0 {
			w.Header().Set("X-Client-CN", r.TLS.PeerCertificates[0].Subject.CommonName)
		}
		w.Header().Set("X-SNI", r.TLS.ServerName)
		io.WriteString(w, "secure hello")
	}))
	srv.TLS = &tls.Config{ClientAuth: clientAuth}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile = filepath.Join(t.TempDir(), "backend-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv, caFile
}

func proxyTo(t *testing.T, url string, o *TLSOptions) *httptest.Server {
	t.Helper()
	pool, err := NewPool("secure", PoolOptions{Backends: []BackendOptions{{URL: url}}, TLS: o, FirstByteTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return newTestProxy(t, &Proxy{Pool: pool})
}

func TestUpstreamTLSVerification(t *testing.T) {
	backend, caFile := tlsBackend(t, tls.NoClientCert)
	tests := []struct {
		name       string
		opts       *TLSOptions
		wantStatus int
		wantSNI    string
	}{
		{"system roots do not know the backend's CA", nil, http.StatusBadGateway, ""},
		{"ca file verifies it", &TLSOptions{CA: caFile}, http.StatusOK, ""},
		{"server_name the certificate does not cover", &TLSOptions{CA: caFile, ServerName: "other.test"}, http.StatusBadGateway, ""},
		{"server_name it covers is sent as SNI", &TLSOptions{CA: caFile, ServerName: "example.com"}, http.StatusOK, "example.com"},
		{"insecure_skip_verify", &TLSOptions{InsecureSkipVerify: true}, http.StatusOK, ""},
	}
	for _, tt := range tests {
		front := proxyTo(t, backend.URL, tt.opts)
		resp, err := http.Get(front.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.wantStatus {
			t.Errorf("%s: got %d, want %d", tt.name, resp.StatusCode, tt.wantStatus)
			continue
		}
		if tt.wantStatus == http.StatusOK && string(body) != "secure hello" {
			t.Errorf("%s: got body %q", tt.name, body)
		}
		if tt.wantSNI != "" && resp.Header.Get("X-SNI") != tt.wantSNI {
			t.Errorf("%s: backend saw SNI %q, want %q", tt.name, resp.Header.Get("X-SNI"), tt.wantSNI)
		}
		if tt.wantStatus == http.StatusBadGateway && len(body) > 0 && string(body) == "secure hello" {
			t.Errorf("%s: the backend's answer leaked through", tt.name)
		}
	}
}

func TestUpstreamTLSClientCertificate(t *testing.T) {
	backend, caFile := tlsBackend(t, tls.RequireAnyClientCert)
	certFile, keyFile := clientPair(t, "portico-edge")
	for _, tt := range []struct {
		name string
		opts *TLSOptions
		want int
	}{
		{"without a client certificate", &TLSOptions{CA: caFile}, http.StatusBadGateway},
		{"with one", &TLSOptions{CA: caFile, Cert: certFile, Key: keyFile}, http.StatusOK},
	} {
		front := proxyTo(t, backend.URL, tt.opts)
		resp, err := http.Get(front.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s: got %d, want %d", tt.name, resp.StatusCode, tt.want)
		}
		if tt.want == http.StatusOK && resp.Header.Get("X-Client-CN") != "portico-edge" {
			t.Errorf("%s: backend saw client %q", tt.name, resp.Header.Get("X-Client-CN"))
		}
	}
}

func TestUpstreamTLSBadCAFileFailsAtBuild(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "not-a-ca.pem")
	os.WriteFile(bad, []byte("nothing here"), 0o600)
	_, err := NewPool("secure", PoolOptions{Backends: []BackendOptions{{URL: "https://127.0.0.1:1"}}, TLS: &TLSOptions{CA: bad}})
	if err == nil {
		t.Fatal("got no error for a CA file without certificates")
	}
}

func TestUpstreamTLSDefaultPortIs443(t *testing.T) {
	p, err := NewPool("secure", PoolOptions{Backends: []BackendOptions{{URL: "https://backend.internal"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if got := p.State().Backends[0].Addr; got != "backend.internal:443" {
		t.Errorf("got %q, want backend.internal:443", got)
	}
}

// clientPair is a client certificate for cn, from a CA of its own (the
// backend asks for any client certificate).
func clientPair(t *testing.T, cn string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile, _ = testpki.NewCA(t).Issue(t, testpki.Leaf{CN: cn, Client: true})
	return certFile, keyFile
}

func TestHealthCheckSpeaksTLSToHTTPSBackends(t *testing.T) {
	backend, caFile := tlsBackend(t, tls.NoClientCert)
	for _, tt := range []struct {
		name string
		opts *TLSOptions
		want bool
	}{
		{"verified with the CA file", &TLSOptions{CA: caFile}, true},
		{"not verifiable", nil, false},
	} {
		p, err := NewPool("secure", PoolOptions{Backends: []BackendOptions{{URL: backend.URL}}, TLS: tt.opts})
		if err != nil {
			t.Fatal(err)
		}
		hc := p.newHealthChecker(HealthOptions{Path: "/", Interval: time.Minute, Timeout: 2 * time.Second})
		if got := hc.check(t.Context(), p.set.Load().all[0]); got != tt.want {
			t.Errorf("%s: healthy %v, want %v", tt.name, got, tt.want)
		}
		p.Close()
	}
}
