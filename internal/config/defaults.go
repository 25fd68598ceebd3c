package config

import (
	"strconv"
	"time"
)

// Defaults, named so docs/config.md and the tests can be checked against
// one place. They follow DESIGN.md: bounded, and safe on the open internet.
const (
	DefaultAdminAddr            = "127.0.0.1:9901"
	DefaultMaxHeaderBytes       = 32 << 10
	DefaultMaxHeaderCount       = 100
	DefaultReadHeaderTimeout    = 10 * time.Second
	DefaultIdleTimeout          = 120 * time.Second
	DefaultReadIdleTimeout      = 60 * time.Second
	DefaultWriteIdleTimeout     = 60 * time.Second
	DefaultMaxConcurrentStreams = 100
	DefaultBalance              = "round_robin"
	DefaultProtocol             = "http1"
	DefaultConnectTimeout       = 3 * time.Second
	DefaultFirstByteTimeout     = 60 * time.Second
	// Go's http.Transport keeps 2 idle connections per host, which turns
	// every burst into new TCP handshakes.
	DefaultMaxIdleConns    = 64
	DefaultIdleConnTimeout = 90 * time.Second
	DefaultHealthInterval  = 5 * time.Second
	DefaultHealthTimeout   = 2 * time.Second
	DefaultRedirectStatus  = 302
	DefaultRespondStatus   = 200
	DefaultDrainTimeout    = 30 * time.Second
	DefaultAccessLogPath   = "stdout"
	DefaultAccessLogFormat = "json"
	DefaultBackendWeight   = 1
)

// Cache defaults (docs/cache.md).
const (
	DefaultCacheMemory       = 256 << 20
	DefaultCacheDiskMax      = 10 << 30
	DefaultCacheMaxObject    = 8 << 20
	DefaultCacheQuery        = "keep"
	DefaultRedisDialTimeout  = 500 * time.Millisecond
	DefaultRedisReadTimeout  = 250 * time.Millisecond
	DefaultRedisWriteTimeout = 250 * time.Millisecond
)

// ApplyDefaults replaces zero values with the documented defaults. It is
// idempotent, and Parse calls it before Validate, so a zero in a loaded
// Config never means "unset".
func ApplyDefaults(c *Config) {
	if c.Admin != nil && c.Admin.Addr == "" {
		c.Admin.Addr = DefaultAdminAddr
	}
	for i := range c.Listeners {
		c.Listeners[i].Limits.applyDefaults()
	}
	for name, u := range c.Upstreams {
		if u == nil {
			continue
		}
		if u.Name == "" {
			u.Name = name
		}
		u.applyDefaults()
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		if r.Name == "" {
			r.Name = "route[" + strconv.Itoa(i) + "]"
		}
		if r.Redirect != nil && r.Redirect.Status == 0 {
			r.Redirect.Status = DefaultRedirectStatus
		}
		if r.Respond != nil && r.Respond.Status == 0 {
			r.Respond.Status = DefaultRespondStatus
		}
		if r.ProxyUpstream != nil {
			r.ProxyUpstream.applyDefaults()
		}
		r.Cache.applyDefaults()
	}
	applyCacheDefaults(c)
	setDefault(&c.DrainTimeout, DefaultDrainTimeout)
	if c.AccessLog != nil {
		setDefault(&c.AccessLog.Path, DefaultAccessLogPath)
		setDefault(&c.AccessLog.Format, DefaultAccessLogFormat)
	}
}

func (l *Limits) applyDefaults() {
	setDefault(&l.MaxHeaderBytes, DefaultMaxHeaderBytes)
	setDefault(&l.MaxHeaderCount, DefaultMaxHeaderCount)
	setDefault(&l.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	setDefault(&l.IdleTimeout, DefaultIdleTimeout)
	setDefault(&l.ReadIdleTimeout, DefaultReadIdleTimeout)
	setDefault(&l.WriteIdleTimeout, DefaultWriteIdleTimeout)
	setDefault(&l.MaxConcurrentStreams, DefaultMaxConcurrentStreams)
}

func (u *Upstream) applyDefaults() {
	setDefault(&u.Balance, DefaultBalance)
	setDefault(&u.Protocol, DefaultProtocol)
	setDefault(&u.ConnectTimeout, DefaultConnectTimeout)
	setDefault(&u.FirstByteTimeout, DefaultFirstByteTimeout)
	setDefault(&u.MaxIdleConns, DefaultMaxIdleConns)
	setDefault(&u.IdleConnTimeout, DefaultIdleConnTimeout)
	for i := range u.Backends {
		setDefault(&u.Backends[i].Weight, DefaultBackendWeight)
	}
	if u.Health != nil {
		setDefault(&u.Health.Interval, DefaultHealthInterval)
		// A check must finish before the next one starts.
		setDefault(&u.Health.Timeout, min(DefaultHealthTimeout, u.Health.Interval))
	}
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
