package listener

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"github.com/quic-go/quic-go/http3"
)

// h3Server serves HTTP/3 over QUIC on the UDP port of a TLS listener,
// through the same ServeHTTP (and so the same generation) as h1 and h2.
type h3Server struct {
	srv  *http3.Server
	conn net.PacketConn
}

func newH3Server(s *Server, addr net.Addr, tc *tls.Config) (*h3Server, error) {
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return nil, fmt.Errorf("http3: listener address %v is not TCP", addr)
	}
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: ta.IP, Port: ta.Port, Zone: ta.Zone})
	if err != nil {
		return nil, fmt.Errorf("http3: %w", err)
	}
	h3tc := tc.Clone()
	h3tc.NextProtos = []string{http3.NextProtoH3}
	lim := s.cfg.Limits
	return &h3Server{
		conn: pc,
		srv: &http3.Server{
			Handler:        s,
			TLSConfig:      http3.ConfigureTLSConfig(h3tc),
			MaxHeaderBytes: int(lim.MaxHeaderBytes),
			IdleTimeout:    lim.IdleTimeout,
		},
	}, nil
}

func (h *h3Server) serve() { _ = h.srv.Serve(h.conn) }

// shutdown stops accepting, lets requests finish until ctx ends, then
// closes what is left.
func (h *h3Server) shutdown(ctx context.Context) error {
	err := h.srv.Shutdown(ctx)
	if err != nil {
		_ = h.srv.Close()
	}
	_ = h.conn.Close()
	return err
}
