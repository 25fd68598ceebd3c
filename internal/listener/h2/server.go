// Package h2 is Portico's HTTP/2 server engine (RFC 9113), for
// connections the listener has already accepted and, over TLS,
// handshaken: TLS connections whose ALPN chose h2, and cleartext ones
// that opened with the prior-knowledge preface (h2c). It owns each such
// connection from the preface to the close: SETTINGS, flow control in
// both directions, stream states and their limits, request building and
// validation (RFC 9113 8.2–8.3, extended CONNECT from RFC 8441),
// response framing with trailers and 1xx, PING, GOAWAY and graceful
// shutdown, and the timeouts. Requests go to an ordinary http.Handler,
// the same chain the HTTP/1.1 engine serves.
//
// It must not route, talk to backends or do TLS handshakes. Frames are
// read with golang.org/x/net/http2's Framer and header blocks are
// (de)compressed with its hpack package; frames are written by hand.
//
// It exists for speed. net/http's HTTP/2 server passes every frame
// between a connection goroutine and the handler goroutines over
// channels and, on small responses, makes about two socket writes per
// request. Here a handler encodes its response's frames itself, under
// the connection's lock, into one write buffer; whichever goroutine then
// finds the buffer not being written writes it, so the responses of
// streams that finish together leave in one write. A response the
// handler does not flush leaves as HEADERS and DATA with END_STREAM, in
// one piece.
package h2

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portico-proxy/portico/internal/listener/httpreq"
)

// Options configures a Server. Zero values take the defaults below; a
// negative duration turns that timeout off.
type Options struct {
	MaxConcurrentStreams uint32        // default 100: SETTINGS_MAX_CONCURRENT_STREAMS
	MaxHeaderBytes       int           // default 32 KiB: decoded request header list; over → 431
	MaxHeaderCount       int           // default 100 fields; over → 431
	ReadHeaderTimeout    time.Duration // default 10s: the client preface and first SETTINGS must arrive within it
	IdleTimeout          time.Duration // default 120s: a connection without streams is closed after it
	ReadIdleTimeout      time.Duration // default 60s: request body stall; each read pushes it forward
	WriteIdleTimeout     time.Duration // default 60s: socket write stall, and a response waiting for flow-control window
	ErrorLog             *slog.Logger  // may be nil; never logs per request on the hot path
}

const (
	defaultMaxStreams        = 100
	defaultMaxHeaderBytes    = 32 << 10
	defaultMaxHeaderCount    = 100
	defaultReadHeaderTimeout = 10 * time.Second
	defaultIdleTimeout       = 120 * time.Second
	defaultReadIdleTimeout   = 60 * time.Second
	defaultWriteIdleTimeout  = 60 * time.Second

	// streamWindow and connWindow are what a client may send ahead of
	// the handlers reading it: per stream, and for the whole connection.
	// They bound the request body memory of a connection to connWindow.
	streamWindow = 256 << 10
	connWindow   = 1 << 20
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
	if o.MaxConcurrentStreams == 0 {
		o.MaxConcurrentStreams = defaultMaxStreams
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = defaultMaxHeaderBytes
	}
	if o.MaxHeaderCount <= 0 {
		o.MaxHeaderCount = defaultMaxHeaderCount
	}
}

// Server serves HTTP/2 on the connections it is given.
type Server struct {
	h http.Handler
	o Options

	workers workers

	inShutdown atomic.Bool
	mu         sync.Mutex
	conns      map[*conn]struct{}

	panics httpreq.PanicLog
}

// NewServer returns a server that passes every request to h.
func NewServer(h http.Handler, o Options) *Server {
	o.setDefaults()
	return &Server{h: h, o: o, conns: make(map[*conn]struct{})}
}

// ServeConn serves one connection until it closes. nc has not been read
// from (or replays what was): the first bytes are the client preface.
func (s *Server) ServeConn(nc net.Conn) {
	c := newConn(s, nc)
	s.mu.Lock()
	if s.inShutdown.Load() {
		s.mu.Unlock()
		_ = nc.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	c.serve()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Shutdown sends GOAWAY on every connection, lets the streams in flight
// finish, and returns when all connections are closed or when ctx ends
// (then it closes what is left and returns ctx's error).
func (s *Server) Shutdown(ctx context.Context) error {
	s.inShutdown.Store(true)
	defer s.workers.close()
	s.mu.Lock()
	for c := range s.conns {
		c.goAway(0, nil)
	}
	s.mu.Unlock()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			_ = s.Close()
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Close closes every connection at once.
func (s *Server) Close() error {
	s.inShutdown.Store(true)
	s.workers.close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		_ = c.nc.Close()
	}
	return nil
}

// OpenConns is the number of connections being served.
func (s *Server) OpenConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// logPanic logs a handler panic (rate-limited, see httpreq.PanicLog).
func (s *Server) logPanic(remote string, v any) {
	s.panics.Log(s.o.ErrorLog, "h2: panic serving request", remote, v)
}

var errClientGone = errors.New("h2: stream closed by the client or the connection")
