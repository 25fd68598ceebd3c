package config

import (
	"fmt"
	"slices"
	"strings"
)

var redirectStatuses = []int{301, 302, 303, 307, 308}

func (v *validator) routes() {
	if len(v.c.Routes) == 0 {
		v.errorf("routes", "at least one route is required")
	}
	names := map[string]int{}
	for i := range v.c.Routes {
		r := &v.c.Routes[i]
		p := indexPath("routes", i)
		if r.Name != "" {
			if j, dup := names[r.Name]; dup {
				v.errorf(p+".name", "route name %q is already used by routes[%d]", r.Name, j)
			} else {
				names[r.Name] = i
			}
		}
		v.match(p+".match", &r.Match)
		v.terminal(p, r)
		v.proxy(p, i, r)
		v.redirect(p+".redirect", r.Redirect)
		v.respond(p+".respond", r.Respond)
		if r.Headers != nil {
			v.headerOps(p+".headers.request", &r.Headers.Request)
			v.headerOps(p+".headers.response", &r.Headers.Response)
		}
		v.hsts(p+".hsts", r.HSTS)
		v.static(p+".static", r.Static)
		v.unsupported(p+".aggregate", r.Aggregate)
		v.unsupported(p+".rate_limit", r.RateLimit)
		v.routeCache(p+".cache", r.Cache)
		v.compress(p+".compress", r.Compress)
		v.unsupported(p+".ip_filter", r.IPFilter)
	}
}

// terminal checks that a route ends in exactly one place. A key that was
// written counts even if its value did not decode, so one mistake does not
// also read as "no terminal".
func (v *validator) terminal(path string, r *Route) {
	var set []string
	add := func(key string, present bool) {
		if present {
			set = append(set, key)
		}
	}
	add("proxy", r.Proxy != "" || v.has(path+".proxy"))
	add("redirect", r.Redirect != nil)
	add("respond", r.Respond != nil)
	// Only as "on": static: false is a valid way to say "not this".
	add("static", r.Static != nil)
	add("aggregate", r.Aggregate != nil)
	switch {
	case len(set) == 0:
		v.errorf(path, "route needs one of proxy, redirect, respond, static")
	case len(set) > 1:
		v.errorf(path, "only one of proxy, redirect, respond, static may be set (got %s)", strings.Join(set, ", "))
	}
}

func (v *validator) match(path string, m *Match) {
	switch {
	case m.Path == "" && m.Exact:
		v.errorf(path+".exact", "needs a path")
	case m.Path != "":
		v.urlPath(path+".path", m.Path)
	}
	for i, h := range m.Host {
		p := indexPath(path+".host", i)
		norm, msg := checkMatchHost(h)
		if msg != "" {
			v.errorf(p, "%s", msg)
			continue
		}
		m.Host[i] = norm
	}
	for i, meth := range m.Methods {
		p := indexPath(path+".methods", i)
		switch {
		case !isToken(meth):
			v.errorf(p, "%q is not a valid method", meth)
		case strings.ToUpper(meth) != meth:
			v.errorf(p, "method %q must be uppercase: %q", meth, strings.ToUpper(meth))
		}
	}
	v.headerMap(path+".headers", m.Headers)
	for i, name := range m.Listener {
		if !slices.ContainsFunc(v.c.Listeners, func(l Listener) bool { return l.Name == name }) {
			v.errorf(indexPath(path+".listener", i), "undefined listener %q%s", name, v.listenerHint(name))
		}
	}
}

func (v *validator) listenerHint(name string) string {
	var names []string
	for _, l := range v.c.Listeners {
		if l.Name != "" {
			names = append(names, l.Name)
		}
	}
	if len(names) == 0 {
		return "; give a listener this name"
	}
	if s := suggest(name, names); s != "" {
		return s
	}
	return "; defined listeners: " + strings.Join(names, ", ")
}

