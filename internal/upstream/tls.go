package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
)

// TLSOptions configure TLS to https:// backends. The zero value verifies
// backends against the system roots under their own host name.
type TLSOptions struct {
	CA         string // PEM roots instead of the system's
	ServerName string // SNI and verified name instead of the backend host
	Cert, Key  string // client certificate for backends that ask
	// InsecureSkipVerify turns verification off; config names it loudly.
	InsecureSkipVerify bool
}

// clientTLS builds the client config of one backend. A session cache per
// backend lets new connections resume instead of doing full handshakes.
func clientTLS(o *TLSOptions, host string) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         host,
		InsecureSkipVerify: o != nil && o.InsecureSkipVerify,
		ClientSessionCache: tls.NewLRUClientSessionCache(64),
	}
	if o == nil {
		return tc, nil
	}
	if o.ServerName != "" {
		tc.ServerName = o.ServerName
	}
	if o.CA != "" {
		data, err := os.ReadFile(o.CA)
		if err != nil {
			return nil, fmt.Errorf("tls: ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("tls: ca %s: no PEM certificates found", o.CA)
		}
		tc.RootCAs = pool
	}
	if o.Cert != "" {
		cert, err := tls.LoadX509KeyPair(o.Cert, o.Key)
		if err != nil {
			return nil, fmt.Errorf("tls: client certificate %s: %w", o.Cert, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// startTLS runs the client handshake on a dialled connection. The caller
// closes nothing on error: startTLS closes nc itself.
func startTLS(ctx context.Context, nc net.Conn, tc *tls.Config) (net.Conn, error) {
	c := tls.Client(nc, tc)
	if err := c.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("tls handshake with %s: %w", nc.RemoteAddr(), err)
	}
	return c, nil
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}
