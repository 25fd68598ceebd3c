package config

import "time"

// CacheStores is the top-level `cache` key: where cached responses live,
// for every route that has `cache`. The stores are built once per process
// and survive reloads; changing them needs a restart.
type CacheStores struct {
	Memory int64      // memory budget in bytes; default 256MiB
	Disk   *DiskCache // nil = no disk tier (default)
	Pos    Pos
}

// DiskCache is a cache tier in a directory that survives restarts.
type DiskCache struct {
	Path string // required
	Max  int64  // bytes; default 10GiB
	Pos  Pos
}

// Cluster is state shared by several Portico instances.
type Cluster struct {
	Redis *Redis
}

// Redis is a Redis server shared by instances: the cache uses it as a
// shared tier and to spread purges. Redis being down degrades to local
// state, never to errors for clients. In YAML a plain string is Addr.
type Redis struct {
	Addr     string // host:port, required
	Password string
	DB       int
	// Timeouts are short on purpose: a slow Redis must not slow requests.
	DialTimeout  time.Duration // default 500ms
	ReadTimeout  time.Duration // default 250ms
	WriteTimeout time.Duration // default 250ms
	Pos          Pos
}

// RouteCache turns the cache on for a route. In YAML `cache: true` (or
// `cache: {}`) means every default.
type RouteCache struct {
	// DefaultTTL is the freshness lifetime of a 200 response whose origin
	// gave no max-age, s-maxage or Expires. 0 (default) = off: only the
	// origin's headers and the Last-Modified heuristic decide.
	DefaultTTL time.Duration
	// MaxObject is the largest body stored; bigger responses pass through
	// uncached. Default 8MiB.
	MaxObject int64
	Key       CacheKey
	Bypass    CacheBypass
	Purge     *CachePurge // nil = the PURGE method is not handled by the cache
	Pos       Pos
}

// CacheKey lists what is added to (or dropped from) the default cache key,
// which is host, path and query as sent.
type CacheKey struct {
	Headers []string // request headers whose values join the key
	Cookies []string // cookie names whose values join the key
	// Query is "keep" (default: the query as sent), "sort" (parameters
	// sorted, so order does not matter) or "ignore" (no query in the key).
	Query string
	// IgnoreParams are query parameters left out of the key, such as
	// utm_source.
	IgnoreParams []string
}

// CacheBypass lists requests that never use the cache: they go to the
// upstream and their responses are not stored.
type CacheBypass struct {
	Paths   []string // path prefixes
	Headers []string // present request headers
	Cookies []string // present cookies, e.g. a session cookie
}

// CachePurge allows the PURGE method on the route from the listed
// networks. In YAML a list is Allow.
type CachePurge struct {
	Allow []Prefix
	Pos   Pos
}
