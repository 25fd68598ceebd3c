package admin

import (
	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/router"
)

// routeInfo is one row of GET /api/routes: what the route matches and
// what answers it, in file order.
type routeInfo struct {
	Name       string   `json:"name"`
	Hosts      []string `json:"hosts,omitempty"`
	Path       string   `json:"path"`
	Exact      bool     `json:"exact,omitempty"`
	Methods    []string `json:"methods,omitempty"`
	Listeners  []string `json:"listeners,omitempty"`
	Terminal   string   `json:"terminal"`
	Target     string   `json:"target,omitempty"`
	Middleware []string `json:"middleware,omitempty"`
}

func routesOf(g *router.Generation) []routeInfo {
	out := make([]routeInfo, 0, len(g.Config.Routes))
	for i := range g.Config.Routes {
		r := &g.Config.Routes[i]
		info := routeInfo{Name: r.Name, Hosts: r.Match.Host, Path: r.Match.Path, Exact: r.Match.Exact,
			Methods: r.Match.Methods, Listeners: r.Match.Listener}
		if info.Path == "" {
			info.Path = "/"
		}
		info.Terminal, info.Target = terminalOf(r)
		info.Middleware = middlewareOf(r)
		out = append(out, info)
	}
	return out
}

func terminalOf(r *config.Route) (kind, target string) {
	switch {
	case r.Proxy != "":
		return "proxy", r.Proxy
	case r.Redirect != nil:
		return "redirect", r.Redirect.To
	case r.Respond != nil:
		return "respond", ""
	case r.Static != nil:
		return "static", r.Static.Root
	}
	return "", ""
}

// middlewareOf names the route's middleware in chain order, outermost
// first (see middleware/chain.go).
func middlewareOf(r *config.Route) []string {
	var out []string
	add := func(on bool, name string) {
		if on {
			out = append(out, name)
		}
	}
	add(r.HSTS != nil, "hsts")
	add(r.Headers != nil, "headers")
	add(r.Compress != nil, "compress")
	return out
}
