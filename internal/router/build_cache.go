package router

import (
	"fmt"
	"net/http"

	"github.com/portico-proxy/portico/internal/cache"
	"github.com/portico-proxy/portico/internal/config"
)

// cacheLayer is the route's cache middleware over the process-wide cache,
// or nil when the route does not cache.
func cacheLayer(c *cache.Cache, r *config.Route) (func(http.Handler) http.Handler, error) {
	if r.Cache == nil {
		return nil, nil
	}
	if c == nil {
		return nil, fmt.Errorf("cache: no cache stores were built for this process")
	}
	// The route handler is validated once here, so building the chain
	// cannot fail later.
	if _, err := c.NewRoute(r.Cache, http.NotFoundHandler()); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	return func(next http.Handler) http.Handler {
		rt, _ := c.NewRoute(r.Cache, next)
		return rt
	}, nil
}
