package router

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path"
	"strings"

	"github.com/portico-proxy/portico/internal/cache"
	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/middleware"
	"github.com/portico-proxy/portico/internal/static"
	"github.com/portico-proxy/portico/internal/upstream"
)

// This file turns a validated config into a Generation: pools, each
// route's chain, the route table and the per-generation wrappers.

// Generation is everything one configuration builds. Listeners serve
// through the current generation; a reload builds a new one beside it,
// swaps, and retires the old one (see listener.Current).
type Generation struct {
	Config    *config.Config
	table     *Table
	pools     []*upstream.Pool
	accessLog *middleware.AccessLog
	ownLog    io.Closer
	handlers  map[string]http.Handler // by listener key
	cache     *cache.Cache            // from Shared; nil when none was built
}

// Shared is what outlives generations.
type Shared struct {
	RequestIDs *middleware.RequestIDs
	// Stdout is where "access_log: stdout" goes; nil means os.Stdout.
	Stdout io.Writer
	// Drains keeps backends marked draining across reloads; nil keeps
	// the marks for one generation only.
	Drains *upstream.DrainSet
	// Cache holds the cache stores; built once per process so a reload
	// keeps what is cached. Routes with `cache` need it.
	Cache *cache.Cache
}

// ListenerKey names a listener inside a generation: its name, or its
// address when it has none.
func ListenerKey(l *config.Listener) string {
	if l.Name != "" {
		return l.Name
	}
	return l.Addr
}

