// Package listener owns downstream connections: the sockets Portico
// accepts on, their guards (per-IP connection limit, progress-reset write
// deadlines), TLS handshakes and everything they need (the certificate
// store with its SNI index and file watch, ACME through certmagic, OCSP
// stapling, session ticket rotation, client certificates), the servers
// (Portico's own engines: HTTP/1.1 in h1/ and HTTP/2 in h2/, each plain
// or over TLS; quic-go for HTTP/3), graceful drain, and
// the atomic pointer to the current configuration generation.
//
// Connections belong to the listener, not to a generation: a reload swaps
// the generation under them, so open keep-alive connections and hijacked
// WebSockets live on. It must not match routes or talk to backends; it
// hands each request to the current generation.
package listener

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/listener/h1"
	"github.com/portico-proxy/portico/internal/listener/h2"
	"github.com/portico-proxy/portico/internal/rawsock"
	"github.com/portico-proxy/portico/internal/router"
	"github.com/portico-proxy/portico/internal/upstream"
)

// Current is the live generation. Reload stores a new one; each request
// loads it once and finishes on what it loaded.
type Current struct {
	p atomic.Pointer[router.Generation]
}

// Load returns the live generation.
func (c *Current) Load() *router.Generation { return c.p.Load() }

// Swap makes g live and returns the one it replaces.
func (c *Current) Swap(g *router.Generation) *router.Generation { return c.p.Swap(g) }

// Server serves one listener address.
type Server struct {
	key    string
	cfg    config.Listener
	cur    *Current
	h1     *h1.Server  // HTTP/1.1, plain or over TLS
	h2     *h2.Server  // HTTP/2, over TLS or h2c
	tls    *tls.Config // nil for plain listeners
	ln     net.Listener
	log    *slog.Logger
	maxHdr int

	opts Options
	tlsParts
	stop     chan struct{} // ends the file watch, ticket rotation and stapling
	stopOnce sync.Once
	// subjectHdrs caches, per generation, the client subject header names
	// of every listener in its config (see clientHeaders).
	subjectHdrs atomic.Pointer[subjectHeaders]
}

// New binds the listener's address at once, so a busy port is reported
// at start, and prepares its server. Serve starts accepting.
func New(cfg config.Listener, cur *Current, log *slog.Logger) (*Server, error) {
	return NewWithOptions(cfg, cur, log, Options{})
}

// NewWithOptions is New with the process-wide parts of TLS (see Options).
func NewWithOptions(cfg config.Listener, cur *Current, log *slog.Logger, opts Options) (*Server, error) {
	lim := cfg.Limits
	s := &Server{key: router.ListenerKey(&cfg), cfg: cfg, cur: cur, log: log, maxHdr: lim.MaxHeaderCount,
		opts: opts, stop: make(chan struct{})}
	inner, err := listenTCP(cfg.Addr, opts.ReusePort)
	if err != nil {
		return nil, fmt.Errorf("listener %s: %w", cfg.Addr, err)
	}
	tlsConf, err := s.setupTLS(inner.Addr())
	if err != nil {
		inner.Close()
		return nil, fmt.Errorf("listener %s: %w", cfg.Addr, err)
	}
	// HTTP/1.1 and HTTP/2 are served by Portico's own engines, strict
	// and lean, each with its own timeouts. HTTP/2 connections come over
	// TLS when ALPN picks h2, or in clear when a connection opens with
	// the HTTP/2 preface (h2c, passed on by the HTTP/1.1 engine).
	s.ln = rawsock.Listener{Listener: inner}
	if tlsConf != nil {
		s.tls = tlsConf
		s.ln = newGuardedListener(s.ln, guardOptions{WriteIdle: lim.WriteIdleTimeout, MaxConnsPerIP: lim.MaxConnsPerIP})
	} else if lim.MaxConnsPerIP > 0 {
		s.ln = newGuardedListener(s.ln, guardOptions{MaxConnsPerIP: lim.MaxConnsPerIP})
	}
	s.h2 = h2.NewServer(s, h2.Options{
		MaxConcurrentStreams: uint32(max(lim.MaxConcurrentStreams, 0)),
		MaxHeaderBytes:       int(lim.MaxHeaderBytes),
		MaxHeaderCount:       lim.MaxHeaderCount,
		ReadHeaderTimeout:    lim.ReadHeaderTimeout,
		IdleTimeout:          lim.IdleTimeout,
		ReadIdleTimeout:      lim.ReadIdleTimeout,
		WriteIdleTimeout:     lim.WriteIdleTimeout,
		ErrorLog:             log,
	})
	h1opts := h1.Options{
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		IdleTimeout:       lim.IdleTimeout,
		ReadIdleTimeout:   lim.ReadIdleTimeout,
		WriteIdleTimeout:  lim.WriteIdleTimeout,
		MaxHeaderBytes:    int(lim.MaxHeaderBytes),
		MaxHeaderCount:    lim.MaxHeaderCount,
		ErrorLog:          log,
	}
	if tlsConf == nil {
		h1opts.H2C = s.h2.ServeConn
	} else {
		h1opts.WriteIdleTimeout = -1 // the guarded conn under TLS does it
	}
	s.h1 = h1.NewServer(s, h1opts)
	return s, nil
}

