package listener

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// h3Server serves HTTP/3 over QUIC on the UDP port of a TLS listener,
// through the same ServeHTTP (and so the same generation) as h1 and h2.
type h3Server struct {
	s    *Server
	srv  *http3.Server
	conn net.PacketConn
	mu   sync.Mutex
	ln   *quic.EarlyListener // set by serve
}

// quicConfig leaves 0-RTT off: early data can be replayed by anyone who
// saw it, and a proxy cannot know which backend requests are safe to
// repeat (nginx's ssl_early_data is off by default too).
var quicConfig = &quic.Config{Allow0RTT: false}

func newH3Server(s *Server, addr net.Addr, tc *tls.Config) (*h3Server, error) {
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return nil, fmt.Errorf("http3: listener address %v is not TCP", addr)
	}
	pc, err := listenUDP(&net.UDPAddr{IP: ta.IP, Port: ta.Port, Zone: ta.Zone}, s.opts.ReusePort)
	if err != nil {
		return nil, fmt.Errorf("http3: %w", err)
	}
	h3tc := tc.Clone()
	h3tc.NextProtos = []string{http3.NextProtoH3}
	s.tickets.add(h3tc)
	lim := s.cfg.Limits
	return &h3Server{
		s:    s,
		conn: pc,
		srv: &http3.Server{
			Handler:        s,
			TLSConfig:      http3.ConfigureTLSConfig(h3tc),
			MaxHeaderBytes: int(lim.MaxHeaderBytes),
			IdleTimeout:    lim.IdleTimeout,
		},
	}, nil
}

func (h *h3Server) serve() {
	ln, err := quic.ListenEarly(h.conn, h.srv.TLSConfig, quicConfig)
	if err != nil {
		h.s.log.Error("http3: not serving", "addr", h.conn.LocalAddr().String(), "err", err.Error())
		return
	}
	h.mu.Lock()
	h.ln = ln
	h.mu.Unlock()
	var lim *connLimiter
	if gl, ok := h.s.ln.(*guardedListener); ok {
		lim = gl.limiter
	}
	_ = h.srv.ServeListener(perIPQUIC{EarlyListener: ln, limiter: lim})
}

// perIPQUIC applies the listener's max_conns_per_ip to QUIC connections,
// counted with the client's TCP connections on the same listener.
type perIPQUIC struct {
	*quic.EarlyListener
	limiter *connLimiter // nil: no limit
}

// h3ExcessiveLoad is H3_EXCESSIVE_LOAD (RFC 9114 section 8.1).
const h3ExcessiveLoad quic.ApplicationErrorCode = 0x0107

func (l perIPQUIC) Accept(ctx context.Context) (*quic.Conn, error) {
	for {
		c, err := l.EarlyListener.Accept(ctx)
		if err != nil || l.limiter == nil {
			return c, err
		}
		ip, ok := addrIP(c.RemoteAddr())
		if !ok {
			return c, nil
		}
		if l.limiter.acquire(ip) {
			context.AfterFunc(c.Context(), func() { l.limiter.release(ip) })
			return c, nil
		}
		_ = c.CloseWithError(h3ExcessiveLoad, "too many connections")
	}
}

// shutdown stops accepting, lets requests finish until ctx ends, then
// closes what is left.
func (h *h3Server) shutdown(ctx context.Context) error {
	err := h.srv.Shutdown(ctx)
	if err != nil {
		_ = h.srv.Close()
	}
	h.mu.Lock()
	if h.ln != nil {
		_ = h.ln.Close()
	}
	h.mu.Unlock()
	_ = h.conn.Close()
	return err
}
