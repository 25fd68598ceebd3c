package config

import "time"

// ACME obtains and renews certificates automatically (RFC 8555).
type ACME struct {
	Email   string   // account contact; required
	Domains []string // names to obtain certificates for; at least one
	// CA is the ACME directory URL; default Let's Encrypt production.
	CA string
	// CARoot is a PEM file of roots to trust when talking to the CA, for
	// a private or test CA; empty means the system roots.
	CARoot string
	// Storage is the directory for the account, keys and certificates;
	// default "acme" (relative to the working directory).
	Storage string
	// Challenges lists the challenge types to use: "http-01" (answered on
	// plain listeners) and "tls-alpn-01" (answered on this listener).
	// Default both.
	Challenges []string
	Pos        Pos
}

// ClientAuth asks downstream clients for certificates (mTLS).
type ClientAuth struct {
	// Mode is "request" (verified when given) or "require". In YAML a
	// plain string is Mode.
	Mode string
	CA   string // PEM file of the CAs client certificates must chain to
	// Header carries the verified subject to the upstream; any incoming
	// copy is removed first. Default "X-Client-Subject".
	Header string
	Pos    Pos
}

// RedirectHTTPS sends plain-HTTP requests to https. In YAML `true` means
// the default port and an integer is Port.
type RedirectHTTPS struct {
	Port int // the https port in the Location; default 443 (left out)
	Pos  Pos
}

// HSTS sets Strict-Transport-Security on responses sent over TLS. In YAML
// `true` means the defaults.
type HSTS struct {
	MaxAge            time.Duration // default 8760h (one year)
	IncludeSubdomains bool
	Preload           bool
	Pos               Pos
}

// UpstreamTLS configures TLS to https:// backends. Certificates are
// verified against the system roots unless CA is set.
type UpstreamTLS struct {
	CA         string // PEM file of roots to verify backends against
	ServerName string // SNI and verification name; default the backend host
	Cert       string // client certificate (PEM) for backends that ask
	Key        string
	// InsecureSkipVerify turns verification off. Named loudly on purpose:
	// it makes the TLS connection open to interception.
	InsecureSkipVerify bool
	Pos                Pos
}