// Addr is the bound address (useful with port 0).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve accepts until Shutdown. It returns nil after a clean shutdown.
func (s *Server) Serve() error {
	s.startTLSWork()
	var err error
	if s.tls == nil {
		err = s.h1.Serve(s.ln)
	} else {
		err = s.serveTLS()
	}
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// serveTLS accepts TLS connections; each does its handshake on its own
// goroutine (under the read-header timeout), then goes to the HTTP/1.1
// engine or, when ALPN chose h2, to the HTTP/2 one.
func (s *Server) serveTLS() error {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return err
		}
		go s.handshake(c)
	}
}

func (s *Server) handshake(c net.Conn) {
	tc := tls.Server(c, s.tls)
	timeout := s.cfg.Limits.ReadHeaderTimeout
	if timeout <= 0 {
		timeout = config.DefaultReadHeaderTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		_ = c.Close()
		return
	}
	switch tc.ConnectionState().NegotiatedProtocol {
	case "h2":
		s.h2.ServeConn(tc)
		return
	case acmeTLS1: // a CA validating TLS-ALPN-01: the handshake was all
		_ = tc.Close()
		return
	}
	s.h1.ServeConn(tc)
}

// Shutdown stops accepting, lets in-flight requests finish until ctx
// ends, then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	h3err := s.stopTLSWork(ctx)
	if s.tls != nil {
		_ = s.ln.Close() // the h1 engine does not own the TLS accept loop
	}
	// Both engines drain at once: HTTP/2 clients get their GOAWAY
	// without waiting for slow HTTP/1.1 requests.
	h2done := make(chan error, 1)
	go func() { h2done <- s.h2.Shutdown(ctx) }()
	err := s.h1.Shutdown(ctx)
	if err != nil {
		_ = s.h1.Close()
	}
	err = errors.Join(err, <-h2done)
	return errors.Join(err, h3err)
}

// ServeHTTP applies the per-request guards and hands the request to the
// current generation.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	gen := s.cur.Load()
	if s.beforeRoute(w, r, gen) {
		return
	}
	if r.ProtoMajor <= 2 {
		// Portico's engines enforced the limits and body deadlines.
		gen.Handler(s.key).ServeHTTP(w, r)
		return
	}
	if s.maxHdr > 0 && fieldCount(r.Header) > s.maxHdr {
		upstream.WriteStatus(w, http.StatusRequestHeaderFieldsTooLarge)
		return
	}
	if idle := s.cfg.Limits.ReadIdleTimeout; idle > 0 && r.ContentLength != 0 && r.Body != http.NoBody {
		r.Body = &idleBody{ReadCloser: r.Body, rc: http.NewResponseController(w), idle: idle}
	}
	gen.Handler(s.key).ServeHTTP(w, r)
}

func fieldCount(h http.Header) int {
	n := 0
	for _, vv := range h {
		n += len(vv)
	}
	return n
}

// idleBody gives request body reads a deadline that moves with progress:
// a large upload that keeps sending never times out, a stalled one does.
// The deadline is cleared at the end of the body so that net/http's own
// idle handling takes over again.
type idleBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
	last time.Time
	done bool
}

func (b *idleBody) Read(p []byte) (int, error) {
	if now := time.Now(); now.Sub(b.last) > time.Second {
		_ = b.rc.SetReadDeadline(now.Add(b.idle))
		b.last = now
	}
	n, err := b.ReadCloser.Read(p)
	if err != nil && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
