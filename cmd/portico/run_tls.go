package main

import (
	"net"
	"strconv"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/listener"
)

// tlsOptions are the process-wide TLS parts every listener shares: the
// ACME HTTP-01 answers, given on plain listeners, and the port they
// arrive on (the first plain listener's).
func tlsOptions(cfg *config.Config) listener.Options {
	o := listener.Options{Challenges: &listener.Challenges{}}
	for _, l := range cfg.Listeners {
		if l.TLS != nil {
			continue
		}
		if _, port, err := net.SplitHostPort(l.Addr); err == nil {
			if n, err := strconv.Atoi(port); err == nil && n > 0 {
				o.ACMEHTTPPort = n
				break
			}
		}
	}
	return o
}

// reloadCerts loads changed certificate files into the running listeners;
// a broken file keeps its old certificate and is logged.
func (in *instance) reloadCerts(cfg *config.Config) {
	for i, s := range in.servers {
		if i >= len(cfg.Listeners) {
			break
		}
		if err := s.ReloadTLS(cfg.Listeners[i].TLS); err != nil {
			in.log.Error("reload: certificate kept", "addr", s.Addr().String(), "err", err.Error())
		}
	}
}

func sameRedirect(a, b *config.RedirectHTTPS) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Port == b.Port
}

// certificates lists the certificates of every listener, for the admin
// API's GET /api/certificates.
func (in *instance) certificates() []listener.CertInfo {
	var out []listener.CertInfo
	for _, s := range in.servers {
		out = append(out, s.Certificates()...)
	}
	return out
}
