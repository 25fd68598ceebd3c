package config

import (
	"github.com/goccy/go-yaml/ast"
)

func (r *Route) decode(d *decoder, n ast.Node, path string) {
	r.Pos = d.at(path)
	d.mapping(n, path, []field{
		{"name", func(n ast.Node, p string) { r.Name = d.str(n, p) }},
		{"match", func(n ast.Node, p string) { r.Match.decode(d, n, p) }},
		{"proxy", func(n ast.Node, p string) { r.Proxy = d.str(n, p) }},
		{"redirect", func(n ast.Node, p string) { r.Redirect = new(Redirect); r.Redirect.decode(d, n, p) }},
		{"respond", func(n ast.Node, p string) { r.Respond = new(Respond); r.Respond.decode(d, n, p) }},
		{"static", func(n ast.Node, p string) { r.Static = decodeStatic(d, n, p) }},
		{"aggregate", func(n ast.Node, p string) { r.Aggregate = d.unsupported(n, p) }},
		{"strip_prefix", func(n ast.Node, p string) { r.StripPrefix = d.str(n, p) }},
		{"add_prefix", func(n ast.Node, p string) { r.AddPrefix = d.str(n, p) }},
		{"host_header", func(n ast.Node, p string) { r.HostHeader = d.str(n, p) }},
		{"forwarded_headers", func(n ast.Node, p string) { r.ForwardedHeaders = d.str(n, p) }},
		{"headers", func(n ast.Node, p string) { r.Headers = new(Headers); r.Headers.decode(d, n, p) }},
		{"hsts", func(n ast.Node, p string) { r.HSTS = decodeHSTS(d, n, p) }},
		{"rate_limit", func(n ast.Node, p string) { r.RateLimit = d.unsupported(n, p) }},
		{"cache", func(n ast.Node, p string) { r.Cache = decodeRouteCache(d, n, p) }},
		{"compress", func(n ast.Node, p string) { r.Compress = decodeCompress(d, n, p) }},
		{"ip_filter", func(n ast.Node, p string) { r.IPFilter = d.unsupported(n, p) }},
	})
}

// decode takes a plain string as the path prefix.
func (m *Match) decode(d *decoder, n ast.Node, path string) {
	d.shorthand(n, path, "a path", "path", []field{
		{"host", func(n ast.Node, p string) { m.Host = d.strList(n, p) }},
		{"path", func(n ast.Node, p string) { m.Path = d.str(n, p) }},
		{"exact", func(n ast.Node, p string) { m.Exact = d.boolean(n, p) }},
		{"methods", func(n ast.Node, p string) { m.Methods = d.strList(n, p) }},
		{"headers", func(n ast.Node, p string) { m.Headers = d.strMap(n, p) }},
		{"listener", func(n ast.Node, p string) { m.Listener = d.strList(n, p) }},
	})
}

// decode takes a plain string as the target.
func (r *Redirect) decode(d *decoder, n ast.Node, path string) {
	r.Pos = d.at(path)
	d.shorthand(n, path, "a URL", "to", []field{
		{"to", func(n ast.Node, p string) { r.To = d.str(n, p) }},
		{"status", func(n ast.Node, p string) { r.Status = d.integer(n, p, 0) }},
	})
}

// decode takes a plain string as the body. A bare number is refused
// rather than sent as a body: `respond: 404` almost surely means a status.
func (r *Respond) decode(d *decoder, n ast.Node, path string) {
	r.Pos = d.at(path)
	v, ok := d.value(n, path)
	if !ok {
		return
	}
	if _, isInt := v.(*ast.IntegerNode); isInt {
		d.fail(n, path, "expected a body or a mapping; for a status write {status: %s}", v.GetToken().Value)
		return
	}
	d.shorthand(n, path, "a body", "body", []field{
		{"status", func(n ast.Node, p string) { r.Status = d.integer(n, p, 0) }},
		{"headers", func(n ast.Node, p string) { r.Headers = d.strMap(n, p) }},
		{"body", func(n ast.Node, p string) { r.Body = d.str(n, p) }},
	})
}

func (h *Headers) decode(d *decoder, n ast.Node, path string) {
	d.mapping(n, path, []field{
		{"request", func(n ast.Node, p string) { h.Request.decode(d, n, p) }},
		{"response", func(n ast.Node, p string) { h.Response.decode(d, n, p) }},
	})
}

func (o *HeaderOps) decode(d *decoder, n ast.Node, path string) {
	d.mapping(n, path, []field{
		{"set", func(n ast.Node, p string) { o.Set = d.strMap(n, p) }},
		{"add", func(n ast.Node, p string) { o.Add = d.strMap(n, p) }},
		{"remove", func(n ast.Node, p string) { o.Remove = d.strList(n, p) }},
	})
}
