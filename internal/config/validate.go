package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// notYet is the message for keys of DESIGN.md that later releases
// implement: the key is known, so "unknown key" would mislead.
const notYet = "not available in this release yet"

// validator collects every problem of one Config.
type validator struct {
	c    *Config
	errs Errors
}

func (v *validator) errorf(path, format string, args ...any) {
	p := v.c.pos.find(path)
	v.errs = append(v.errs, &Error{File: v.c.File, Line: p.Line, Column: p.Column,
		Path: path, Msg: fmt.Sprintf(format, args...)})
}

// has reports whether path was written in the file, even with a value
// that did not decode.
func (v *validator) has(path string) bool {
	_, ok := v.c.pos[path]
	return ok
}

func (v *validator) unsupported(path string, u *Unsupported) {
	if u != nil {
		v.errorf(path, notYet)
	}
}

func (v *validator) nonNegative(path string, d time.Duration) {
	if d < 0 {
		v.errorf(path, "must not be negative")
	}
}

// Validate checks c and returns every problem as Errors, each with its key
// path and, for a loaded config, its line. It also completes c where a
// check already did the work: match hosts are lowercased, backend URLs get
// their default port, and an inline proxy URL becomes Route.ProxyUpstream.
// Validate expects ApplyDefaults to have run, but accepts zero values that
// have a default.
func (c *Config) Validate() error {
	v := &validator{c: c}
	v.admin()
	v.listeners()
	v.upstreams()
	v.routes()
	for i, p := range c.TrustedProxies {
		if !p.Net.IsValid() {
			v.errorf(indexPath("trusted_proxies", i), "invalid network")
		}
	}
	v.nonNegative("drain_timeout", c.DrainTimeout)
	if c.Workers > MaxWorkers {
		v.errorf("workers", "%d is more than %d", c.Workers, MaxWorkers)
	}
	if a := c.AccessLog; a != nil && a.Format != "" && a.Format != "json" {
		v.errorf("access_log.format", "unknown format %q; use json", a.Format)
	}
	v.cacheStores()
	return v.errs.err()
}

func (v *validator) admin() {
	a := v.c.Admin
	if a == nil {
		return
	}
	if a.Addr == "" {
		a.Addr = DefaultAdminAddr
	}
	host, _, msg := splitAddr(a.Addr)
	if msg != "" {
		v.errorf("admin.addr", "%s", msg)
		return
	}
	if !isLoopback(host) {
		v.errorf("admin.addr", "%q is not on a loopback host; use 127.0.0.1, ::1 or localhost", a.Addr)
	}
}

func (v *validator) listeners() {
	c := v.c
	if len(c.Listeners) == 0 {
		v.errorf("listeners", "at least one listener is required")
	}
	names := map[string]int{}
	var bound []boundAddr
	for i := range c.Listeners {
		l := &c.Listeners[i]
		p := indexPath("listeners", i)
		if l.Name != "" {
			if j, dup := names[l.Name]; dup {
				v.errorf(p+".name", "listener name %q is already used by listeners[%d]", l.Name, j)
			} else {
				names[l.Name] = i
			}
		}
		bound = v.listenAddr(p+".addr", l.Addr, i, bound)
		v.tls(p+".tls", l.TLS)
		v.listenerTLS(p, l)
		if l.ProxyProtocol {
			v.errorf(p+".proxy_protocol", notYet)
		}
		v.limits(p+".limits", &l.Limits)
		v.unsupported(p+".ip_filter", l.IPFilter)
	}
}

// boundAddr is a listener address already seen, to catch two listeners
// that would fight over one port.
type boundAddr struct {
	host, port string
	index      int
}

func (v *validator) listenAddr(path, addr string, i int, bound []boundAddr) []boundAddr {
	if addr == "" {
		v.errorf(path, "required")
		return bound
	}
	host, port, msg := splitAddr(addr)
	if msg != "" {
		v.errorf(path, "%s", msg)
		return bound
	}
	if port == "0" { // a free port picked by the kernel; never clashes
		if v.c.Workers > 1 {
			v.errorf(path, "port 0 with workers: %d would give each worker a port of its own; use a fixed port", v.c.Workers)
		}
		return bound
	}
	for _, b := range bound {
		if b.port == port && (b.host == host || isUnspecified(b.host) || isUnspecified(host)) {
			v.errorf(path, "address %q overlaps listeners[%d]", addr, b.index)
			break
		}
	}
	return append(bound, boundAddr{host: host, port: port, index: i})
}

func (v *validator) tls(path string, t *TLS) {
	if t == nil {
		return
	}
	if len(t.Certs) == 0 && t.ACME == nil {
		v.errorf(path+".certs", "at least one certificate (or acme) is required")
	}
	for j, cp := range t.Certs {
		p := indexPath(path+".certs", j)
		if cp.Cert == "" {
			v.errorf(p+".cert", "required")
		}
		if cp.Key == "" {
			v.errorf(p+".key", "required")
		}
	}
	v.tlsPolicy(path, t)
}

func (v *validator) limits(path string, l *Limits) {
	ints := []struct {
		key string
		n   int64
	}{
		{"max_conns_per_ip", int64(l.MaxConnsPerIP)},
		{"max_header_bytes", l.MaxHeaderBytes},
		{"max_header_count", int64(l.MaxHeaderCount)},
		{"max_concurrent_streams", int64(l.MaxConcurrentStreams)},
	}
	for _, x := range ints {
		if x.n < 0 {
			v.errorf(path+"."+x.key, "must not be negative")
		}
	}
	v.nonNegative(path+".read_header_timeout", l.ReadHeaderTimeout)
	v.nonNegative(path+".idle_timeout", l.IdleTimeout)
	v.nonNegative(path+".read_idle_timeout", l.ReadIdleTimeout)
	v.nonNegative(path+".write_idle_timeout", l.WriteIdleTimeout)
}

// upstreamNames lists the pools in file order, then any that code added to
// the map without UpstreamOrder, sorted so errors come out stable.
func (c *Config) upstreamNames() []string {
	var names, extra []string
	seen := map[string]bool{}
	for _, n := range c.UpstreamOrder {
		if _, ok := c.Upstreams[n]; ok && !seen[n] {
			names = append(names, n)
			seen[n] = true
		}
	}
	for n := range c.Upstreams {
		if !seen[n] {
			extra = append(extra, n)
		}
	}
	slices.Sort(extra)
	return append(names, extra...)
}

// notYetOr formats the "later release" and "unknown" answers for a value
// of a closed set, such as balance.
func notYetOr(kind, got string, later, valid []string) string {
	if slices.Contains(later, got) {
		return fmt.Sprintf("%s %q is %s", kind, got, notYet)
	}
	return fmt.Sprintf("unknown %s %q; use one of: %s", kind, got, strings.Join(valid, ", "))
}
