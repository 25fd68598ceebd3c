package config

import "time"

// Defaults of the TLS keys (types_tls.go).
const (
	DefaultTLSMinVersion = "1.2"
	// DefaultACMECA is Let's Encrypt's production directory.
	DefaultACMECA        = "https://acme-v02.api.letsencrypt.org/directory"
	DefaultACMEStorage   = "acme"
	DefaultClientSubject = "X-Client-Subject"
	DefaultHTTPSPort     = 443
	DefaultHSTSMaxAge    = 365 * 24 * time.Hour
	// CertExpiryWarning is how close to expiry `portico validate` starts
	// warning about a certificate file.
	CertExpiryWarning = 30 * 24 * time.Hour
)

// DefaultACMEChallenges are tried in this order.
var DefaultACMEChallenges = []string{"http-01", "tls-alpn-01"}

func (l *Listener) applyTLSDefaults() {
	if r := l.RedirectHTTPS; r != nil {
		setDefault(&r.Port, DefaultHTTPSPort)
	}
	t := l.TLS
	if t == nil {
		return
	}
	setDefault(&t.MinVersion, DefaultTLSMinVersion)
	if a := t.ACME; a != nil {
		setDefault(&a.CA, DefaultACMECA)
		setDefault(&a.Storage, DefaultACMEStorage)
		if len(a.Challenges) == 0 {
			a.Challenges = append([]string(nil), DefaultACMEChallenges...)
		}
	}
	if c := t.ClientAuth; c != nil {
		setDefault(&c.Header, DefaultClientSubject)
	}
}
