// Package h1 is Portico's HTTP/1.1 server engine, for cleartext
// connections and for TLS connections the listener has already
// handshaken (r.TLS is filled from the *tls.Conn). It owns each downstream HTTP/1.1 connection from accept to
// close: strict parsing of request heads, request body framing (strict
// Content-Length and chunked, Expect: 100-continue, trailers), keep-alive
// and pipelining, timeouts (header, idle, body read and response write
// idle deadlines), response writing (framing, chunking, trailers, 1xx),
// hijacking, and graceful shutdown. Requests go to an ordinary
// http.Handler, so the same handler chain serves net/http's HTTP/2 and
// TLS listeners and this one.
//
// It must not route, talk to backends, do TLS handshakes or speak HTTP/2:
// an h2c prior-knowledge connection is handed to Options.H2C as is.
//
// It exists for speed: one goroutine per connection and none per
// request, pooled buffers, the head copied once into one string that
// method, target and fields are cut from, and one allocation for a
// request's Request, URL, context, response writer and body reader. See
// DESIGN.md, "Performance rules", and the package tests for how it
// differs from net/http.
package h1

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/portico-proxy/portico/internal/listener/httpreq"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = http.ErrServerClosed

// Options configures a Server. Zero values take the defaults below; a
// negative duration turns that timeout off.
type Options struct {
	ReadHeaderTimeout time.Duration // default 10s: request line+headers must arrive within it
	IdleTimeout       time.Duration // default 120s: keep-alive wait for the next request
	ReadIdleTimeout   time.Duration // default 60s: body read stall; each read pushes it forward (never a total deadline)
	WriteIdleTimeout  time.Duration // default 60s: response write stall; each write pushes it forward
	MaxHeaderBytes    int           // default 32KiB: request line + headers; over → 431
	MaxHeaderCount    int           // default 100 fields; over → 431
	// H2C, when set, receives connections that start with the HTTP/2 prior-knowledge
	// preface ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"); the conn given must replay the bytes already read.
	// It is called on the connection's goroutine; the server no longer tracks the connection.
	H2C      func(net.Conn)
	ErrorLog *slog.Logger // may be nil; never log per request on the hot path
}

const (
	defaultReadHeaderTimeout = 10 * time.Second
	defaultIdleTimeout       = 120 * time.Second
	defaultReadIdleTimeout   = 60 * time.Second
	defaultWriteIdleTimeout  = 60 * time.Second
	defaultMaxHeaderBytes    = 32 << 10
	defaultMaxHeaderCount    = 100
	// defaultIdleRelease is how long a keep-alive connection waits for
	// its next request with its buffers before giving them back (Linux).
	defaultIdleRelease = 2 * time.Second
	// manyConns is the open-connection count from which a keep-alive
	// connection gives its buffers back as soon as it goes idle, as nginx
	// does: with thousands of mostly idle clients memory matters more
	// than the extra readiness check per request.
	manyConns = 1024
)

func (o *Options) setDefaults() {
	dur := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	dur(&o.ReadHeaderTimeout, defaultReadHeaderTimeout)
	dur(&o.IdleTimeout, defaultIdleTimeout)
	dur(&o.ReadIdleTimeout, defaultReadIdleTimeout)
	dur(&o.WriteIdleTimeout, defaultWriteIdleTimeout)
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = defaultMaxHeaderBytes
	}
	if o.MaxHeaderCount <= 0 {
		o.MaxHeaderCount = defaultMaxHeaderCount
	}
}

// Server serves HTTP/1.1 on the connections it is given.
type Server struct {
	h         http.Handler
	o         Options
	readPush  int64 // nanoseconds between read idle deadline pushes
	writePush int64
	// idleRelease: see defaultIdleRelease; 0 keeps buffers.
	idleRelease time.Duration

	inShutdown atomic.Bool
	mu         sync.Mutex
	listeners  map[*net.Listener]struct{}
	conns      map[*conn]struct{}
	open       atomic.Int64 // len(conns), read without the lock
	releases   atomic.Int64 // idle buffer releases (tests)

	panics httpreq.PanicLog
}

