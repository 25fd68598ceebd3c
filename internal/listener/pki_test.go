package listener

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/router"
)

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
	cfg := &config.Config{Listeners: []config.Listener{l}}
	cur := currentFor(t, cfg, backend)
	if opts.CertPoll == 0 {
		opts.CertPoll = -1 // tests call Check themselves
	}
	if log == nil {
		log = io.Discard
	}
	s, err := NewWithOptions(cfg.Listeners[0], cur, slog.New(slog.NewTextHandler(log, nil)), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// currentFor gives every listener of cfg without an address 127.0.0.1:0,
// routes everything to backend, and returns the generation built from it
// as the current one; the generation is retired at the end of the test.
func currentFor(t testing.TB, cfg *config.Config, backend string) *Current {
	t.Helper()
	for i := range cfg.Listeners {
		if cfg.Listeners[i].Addr == "" {
			cfg.Listeners[i].Addr = "127.0.0.1:0"
		}
	}
	cfg.Routes = []config.Route{{Match: config.Match{Path: "/"}, Proxy: backend}}
	config.ApplyDefaults(cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	gen, err := router.Build(cfg, router.Shared{Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gen.Retire)
	cur := &Current{}
	cur.Swap(gen)
	return cur
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

// freePort returns a loopback port that was free a moment ago, for servers
// that must be told their port before they start (pebble, the openssl
// responder). It is taken below the kernel's ephemeral range: a port
// from :0 could become the local end of another test's outgoing
// connection before the server binds it.
func freePort(t *testing.T) int {
	t.Helper()
	low := ephemeralLow()
	for range 100 {
		port := 10000 + rand.IntN(low-10000)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free port below the ephemeral range")
	return 0
}

// ephemeralLow is the first port the kernel hands out for :0 and for
// outgoing connections.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if f := strings.Fields(string(b)); err == nil && len(f) == 2 {
		if n, err := strconv.Atoi(f[0]); err == nil && n > 11000 {
			return n
		}
	}
	return 32768
}