// urlPath checks a path the router compares with request paths.
func (v *validator) urlPath(path, p string) {
	switch {
	case !strings.HasPrefix(p, "/"):
		v.errorf(path, `must start with "/"`)
	case strings.ContainsAny(p, "?#"):
		v.errorf(path, "must not contain a query or fragment")
	case strings.ContainsFunc(p, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		v.errorf(path, "must not contain spaces or control characters")
	}
}

// ForwardedHeaderSets are the values of routes[].forwarded_headers.
var ForwardedHeaderSets = []string{"both", "x-forwarded", "forwarded", "none"}

// proxy resolves the proxy terminal and checks the options that only
// make sense with it.
func (v *validator) proxy(path string, i int, r *Route) {
	r.ProxyUpstream = nil
	for _, opt := range []struct{ key, val string }{
		{"strip_prefix", r.StripPrefix}, {"add_prefix", r.AddPrefix}, {"host_header", r.HostHeader},
		{"forwarded_headers", r.ForwardedHeaders},
	} {
		if opt.val == "" {
			continue
		}
		switch {
		case r.Proxy == "" && !v.has(path+".proxy"):
			v.errorf(path+"."+opt.key, "only applies to proxy routes")
		case opt.key == "forwarded_headers":
			if !slices.Contains(ForwardedHeaderSets, opt.val) {
				v.errorf(path+"."+opt.key, "%s", notYetOr("forwarded_headers", opt.val, nil, ForwardedHeaderSets))
			}
		case opt.key != "host_header":
			v.urlPath(path+"."+opt.key, opt.val)
		}
	}
	p := path + ".proxy"
	switch {
	case r.Proxy == "":
		if v.has(p) {
			v.errorf(p, "must not be empty")
		}
	case strings.Contains(r.Proxy, "://"):
		url := r.Proxy
		if !v.backendURL(p, &url) {
			return
		}
		name := r.Name
		if name == "" {
			name = fmt.Sprintf("route[%d]", i)
		}
		u := &Upstream{Name: "route:" + name, Pos: r.Pos,
			Backends: []Backend{{URL: url, Pos: r.Pos}}}
		u.applyDefaults()
		r.ProxyUpstream = u
	case v.c.Upstreams[r.Proxy] == nil:
		v.errorf(p, "undefined upstream %q%s", r.Proxy, v.upstreamHint(r.Proxy))
	}
}

func (v *validator) upstreamHint(name string) string {
	names := v.c.upstreamNames()
	if len(names) == 0 {
		return "; define it under upstreams, or proxy to a URL such as http://127.0.0.1:8080"
	}
	if s := suggest(name, names); s != "" {
		return s
	}
	return "; defined upstreams: " + strings.Join(names, ", ")
}

func (v *validator) redirect(path string, r *Redirect) {
	if r == nil {
		return
	}
	if r.To == "" {
		v.errorf(path+".to", "required")
	}
	if r.Status != 0 && !slices.Contains(redirectStatuses, r.Status) {
		v.errorf(path+".status", "%d is not a redirect status; use 301, 302, 303, 307 or 308", r.Status)
	}
}

func (v *validator) respond(path string, r *Respond) {
	if r == nil {
		return
	}
	if r.Status != 0 && (r.Status < 100 || r.Status > 599) {
		v.errorf(path+".status", "%d is not an HTTP status; use 100 to 599", r.Status)
	}
	v.headerMap(path+".headers", r.Headers)
}

func (v *validator) headerOps(path string, o *HeaderOps) {
	v.headerMap(path+".set", o.Set)
	v.headerMap(path+".add", o.Add)
	for i, name := range o.Remove {
		if !isToken(name) {
			v.errorf(indexPath(path+".remove", i), "%q is not a valid header name", name)
		}
	}
}

// headerMap checks header names and values. Two spellings of one name
// ("X-A" and "x-a") would make the result depend on map order.
func (v *validator) headerMap(path string, m map[string]string) {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	seen := map[string]string{}
	for _, name := range names {
		p := keyPath(path, name)
		switch {
		case !isToken(name):
			v.errorf(p, "%q is not a valid header name", name)
		case !validHeaderValue(m[name]):
			v.errorf(p, "header value must not contain control characters")
		}
		lower := strings.ToLower(name)
		if prev, dup := seen[lower]; dup {
			v.errorf(p, "header %q is also written as %q", name, prev)
		}
		seen[lower] = name
	}
}
