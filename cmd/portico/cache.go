package main

import (
	"log/slog"

	"github.com/portico-proxy/portico/internal/cache"
	"github.com/portico-proxy/portico/internal/cache/diskstore"
	"github.com/portico-proxy/portico/internal/cache/memstore"
	"github.com/portico-proxy/portico/internal/cache/redisstore"
	"github.com/portico-proxy/portico/internal/config"
)

// newCache builds the process-wide cache from the top-level cache and
// cluster keys. It is built once, before the first generation, and every
// generation's routes use it, so a reload keeps what is cached. A disk
// directory that cannot be used leaves a memory-only cache, logged; a
// Redis that is down is only a missing shared tier.
func newCache(cfg *config.Config, log *slog.Logger) (*cache.Cache, error) {
	cs := cfg.Cache
	if cs == nil {
		cs = &config.CacheStores{Memory: config.DefaultCacheMemory}
	}
	o := cache.Options{Memory: memstore.New(cs.Memory), Log: log}
	if d := cs.Disk; d != nil {
		ds, err := diskstore.Open(d.Path, d.Max)
		if err != nil {
			log.Warn("disk cache unavailable; caching in memory only", "err", err.Error())
		} else {
			o.Disk = ds
		}
	}
	if cfg.Cluster != nil && cfg.Cluster.Redis != nil {
		redisstore.QuietClientLog()
		r := cfg.Cluster.Redis
		rs := redisstore.New(redisstore.Options{Addr: r.Addr, Password: r.Password, DB: r.DB,
			DialTimeout: r.DialTimeout, ReadTimeout: r.ReadTimeout, WriteTimeout: r.WriteTimeout})
		o.Shared, o.Bus = rs, rs
	}
	return cache.New(o)
}

// cacheChanged describes a change to the cache stores, which a reload
// cannot apply: the stores outlive generations.
func cacheChanged(a, b *config.Config) string {
	x, y := a.Cache, b.Cache
	switch {
	case (x == nil) != (y == nil):
		return "cache"
	case x != nil && (x.Memory != y.Memory || (x.Disk == nil) != (y.Disk == nil)):
		return "cache"
	case x != nil && x.Disk != nil && (x.Disk.Path != y.Disk.Path || x.Disk.Max != y.Disk.Max):
		return "cache.disk"
	}
	ra, rb := redisOf(a), redisOf(b)
	if (ra == nil) != (rb == nil) || ra != nil && *ra != *rb {
		return "cluster.redis"
	}
	return ""
}

func redisOf(c *config.Config) *config.Redis {
	if c.Cluster == nil || c.Cluster.Redis == nil {
		return nil
	}
	r := *c.Cluster.Redis
	r.Pos = config.Pos{}
	return &r
}
