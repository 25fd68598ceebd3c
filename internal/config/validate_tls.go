package config

import (
	"net/url"
	"slices"
	"strings"
)

// Validation of the TLS keys (types_tls.go).

var (
	tlsVersions     = []string{"1.2", "1.3"}
	clientAuthModes = []string{"request", "require"}
	acmeChallenges  = []string{"http-01", "tls-alpn-01"}
)

// listenerTLS checks the listener keys that depend on TLS being on or off.
func (v *validator) listenerTLS(path string, l *Listener) {
	if l.HTTP3 && l.TLS == nil {
		v.errorf(path+".http3", "HTTP/3 needs tls on this listener")
	}
	if r := l.RedirectHTTPS; r != nil {
		if l.TLS != nil {
			v.errorf(path+".redirect_https", "only for plain listeners; this one has tls")
		}
		if r.Port < 0 || r.Port > 65535 {
			v.errorf(path+".redirect_https.port", "must be a port from 1 to 65535")
		}
	}
}

func (v *validator) tlsPolicy(path string, t *TLS) {
	if t.MinVersion != "" && !slices.Contains(tlsVersions, t.MinVersion) {
		msg := "unknown TLS version %q; use one of: " + strings.Join(tlsVersions, ", ")
		if t.MinVersion == "1.0" || t.MinVersion == "1.1" {
			msg = "TLS %s is broken and not offered; use one of: " + strings.Join(tlsVersions, ", ")
		}
		v.errorf(path+".min_version", msg, t.MinVersion)
	}
	v.acme(path+".acme", t.ACME)
	if c := t.ClientAuth; c != nil {
		p := path + ".client_auth"
		if !slices.Contains(clientAuthModes, c.Mode) {
			v.errorf(p+".mode", "unknown mode %q; use one of: %s", c.Mode, strings.Join(clientAuthModes, ", "))
		}
		if c.CA == "" {
			v.errorf(p+".ca", "required: the CA file client certificates are verified against")
		}
		if c.Header != "" && !isToken(c.Header) {
			v.errorf(p+".header", "%q is not a valid header name", c.Header)
		}
	}
}

func (v *validator) acme(path string, a *ACME) {
	if a == nil {
		return
	}
	if len(a.Domains) == 0 {
		v.errorf(path+".domains", "at least one domain is required")
	}
	for i, d := range a.Domains {
		if d == "" || strings.ContainsAny(d, " /:") || strings.Contains(d, "*") && !strings.HasPrefix(d, "*.") {
			v.errorf(indexPath(path+".domains", i), "%q is not a domain name", d)
		}
	}
	// Required: without one certmagic would ask for it on standard input.
	if a.Email == "" {
		v.errorf(path+".email", "required: the contact address of the ACME account")
	} else if !strings.Contains(a.Email, "@") {
		v.errorf(path+".email", "%q is not an email address", a.Email)
	}
	if a.CA != "" {
		if u, err := url.Parse(a.CA); err != nil || u.Scheme != "https" || u.Host == "" {
			v.errorf(path+".ca", "%q must be an https:// ACME directory URL", a.CA)
		}
	}
	for i, c := range a.Challenges {
		if !slices.Contains(acmeChallenges, c) {
			v.errorf(indexPath(path+".challenges", i), "unknown challenge %q; use one of: %s", c, strings.Join(acmeChallenges, ", "))
		}
	}
}

func (v *validator) hsts(path string, h *HSTS) {
	if h != nil {
		v.nonNegative(path+".max_age", h.MaxAge)
	}
}

func (v *validator) upstreamTLS(path string, u *Upstream) {
	t := u.TLS
	if t == nil {
		return
	}
	p := path + ".tls"
	https := false
	for _, b := range u.Backends {
		https = https || strings.HasPrefix(b.URL, "https:")
	}
	if !https {
		v.errorf(p, "no backend of this upstream uses https://")
	}
	if (t.Cert == "") != (t.Key == "") {
		v.errorf(p, "cert and key go together")
	}
	if t.InsecureSkipVerify && t.CA != "" {
		v.errorf(p+".insecure_skip_verify", "contradicts ca: verification is either on or off")
	}
}
