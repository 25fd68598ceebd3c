package config

import "github.com/goccy/go-yaml/ast"

// decodeCacheStores takes false as "no cache key": the memory defaults.
func decodeCacheStores(d *decoder, n ast.Node, path string) *CacheStores {
	if d.isFalse(n, path) {
		return nil
	}
	c := new(CacheStores)
	c.decode(d, n, path)
	return c
}

// decodeCluster takes false as no shared state.
func decodeCluster(d *decoder, n ast.Node, path string) *Cluster {
	if d.isFalse(n, path) {
		return nil
	}
	c := new(Cluster)
	c.decode(d, n, path)
	return c
}

// isFalse reports a plain `false`, the explicit "off".
func (d *decoder) isFalse(n ast.Node, path string) bool {
	v, ok := d.value(n, path)
	b, isBool := v.(*ast.BoolNode)
	return ok && isBool && !b.Value
}

func (c *CacheStores) decode(d *decoder, n ast.Node, path string) {
	c.Pos = d.at(path)
	d.mapping(n, path, []field{
		{"memory", func(n ast.Node, p string) { c.Memory = d.size(n, p) }},
		{"disk", func(n ast.Node, p string) { c.Disk = new(DiskCache); c.Disk.decode(d, n, p) }},
	})
}

// decode takes a plain string as the path.
func (c *DiskCache) decode(d *decoder, n ast.Node, path string) {
	c.Pos = d.at(path)
	d.shorthand(n, path, "a path", "path", []field{
		{"path", func(n ast.Node, p string) { c.Path = d.str(n, p) }},
		{"max", func(n ast.Node, p string) { c.Max = d.size(n, p) }},
	})
}

func (c *Cluster) decode(d *decoder, n ast.Node, path string) {
	d.mapping(n, path, []field{
		{"redis", func(n ast.Node, p string) { c.Redis = new(Redis); c.Redis.decode(d, n, p) }},
	})
}

// decode takes a plain string as the address.
func (r *Redis) decode(d *decoder, n ast.Node, path string) {
	r.Pos = d.at(path)
	d.shorthand(n, path, "an address", "addr", []field{
		{"addr", func(n ast.Node, p string) { r.Addr = d.str(n, p) }},
		{"password", func(n ast.Node, p string) { r.Password = d.str(n, p) }},
		{"db", func(n ast.Node, p string) { r.DB = d.integer(n, p, 0) }},
		{"dial_timeout", func(n ast.Node, p string) { r.DialTimeout = d.duration(n, p) }},
		{"read_timeout", func(n ast.Node, p string) { r.ReadTimeout = d.duration(n, p) }},
		{"write_timeout", func(n ast.Node, p string) { r.WriteTimeout = d.duration(n, p) }},
	})
}

// decodeRouteCache takes true as every default and false as off.
func decodeRouteCache(d *decoder, n ast.Node, path string) *RouteCache {
	c := &RouteCache{Pos: d.at(path)}
	if on, _ := d.toggle(n, path, []field{
		{"default_ttl", func(n ast.Node, p string) { c.DefaultTTL = d.duration(n, p) }},
		{"max_object", func(n ast.Node, p string) { c.MaxObject = d.size(n, p) }},
		{"key", func(n ast.Node, p string) { c.Key.decode(d, n, p) }},
		{"bypass", func(n ast.Node, p string) { c.Bypass.decode(d, n, p) }},
		{"purge", func(n ast.Node, p string) { c.Purge = new(CachePurge); c.Purge.decode(d, n, p) }},
	}); !on {
		return nil
	}
	return c
}

func (k *CacheKey) decode(d *decoder, n ast.Node, path string) {
	d.mapping(n, path, []field{
		{"headers", func(n ast.Node, p string) { k.Headers = d.strList(n, p) }},
		{"cookies", func(n ast.Node, p string) { k.Cookies = d.strList(n, p) }},
		{"query", func(n ast.Node, p string) { k.Query = d.str(n, p) }},
		{"ignore_params", func(n ast.Node, p string) { k.IgnoreParams = d.strList(n, p) }},
	})
}

func (b *CacheBypass) decode(d *decoder, n ast.Node, path string) {
	d.mapping(n, path, []field{
		{"paths", func(n ast.Node, p string) { b.Paths = d.strList(n, p) }},
		{"headers", func(n ast.Node, p string) { b.Headers = d.strList(n, p) }},
		{"cookies", func(n ast.Node, p string) { b.Cookies = d.strList(n, p) }},
	})
}

// decode takes a list (or one network) as allow.
func (c *CachePurge) decode(d *decoder, n ast.Node, path string) {
	c.Pos = d.at(path)
	v, ok := d.value(n, path)
	if !ok {
		return
	}
	if _, isMap := v.(*ast.MappingNode); !isMap && !isNull(v) {
		c.Allow = d.prefixes(n, keyPath(path, "allow"))
		return
	}
	d.mapping(n, path, []field{
		{"allow", func(n ast.Node, p string) { c.Allow = d.prefixes(n, p) }},
	})
}
