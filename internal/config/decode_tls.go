package config

import "github.com/goccy/go-yaml/ast"

// Decode methods of the TLS keys (types_tls.go).

func (t *TLS) decode(d *decoder, n ast.Node, path string) {
	d.mapping(n, path, []field{
		{"certs", func(n ast.Node, p string) {
			d.list(n, p, func(n ast.Node, p string) {
				var c CertPair
				c.decode(d, n, p)
				t.Certs = append(t.Certs, c)
			})
		}},
		{"acme", func(n ast.Node, p string) { t.ACME = new(ACME); t.ACME.decode(d, n, p) }},
		{"min_version", func(n ast.Node, p string) { t.MinVersion = d.str(n, p) }},
		{"client_auth", func(n ast.Node, p string) { t.ClientAuth = new(ClientAuth); t.ClientAuth.decode(d, n, p) }},
	})
}

func (c *CertPair) decode(d *decoder, n ast.Node, path string) {
	c.Pos = d.at(path)
	d.mapping(n, path, []field{
		{"cert", func(n ast.Node, p string) { c.Cert = d.str(n, p) }},
		{"key", func(n ast.Node, p string) { c.Key = d.str(n, p) }},
	})
}

func (a *ACME) decode(d *decoder, n ast.Node, path string) {
	a.Pos = d.at(path)
	d.mapping(n, path, []field{
		{"email", func(n ast.Node, p string) { a.Email = d.str(n, p) }},
		{"domains", func(n ast.Node, p string) { a.Domains = d.strList(n, p) }},
		{"ca", func(n ast.Node, p string) { a.CA = d.str(n, p) }},
		{"ca_root", func(n ast.Node, p string) { a.CARoot = d.str(n, p) }},
		{"storage", func(n ast.Node, p string) { a.Storage = d.str(n, p) }},
		{"challenges", func(n ast.Node, p string) { a.Challenges = d.strList(n, p) }},
	})
}

// decode takes a plain string as the mode.
func (c *ClientAuth) decode(d *decoder, n ast.Node, path string) {
	c.Pos = d.at(path)
	d.shorthand(n, path, "request or require", "mode", []field{
		{"mode", func(n ast.Node, p string) { c.Mode = d.str(n, p) }},
		{"ca", func(n ast.Node, p string) { c.CA = d.str(n, p) }},
		{"header", func(n ast.Node, p string) { c.Header = d.str(n, p) }},
	})
}

// decodeRedirectHTTPS takes true as on with the default port, false as
// off, and an integer as the port.
func decodeRedirectHTTPS(d *decoder, n ast.Node, path string) *RedirectHTTPS {
	v, ok := d.value(n, path)
	if !ok {
		return nil
	}
	r := &RedirectHTTPS{Pos: d.at(path)}
	switch t := v.(type) {
	case *ast.BoolNode:
		if !t.Value {
			return nil
		}
	case *ast.IntegerNode:
		r.Port = d.integer(n, keyPath(path, "port"), 1)
	case *ast.MappingNode, *ast.NullNode:
		d.mapping(n, path, []field{
			{"port", func(n ast.Node, p string) { r.Port = d.integer(n, p, 1) }},
		})
	default:
		d.fail(n, path, "expected true, false, a port or a mapping")
	}
	return r
}

// decodeHSTS takes true as on with the defaults and false as off.
func decodeHSTS(d *decoder, n ast.Node, path string) *HSTS {
	h := &HSTS{Pos: d.at(path)}
	if on, _ := d.toggle(n, path, []field{
		{"max_age", func(n ast.Node, p string) { h.MaxAge = d.duration(n, p) }},
		{"include_subdomains", func(n ast.Node, p string) { h.IncludeSubdomains = d.boolean(n, p) }},
		{"preload", func(n ast.Node, p string) { h.Preload = d.boolean(n, p) }},
	}); !on {
		return nil
	}
	return h
}

func (t *UpstreamTLS) decode(d *decoder, n ast.Node, path string) {
	t.Pos = d.at(path)
	d.mapping(n, path, []field{
		{"ca", func(n ast.Node, p string) { t.CA = d.str(n, p) }},
		{"server_name", func(n ast.Node, p string) { t.ServerName = d.str(n, p) }},
		{"cert", func(n ast.Node, p string) { t.Cert = d.str(n, p) }},
		{"key", func(n ast.Node, p string) { t.Key = d.str(n, p) }},
		{"insecure_skip_verify", func(n ast.Node, p string) { t.InsecureSkipVerify = d.boolean(n, p) }},
	})
}
