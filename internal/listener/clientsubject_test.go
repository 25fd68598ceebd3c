package listener

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"
	"golang.org/x/net/http2"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/testpki"
)

// headerDumpBackend answers with every request field it received, one
// "Name: value" line each, so tests see all the upstream got.
func headerDumpBackend(t testing.TB) *httptest.Server {
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var lines []string
		for k, vv := range r.Header {
			for _, v := range vv {
				lines = append(lines, k+": "+v)
			}
		}
		sort.Strings(lines)
		io.WriteString(w, strings.Join(lines, "\n"))
	}))
	t.Cleanup(b.Close)
	return b
}

// serveConfig starts a server for every listener of cfg (addresses
// 127.0.0.1:0 unless set), all on one generation with a route to backend.
func serveConfig(t *testing.T, cfg *config.Config, backend string) []*Server {
	t.Helper()
	cur := currentFor(t, cfg, backend)
	var out []*Server
	for _, l := range cfg.Listeners {
		s, err := NewWithOptions(l, cur, slog.New(slog.DiscardHandler), Options{CertPoll: -1})
		if err != nil {
			t.Fatal(err)
		}
		startServing(t, s)
		out = append(out, s)
	}
	return out
}

// rawRequest sends req as written on a new connection (TLS when conf is
// set) and returns the response body.
func rawRequest(t *testing.T, addr string, conf *tls.Config, req string) (int, string) {
	t.Helper()
	var c net.Conn
	var err error
	d := &net.Dialer{Timeout: 5 * time.Second}
	if conf != nil {
		c, err = tls.DialWithDialer(d, "tcp", addr, conf)
	} else {
		c, err = d.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	method, _, _ := strings.Cut(req, " ")
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// TestClientSubjectHeaderCannotBeForged: whatever the listener, the
// protocol, the letter case, repetition or '_' for '-', a client's own
// copy of a client subject header never reaches the upstream; that
// includes the name another listener of the config uses (a plain
// listener's routes lead to the same backends).
func TestClientSubjectHeaderCannotBeForged(t *testing.T) {
	ca := testpki.NewCA(t)
	c, k, _ := ca.Issue(t, testpki.Leaf{Names: []string{"site.test"}})
	mtls := config.Listener{Name: "mtls", HTTP3: true, TLS: &config.TLS{Certs: []config.CertPair{{Cert: c, Key: k}},
		ClientAuth: &config.ClientAuth{Mode: "request", CA: ca.File, Header: "x-ssl-client"}}}
	plainTLS := config.Listener{Name: "tls", TLS: &config.TLS{Certs: []config.CertPair{{Cert: c, Key: k}}}}
	plain := config.Listener{Name: "plain"}
	servers := serveConfig(t, &config.Config{Listeners: []config.Listener{mtls, plainTLS, plain}}, headerDumpBackend(t).URL)
	mtlsAddr, tlsAddr, plainAddr := servers[0].Addr().String(), servers[1].Addr().String(), servers[2].Addr().String()

	forged := "x-client-subject: forged1\r\nX-CLIENT-SUBJECT: forged2\r\nX-Client-Subject: forged3\r\n" +
		"X-Ssl-Client: forged4\r\nx-ssl-client: forged5\r\nX_Ssl_Client: forged6\r\nX_CLIENT_SUBJECT: forged7\r\n"
	raw := "GET / HTTP/1.1\r\nHost: site.test\r\n" + forged + "Connection: close\r\n\r\n"
	tlsConf := func() *tls.Config { return &tls.Config{ServerName: "site.test", RootCAs: ca.Pool()} }
	check := func(name, body string) {
		t.Helper()
		if strings.Contains(body, "forged") {
			t.Errorf("%s: the upstream got a forged subject:\n%s", name, body)
		}
	}
	for _, tt := range []struct{ name, addr string }{{"plain", plainAddr}, {"tls", tlsAddr}, {"mtls", mtlsAddr}} {
		var conf *tls.Config
		if tt.name != "plain" {
			conf = tlsConf()
		}
		code, body := rawRequest(t, tt.addr, conf, raw)
		if code != http.StatusOK {
			t.Fatalf("%s over HTTP/1.1: status %d: %s", tt.name, code, body)
		}
		check(tt.name+" over HTTP/1.1", body)
	}

	forgedHeader := func(req *http.Request) {
		for _, line := range strings.Split(strings.TrimSpace(forged), "\r\n") {
			name, value, _ := strings.Cut(line, ": ")
			req.Header[name] = append(req.Header[name], value) // as written, not canonical
		}
	}
	do := func(name string, rt http.RoundTripper, url string, wantProto int) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		forgedHeader(req)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if resp.ProtoMajor != wantProto || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: got %s %d, want HTTP/%d 200", name, resp.Proto, resp.StatusCode, wantProto)
		}
		return string(body)
	}
	h2c := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
	}}
	defer h2c.CloseIdleConnections()
	check("plain over h2c", do("plain over h2c", h2c, "http://"+plainAddr+"/", 2))
	h2 := &http2.Transport{TLSClientConfig: tlsConf()}
	defer h2.CloseIdleConnections()
	check("tls over HTTP/2", do("tls over HTTP/2", h2, "https://"+tlsAddr+"/", 2))
	check("mtls over HTTP/2 without a certificate", do("mtls over HTTP/2", h2, "https://"+mtlsAddr+"/", 2))
	h3 := &http3.Transport{TLSClientConfig: tlsConf()}
	defer h3.Close()
	check("mtls over HTTP/3 without a certificate", do("mtls over HTTP/3", h3, "https://"+mtlsAddr+"/", 3))

	// With a certificate, the listener's own header carries the subject,
	// once, over every protocol.
	conf := tlsConf()
	conf.Certificates = []tls.Certificate{ca.ClientCert(t, "alice")}
	h2cert := &http2.Transport{TLSClientConfig: conf}
	defer h2cert.CloseIdleConnections()
	h3cert := &http3.Transport{TLSClientConfig: conf.Clone()}
	defer h3cert.Close()
	for _, tt := range []struct {
		name  string
		rt    http.RoundTripper
		proto int
	}{{"HTTP/2", h2cert, 2}, {"HTTP/3", h3cert, 3}} {
		body := do("mtls with a certificate over "+tt.name, tt.rt, "https://"+mtlsAddr+"/", tt.proto)
		check("mtls with a certificate over "+tt.name, body)
		if !strings.Contains(body, "X-Ssl-Client: CN=alice") || strings.Count(body, "X-Ssl-Client:") != 1 {
			t.Errorf("mtls with a certificate over %s: the upstream did not get the subject once:\n%s", tt.name, body)
		}
	}
	_, body := rawRequest(t, mtlsAddr, conf, raw)
	check("mtls with a certificate over HTTP/1.1", body)
	if !strings.Contains(body, "X-Ssl-Client: CN=alice") {
		t.Errorf("mtls with a certificate over HTTP/1.1: no subject:\n%s", body)
	}
}