// NewServer returns a server that passes every request to h.
func NewServer(h http.Handler, o Options) *Server {
	o.setDefaults()
	s := &Server{
		h:         h,
		o:         o,
		readPush:  pushInterval(o.ReadIdleTimeout),
		writePush: pushInterval(o.WriteIdleTimeout),
		listeners: make(map[*net.Listener]struct{}),
		conns:     make(map[*conn]struct{}),
	}
	if runtime.GOOS == "linux" {
		s.idleRelease = defaultIdleRelease
	}
	return s
}

// Serve accepts connections on ln and serves each in its own goroutine
// until Shutdown or Close, then returns ErrServerClosed. It closes ln
// when it returns. Temporary accept errors are waited out (5ms doubling
// to 1s).
func (s *Server) Serve(ln net.Listener) error {
	if !s.trackListener(&ln, true) {
		_ = ln.Close()
		return ErrServerClosed
	}
	defer s.trackListener(&ln, false)
	defer ln.Close()
	var delay time.Duration
	for {
		rwc, err := ln.Accept()
		if err != nil {
			if s.inShutdown.Load() {
				return ErrServerClosed
			}
			if !isTemporary(err) {
				return err
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			time.Sleep(delay)
			continue
		}
		delay = 0
		c := newConn(s, rwc)
		if !s.track(c) {
			_ = rwc.Close()
			return ErrServerClosed
		}
		go c.serve()
	}
}

// ServeConn serves one accepted connection until it is closed, hijacked
// or handed to H2C. It blocks.
func (s *Server) ServeConn(rwc net.Conn) {
	c := newConn(s, rwc)
	if !s.track(c) {
		_ = rwc.Close()
		return
	}
	c.serve()
}

// Shutdown stops accepting, closes idle connections at once and the
// others when their current request ends (its response says Connection:
// close if not yet started), and waits for them until ctx ends.
// Hijacked connections are not tracked and not waited for.
func (s *Server) Shutdown(ctx context.Context) error {
	s.inShutdown.Store(true)
	err := s.closeListeners()
	wait := time.Millisecond
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		if s.closeIdle() {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			wait = min(2*wait, 500*time.Millisecond)
			t.Reset(wait)
		}
	}
}

// Close closes the listeners and every tracked connection at once.
func (s *Server) Close() error {
	s.inShutdown.Store(true)
	err := s.closeListeners()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.state.Store(stateClosed)
		_ = c.rwc.Close()
	}
	return err
}

func (s *Server) closeListeners() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	for ln := range s.listeners {
		if cerr := (*ln).Close(); cerr != nil && err == nil && !errors.Is(cerr, net.ErrClosed) {
			err = cerr
		}
	}
	return err
}

// closeIdle closes idle connections and reports whether none is left.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.CompareAndSwap(stateIdle, stateClosed) {
			_ = c.rwc.Close()
		}
	}
	return len(s.conns) == 0
}

func (s *Server) trackListener(ln *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.listeners, ln)
		return true
	}
	if s.inShutdown.Load() {
		return false
	}
	s.listeners[ln] = struct{}{}
	return true
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inShutdown.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	s.open.Add(1)
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	if _, ok := s.conns[c]; ok {
		s.open.Add(-1)
	}
	delete(s.conns, c)
	s.mu.Unlock()
}

// logPanic logs a handler panic (rate-limited, see httpreq.PanicLog).
func (s *Server) logPanic(remote string, v any) {
	s.panics.Log(s.o.ErrorLog, "h1: panic serving request", remote, v)
}

// isTemporary reports whether an accept error is worth retrying.
func isTemporary(err error) bool {
	var ne net.Error
	if errors.Is(err, net.ErrClosed) || errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		if errors.Is(err, errno) {
			return true
		}
	}
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}
