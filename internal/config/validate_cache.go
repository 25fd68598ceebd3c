package config

import (
	"net/http"
	"slices"
	"strings"
)

var cacheQueryModes = []string{"keep", "sort", "ignore"}

// cacheStores checks the top-level cache and cluster keys.
func (v *validator) cacheStores() {
	if c := v.c.Cache; c != nil {
		if c.Memory < 0 {
			v.errorf("cache.memory", "must not be negative")
		}
		if dc := c.Disk; dc != nil {
			if dc.Path == "" {
				v.errorf("cache.disk.path", "required")
			}
			if dc.Max < 0 {
				v.errorf("cache.disk.max", "must not be negative")
			}
		}
	}
	if cl := v.c.Cluster; cl != nil && cl.Redis != nil {
		r := cl.Redis
		if r.Addr == "" {
			v.errorf("cluster.redis.addr", "required")
		} else if _, _, msg := splitAddr(r.Addr); msg != "" {
			v.errorf("cluster.redis.addr", "%s", msg)
		}
		v.nonNegative("cluster.redis.dial_timeout", r.DialTimeout)
		v.nonNegative("cluster.redis.read_timeout", r.ReadTimeout)
		v.nonNegative("cluster.redis.write_timeout", r.WriteTimeout)
	}
}

// routeCache checks a route's cache options.
func (v *validator) routeCache(path string, c *RouteCache) {
	if c == nil {
		return
	}
	v.nonNegative(path+".default_ttl", c.DefaultTTL)
	if c.MaxObject < 0 {
		v.errorf(path+".max_object", "must not be negative")
	}
	v.headerNames(path+".key.headers", c.Key.Headers)
	v.cookieNames(path+".key.cookies", c.Key.Cookies)
	if q := c.Key.Query; q != "" && !slices.Contains(cacheQueryModes, q) {
		v.errorf(path+".key.query", "unknown mode %q; use one of: %s", q, strings.Join(cacheQueryModes, ", "))
	}
	for i, p := range c.Key.IgnoreParams {
		if p == "" {
			v.errorf(indexPath(path+".key.ignore_params", i), "must not be empty")
		}
	}
	for i, p := range c.Bypass.Paths {
		v.urlPath(indexPath(path+".bypass.paths", i), p)
	}
	v.headerNames(path+".bypass.headers", c.Bypass.Headers)
	v.cookieNames(path+".bypass.cookies", c.Bypass.Cookies)
	if c.Purge != nil && len(c.Purge.Allow) == 0 {
		v.errorf(path+".purge.allow", "at least one network is required")
	}
}

func (v *validator) headerNames(path string, names []string) {
	for i, h := range names {
		if !isToken(h) {
			v.errorf(indexPath(path, i), "%q is not a valid header name", h)
		} else if http.CanonicalHeaderKey(h) == "Cookie" {
			v.errorf(indexPath(path, i), "use cookies to key on cookie values")
		}
	}
}

func (v *validator) cookieNames(path string, names []string) {
	for i, c := range names {
		if !isToken(c) {
			v.errorf(indexPath(path, i), "%q is not a valid cookie name", c)
		}
	}
}
