package config

import (
	"errors"
	"net/netip"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// The decode methods below are the YAML schema: each lists the keys its
// type accepts, in the order docs/config.md presents them.

func (c *Config) decode(d *decoder, n ast.Node, path string) {
	d.mapping(n, path, []field{
		{"admin", func(n ast.Node, p string) { c.Admin = new(Admin); c.Admin.decode(d, n, p) }},
		{"listeners", func(n ast.Node, p string) {
			d.list(n, p, func(n ast.Node, p string) {
				var l Listener
				l.decode(d, n, p)
				c.Listeners = append(c.Listeners, l)
			})
		}},
		{"upstreams", func(n ast.Node, p string) { c.decodeUpstreams(d, n, p) }},
		{"routes", func(n ast.Node, p string) {
			d.list(n, p, func(n ast.Node, p string) {
				var r Route
				r.decode(d, n, p)
				c.Routes = append(c.Routes, r)
			})
		}},
		{"trusted_proxies", func(n ast.Node, p string) { c.TrustedProxies = d.prefixes(n, p) }},
		{"drain_timeout", func(n ast.Node, p string) { c.DrainTimeout = d.duration(n, p) }},
		{"workers", func(n ast.Node, p string) { c.Workers = d.integer(n, p, 1) }},
		{"access_log", func(n ast.Node, p string) { c.AccessLog = decodeAccessLog(d, n, p) }},
		{"cache", func(n ast.Node, p string) { c.Cache = decodeCacheStores(d, n, p) }},
		{"cluster", func(n ast.Node, p string) { c.Cluster = decodeCluster(d, n, p) }},
		// Extension keys, as in Compose files: a home for anchors.
		{"x-*", func(ast.Node, string) {}},
	})
}

func (a *Admin) decode(d *decoder, n ast.Node, path string) {
	a.Pos = d.at(path)
	d.mapping(n, path, []field{
		{"addr", func(n ast.Node, p string) { a.Addr = d.str(n, p) }},
	})
}

func (l *Listener) decode(d *decoder, n ast.Node, path string) {
	l.Pos = d.at(path)
	d.mapping(n, path, []field{
		{"name", func(n ast.Node, p string) { l.Name = d.str(n, p) }},
		{"addr", func(n ast.Node, p string) { l.Addr = d.str(n, p) }},
		{"tls", func(n ast.Node, p string) { l.TLS = new(TLS); l.TLS.decode(d, n, p) }},
		{"http3", func(n ast.Node, p string) { l.HTTP3 = d.boolean(n, p) }},
		{"proxy_protocol", func(n ast.Node, p string) { l.ProxyProtocol = d.boolean(n, p) }},
		{"redirect_https", func(n ast.Node, p string) { l.RedirectHTTPS = decodeRedirectHTTPS(d, n, p) }},
		{"limits", func(n ast.Node, p string) { l.Limits.decode(d, n, p) }},
		{"ip_filter", func(n ast.Node, p string) { l.IPFilter = d.unsupported(n, p) }},
	})
}

func (l *Limits) decode(d *decoder, n ast.Node, path string) {
	d.mapping(n, path, []field{
		{"max_conns_per_ip", func(n ast.Node, p string) { l.MaxConnsPerIP = d.integer(n, p, 0) }},
		{"max_header_bytes", func(n ast.Node, p string) { l.MaxHeaderBytes = d.size(n, p) }},
		{"max_header_count", func(n ast.Node, p string) { l.MaxHeaderCount = d.integer(n, p, 0) }},
		{"read_header_timeout", func(n ast.Node, p string) { l.ReadHeaderTimeout = d.duration(n, p) }},
		{"idle_timeout", func(n ast.Node, p string) { l.IdleTimeout = d.duration(n, p) }},
		{"read_idle_timeout", func(n ast.Node, p string) { l.ReadIdleTimeout = d.duration(n, p) }},
		{"write_idle_timeout", func(n ast.Node, p string) { l.WriteIdleTimeout = d.duration(n, p) }},
		{"max_concurrent_streams", func(n ast.Node, p string) { l.MaxConcurrentStreams = d.integer(n, p, 0) }},
	})
}

// decodeUpstreams reads the upstreams mapping, keeping file order because
// a Go map would lose it.
func (c *Config) decodeUpstreams(d *decoder, n ast.Node, path string) {
	for _, p := range d.pairs(n, path) {
		kp := keyPath(path, p.key)
		d.mark(kp, p.keyN, p.val)
		u := &Upstream{Name: p.key}
		u.decode(d, p.val, kp)
		if c.Upstreams == nil {
			c.Upstreams = map[string]*Upstream{}
		}
		c.Upstreams[p.key] = u
		c.UpstreamOrder = append(c.UpstreamOrder, p.key)
	}
}

func (u *Upstream) decode(d *decoder, n ast.Node, path string) {
	u.Pos = d.at(path)
	d.mapping(n, path, append([]field{
		{"backends", func(n ast.Node, p string) {
			d.list(n, p, func(n ast.Node, p string) {
				var b Backend
				b.decode(d, n, p)
				u.Backends = append(u.Backends, b)
			})
		}},
		{"balance", func(n ast.Node, p string) { u.Balance = d.str(n, p) }},
		{"hash_key", func(n ast.Node, p string) { u.HashKey = d.str(n, p) }},
		{"health", func(n ast.Node, p string) { u.Health = new(Health); u.Health.decode(d, n, p) }},
		{"retries", func(n ast.Node, p string) { u.Retries = d.integer(n, p, 0) }},
		{"protocol", func(n ast.Node, p string) { u.Protocol = d.str(n, p) }},
		{"connect_timeout", func(n ast.Node, p string) { u.ConnectTimeout = d.duration(n, p) }},
		{"first_byte_timeout", func(n ast.Node, p string) { u.FirstByteTimeout = d.duration(n, p) }},
		{"max_idle_conns", func(n ast.Node, p string) { u.MaxIdleConns = d.integer(n, p, 0) }},
		{"idle_conn_timeout", func(n ast.Node, p string) { u.IdleConnTimeout = d.duration(n, p) }},
		{"tunnel_idle_timeout", func(n ast.Node, p string) { u.TunnelIdleTimeout = d.duration(n, p) }},
		{"tls", func(n ast.Node, p string) { u.TLS = new(UpstreamTLS); u.TLS.decode(d, n, p) }},
	}, u.PoolPolicy.fields(d)...))
}

// decode takes a plain string as the URL.
func (b *Backend) decode(d *decoder, n ast.Node, path string) {
	b.Pos = d.at(path)
	d.shorthand(n, path, "a URL", "url", []field{
		{"url", func(n ast.Node, p string) { b.URL = d.str(n, p) }},
		// A weight of 0 would silently become the default 1.
		{"weight", func(n ast.Node, p string) { b.Weight = d.integer(n, p, 1) }},
	})
}

// decode takes a plain string as the path.
func (h *Health) decode(d *decoder, n ast.Node, path string) {
	h.Pos = d.at(path)
	d.shorthand(n, path, "a path", "path", []field{
		{"path", func(n ast.Node, p string) { h.Path = d.str(n, p) }},
		{"interval", func(n ast.Node, p string) { h.Interval = d.duration(n, p) }},
		{"timeout", func(n ast.Node, p string) { h.Timeout = d.duration(n, p) }},
		{"status", func(n ast.Node, p string) { h.Status = d.str(n, p) }},
		{"rise", func(n ast.Node, p string) { h.Rise = d.integer(n, p, 1) }},
		{"fall", func(n ast.Node, p string) { h.Fall = d.integer(n, p, 1) }},
	})
}

// decodeAccessLog takes true as stdout JSON, false as off and a plain
// string as the path.
func decodeAccessLog(d *decoder, n ast.Node, path string) *AccessLog {
	v, ok := d.value(n, path)
	if !ok {
		return nil
	}
	a := &AccessLog{}
	switch t := v.(type) {
	case *ast.BoolNode:
		if !t.Value {
			return nil
		}
	case *ast.StringNode, *ast.LiteralNode:
		a.Path = d.str(n, keyPath(path, "path"))
	case *ast.MappingNode, *ast.NullNode:
		d.mapping(n, path, []field{
			{"path", func(n ast.Node, p string) { a.Path = d.str(n, p) }},
			{"format", func(n ast.Node, p string) { a.Format = d.str(n, p) }},
		})
	default:
		d.fail(n, path, "expected true, false, a path or a mapping")
	}
	return a
}

// prefixes reads trusted_proxies: CIDRs or bare addresses, one or a list.
func (d *decoder) prefixes(n ast.Node, path string) []Prefix {
	var out []Prefix
	for i, s := range d.strList(n, path) {
		ep := indexPath(path, i)
		if d.bad[ep] {
			continue
		}
		p, err := parsePrefix(s)
		if err != nil {
			d.fail(nil, ep, "%q is not an IP address or CIDR such as 10.0.0.0/8", s)
			continue
		}
		out = append(out, Prefix{Net: p, Pos: d.at(ep)})
	}
	return out
}

// parsePrefix reads a CIDR or a bare address (a single host). Host bits
// are cleared so "10.1.2.3/8" means 10.0.0.0/8, as the kernel reads it.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, errors.New("zones are not allowed")
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
