// Package middleware owns the per-route middleware and the one place where
// their order is fixed (this file). Each middleware is a plain
// func(next http.Handler) http.Handler built from typed config; config can
// switch one on or off and set its parameters, never reorder them.
//
// It must not pick routes, talk to backends or read config files.
package middleware

import (
	"net/http"

	"github.com/portico-proxy/portico/internal/config"
)

// The order of a route's chain, outermost first, and why:
//
//	ipfilter   cheapest rejection: a denied client costs one prefix lookup
//	ratelimit  before any work is spent on a request that will be refused
//	hsts       Strict-Transport-Security on TLS responses; outside headers so
//	           a route's response edits can still remove or replace it
//	headers    request edits must be done before cache keys and upstreams
//	           see the request; response edits apply to every answer,
//	           cached or not
//	compress   wraps cache, so the cache stores what the upstream sent and
//	           compressed variants follow Vary
//	cache      next to the terminal it stands in for
//	terminal   proxy | static | aggregate | redirect | respond
//
// Around every route, per generation (see router.Generation): request ID,
// then the access log, so that the log line carries the ID and sees the
// final status of everything inside.
//
// ipfilter and ratelimit arrive in later releases; their places are kept
// here. The cache layer is built by package cache, because it holds the
// process-wide stores; it is handed in here so the order stays in this
// one place.

// Route builds the middleware chain of one route around its terminal.
// cache is the route's cache layer, nil when the route has none.
func Route(terminal http.Handler, r *config.Route, cache func(http.Handler) http.Handler) (http.Handler, error) {
	h := terminal
	if cache != nil {
		h = cache(h)
	}
	if r.Compress != nil {
		var err error
		if h, err = Compress(r.Compress, h); err != nil {
			return nil, err
		}
	}
	if r.Headers != nil {
		var err error
		if h, err = Headers(r.Headers, h); err != nil {
			return nil, err
		}
	}
	if r.HSTS != nil {
		h = HSTS(r.HSTS, h)
	}
	return h, nil
}
