package config

import (
	"slices"
	"strings"
)

var (
	balances  = []string{"round_robin", "weighted", "least_conn", "p2c", "random", "hash", "sticky"}
	protocols = []string{"http1", "h2c"}
)

const maxRetries = 10

func (v *validator) upstreams() {
	for _, name := range v.c.upstreamNames() {
		p := keyPath("upstreams", name)
		u := v.c.Upstreams[name]
		if u == nil {
			v.errorf(p, "missing upstream definition")
			continue
		}
		if !validName(name) {
			v.errorf(p, "upstream name %q may only use letters, digits, \"_\", \"-\" and \".\"", name)
		}
		v.upstream(p, u)
	}
}

// validName keeps upstream names apart from URLs and from the "route:"
// names given to inline proxy URLs.
func validName(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r == '_' || r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	})
}

func (v *validator) upstream(path string, u *Upstream) {
	if len(u.Backends) == 0 {
		v.errorf(path+".backends", "at least one backend is required")
	}
	for i := range u.Backends {
		b := &u.Backends[i]
		p := indexPath(path+".backends", i)
		v.backendURL(p+".url", &b.URL)
		if b.Weight < 0 || b.Weight == 0 && v.has(p+".weight") {
			v.errorf(p+".weight", "must be at least 1")
		}
		if u.Protocol == "h2c" && strings.HasPrefix(b.URL, "https:") {
			v.errorf(p+".url", "h2c is HTTP/2 without TLS and needs an http:// backend")
		}
	}
	if u.Balance != "" && !slices.Contains(balances, u.Balance) {
		v.errorf(path+".balance", "%s", notYetOr("balance", u.Balance, nil, balances))
	}
	if u.HashKey != "" && u.Balance != "hash" {
		v.errorf(path+".hash_key", "only used with balance: hash")
	}
	v.poolPolicy(path, u)
	if u.Protocol != "" && !slices.Contains(protocols, u.Protocol) {
		v.errorf(path+".protocol", "unknown protocol %q; use one of: %s", u.Protocol, strings.Join(protocols, ", "))
	}
	if u.Retries < 0 || u.Retries > maxRetries {
		v.errorf(path+".retries", "must be from 0 to %d", maxRetries)
	}
	if u.MaxIdleConns < 0 {
		v.errorf(path+".max_idle_conns", "must not be negative")
	}
	v.nonNegative(path+".connect_timeout", u.ConnectTimeout)
	v.nonNegative(path+".first_byte_timeout", u.FirstByteTimeout)
	v.nonNegative(path+".idle_conn_timeout", u.IdleConnTimeout)
	v.nonNegative(path+".tunnel_idle_timeout", u.TunnelIdleTimeout)
	v.health(path+".health", u.Health)
	v.upstreamTLS(path, u)
}

func (v *validator) health(path string, h *Health) {
	if h == nil {
		return
	}
	switch {
	case h.Path == "":
		v.errorf(path+".path", "required")
	case !strings.HasPrefix(h.Path, "/"):
		v.errorf(path+".path", `must start with "/"`)
	}
	v.nonNegative(path+".interval", h.Interval)
	v.nonNegative(path+".timeout", h.Timeout)
	if h.Interval > 0 && h.Timeout > h.Interval {
		v.errorf(path+".timeout", "must not be longer than interval (%v)", h.Interval)
	}
	if h.Status != "" {
		if _, _, err := ParseStatusRange(h.Status); err != nil {
			v.errorf(path+".status", "%s", err.Error())
		}
	}
}

// backendURL checks a backend URL and stores it with its port spelled
// out, so the upstream package never guesses a default.
func (v *validator) backendURL(path string, raw *string) bool {
	if *raw == "" {
		v.errorf(path, "required")
		return false
	}
	check := checkURL
	if strings.HasPrefix(*raw, "srv+") {
		check = checkSRVURL
	}
	norm, msg := check(*raw)
	if msg != "" {
		v.errorf(path, "%s", msg)
		return false
	}
	*raw = norm
	return true
}
