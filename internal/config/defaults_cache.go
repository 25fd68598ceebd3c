package config

// applyCacheDefaults fills the cache stores and the Redis timeouts. A
// config without a cache key gets the memory defaults too, so a route's
// `cache: true` works on its own.
func applyCacheDefaults(c *Config) {
	if c.Cache == nil {
		c.Cache = &CacheStores{}
	}
	setDefault(&c.Cache.Memory, DefaultCacheMemory)
	if d := c.Cache.Disk; d != nil {
		setDefault(&d.Max, DefaultCacheDiskMax)
	}
	if c.Cluster != nil && c.Cluster.Redis != nil {
		r := c.Cluster.Redis
		setDefault(&r.DialTimeout, DefaultRedisDialTimeout)
		setDefault(&r.ReadTimeout, DefaultRedisReadTimeout)
		setDefault(&r.WriteTimeout, DefaultRedisWriteTimeout)
	}
}

func (c *RouteCache) applyDefaults() {
	if c == nil {
		return
	}
	setDefault(&c.MaxObject, DefaultCacheMaxObject)
	setDefault(&c.Key.Query, DefaultCacheQuery)
}