// Build makes a generation from a validated config. On error nothing is
// left running.
func Build(cfg *config.Config, shared Shared) (_ *Generation, err error) {
	g := &Generation{Config: cfg, handlers: map[string]http.Handler{}, cache: shared.Cache}
	defer func() {
		if err != nil {
			g.Retire() // the half-built one: pools and files opened so far
		}
	}()
	pools := map[string]*upstream.Pool{}
	for _, name := range cfg.UpstreamOrder {
		p, err := newPool(cfg.Upstreams[name], shared.Drains)
		if err != nil {
			return nil, err
		}
		pools[name] = p
		g.pools = append(g.pools, p)
	}
	trust := upstream.NewTrust(prefixesOf(cfg.TrustedProxies))
	rules := make([]Rule, 0, len(cfg.Routes))
	var errs []error
	for i := range cfg.Routes {
		r := &cfg.Routes[i]
		h, err := g.buildRoute(r, pools, trust, shared.Drains)
		if err != nil {
			errs = append(errs, fmt.Errorf("route %q: %w", r.Name, err))
			continue
		}
		rules = append(rules, ruleOf(r, h))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if g.table, err = NewTable(rules); err != nil {
		return nil, err
	}
	if err := g.openAccessLog(cfg.AccessLog, shared); err != nil {
		return nil, err
	}
	ids := shared.RequestIDs
	if ids == nil {
		ids = middleware.NewRequestIDs()
	}
	for i := range cfg.Listeners {
		key := ListenerKey(&cfg.Listeners[i])
		var h http.Handler = dispatcher{table: g.table, listener: cfg.Listeners[i].Name}
		if g.accessLog != nil {
			h = g.accessLog.Wrap(h)
		}
		g.handlers[key] = middleware.RequestID(ids, h)
	}
	return g, nil
}

func prefixesOf(ps []config.Prefix) (out []netip.Prefix) {
	for _, p := range ps {
		out = append(out, p.Net)
	}
	return out
}

func ruleOf(r *config.Route, h http.Handler) Rule {
	rule := Rule{
		Hosts:     r.Match.Host,
		Path:      r.Match.Path,
		Exact:     r.Match.Exact,
		Methods:   r.Match.Methods,
		Listeners: r.Match.Listener,
		Handler:   h,
	}
	if rule.Path == "" {
		rule.Path = "/"
	}
	for k, v := range r.Match.Headers {
		rule.Headers = append(rule.Headers, [2]string{http.CanonicalHeaderKey(k), v})
	}
	return rule
}

// forwardedHeaders maps routes[].forwarded_headers (checked by Validate)
// to the proxy's setting; "" is the default, both kinds.
var forwardedHeaders = map[string]upstream.ForwardedHeaders{
	"": upstream.ForwardBoth, "both": upstream.ForwardBoth, "x-forwarded": upstream.ForwardXForwarded,
	"forwarded": upstream.ForwardRFC7239, "none": upstream.ForwardNone,
}

func (g *Generation) buildRoute(r *config.Route, pools map[string]*upstream.Pool, trust *upstream.Trust, drains *upstream.DrainSet) (http.Handler, error) {
	var terminal http.Handler
	switch {
	case r.Proxy != "":
		pool := pools[r.Proxy]
		if pool == nil && r.ProxyUpstream != nil {
			p, err := newPool(r.ProxyUpstream, drains)
			if err != nil {
				return nil, err
			}
			g.pools = append(g.pools, p)
			pool = p
		}
		if pool == nil {
			return nil, fmt.Errorf("proxy: undefined upstream %q", r.Proxy)
		}
		terminal = &upstream.Proxy{Pool: pool, StripPrefix: r.StripPrefix, AddPrefix: r.AddPrefix,
			HostHeader: r.HostHeader, Trust: trust, Forwarded: forwardedHeaders[r.ForwardedHeaders]}
	case r.Redirect != nil:
		terminal = newRedirect(r.Redirect)
	case r.Respond != nil:
		terminal = newRespond(r.Respond)
	case r.Static != nil:
		// Its open root is not closed on Retire: requests still running on
		// the old generation use it; the garbage collector closes it after.
		sh, err := static.New(r.Static)
		if err != nil {
			return nil, err
		}
		terminal = sh
	default:
		return nil, errors.New("no terminal (proxy, redirect, respond or static)")
	}
	layer, err := cacheLayer(g.cache, r)
	if err != nil {
		return nil, err
	}
	return middleware.Route(terminal, r, layer)
}

func (g *Generation) openAccessLog(cfg *config.AccessLog, shared Shared) error {
	if cfg == nil {
		return nil
	}
	var out io.Writer
	switch cfg.Path {
	case "", "stdout":
		out = shared.Stdout
		if out == nil {
			out = os.Stdout
		}
	case "stderr":
		out = os.Stderr
	default:
		f, err := os.OpenFile(cfg.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("access_log: %w", err)
		}
		out, g.ownLog = f, f
	}
	g.accessLog = middleware.NewAccessLog(out)
	return nil
}

// Handler is the entry point for requests of one listener.
func (g *Generation) Handler(listenerKey string) http.Handler {
	if h := g.handlers[listenerKey]; h != nil {
		return h
	}
	return dispatcher{table: g.table}
}

// Retire releases what the generation holds once it is no longer
// current. Requests still running on it finish: their connections are
// closed when returned instead of being pooled.
func (g *Generation) Retire() {
	for _, p := range g.pools {
		p.Close()
	}
	if g.accessLog != nil {
		g.accessLog.Close()
	}
	if g.ownLog != nil {
		g.ownLog.Close()
	}
}

// dispatcher cleans the path, finds the route and runs its chain.
type dispatcher struct {
	table    *Table
	listener string
}

func (d dispatcher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p == "" || p[0] != '/' {
		if r.Method == http.MethodOptions && r.RequestURI == "*" {
			w.Header().Set("Allow", "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		upstream.WriteStatus(w, http.StatusBadRequest)
		return
	}
	if !isClean(p) {
		// Dot segments and doubled slashes are resolved before matching,
		// so "/public/../admin" cannot slip past a rule for "/admin".
		p = cleanPath(p)
		r.URL.Path, r.URL.RawPath = p, ""
	}
	h := d.table.Lookup(d.listener, r.Host, p, r)
	if h == nil {
		upstream.WriteStatus(w, http.StatusNotFound)
		return
	}
	h.ServeHTTP(w, r)
}

func isClean(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		rest := p[i+1:]
		if strings.HasPrefix(rest, "/") || rest == "." || rest == ".." ||
			strings.HasPrefix(rest, "./") || strings.HasPrefix(rest, "../") {
			return false
		}
	}
	return true
}

func cleanPath(p string) string {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}
