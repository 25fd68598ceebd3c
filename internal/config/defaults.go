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
	// DefaultBalance is the policy of pools with fewer than
	// DefaultP2CFrom backends; from there on it is p2c (DefaultBalanceFor).
	DefaultBalance          = "round_robin"
	DefaultProtocol         = "http1"
	DefaultConnectTimeout   = 3 * time.Second
	DefaultFirstByteTimeout = 60 * time.Second
	// DefaultTunnelIdleTimeout is long: WebSocket applications that ping
	// at all ping far more often, and a silent hour is a forgotten tab.
	DefaultTunnelIdleTimeout = time.Hour
	// Go's http.Transport keeps 2 idle connections per host, which turns
	// every burst into new TCP handshakes. 256 covers what a few HTTP/2
	// clients with 100 streams each keep in flight (with 64, 160 streams
	// in flight cost a new connection for one request in 40); an idle
	// connection holds 24 KiB of buffers and is closed after
	// idle_conn_timeout.
	DefaultMaxIdleConns    = 256
	DefaultIdleConnTimeout = 90 * time.Second
	DefaultHealthInterval  = 5 * time.Second
	DefaultHealthTimeout   = 2 * time.Second
	DefaultRedirectStatus  = 302
	DefaultRespondStatus   = 200
	DefaultDrainTimeout    = 30 * time.Second
	// MaxWorkers bounds `workers`: more processes than a large machine
	// has cores only multiply per-process state (caches, pools, probes).
	MaxWorkers             = 64
	DefaultAccessLogPath   = "stdout"
	DefaultAccessLogFormat = "json"
	DefaultBackendWeight   = 1

	// Pools (docs/upstreams.md).
	DefaultP2CFrom          = 3
	DefaultHashKey          = "ip"
	DefaultStickyCookie     = "portico_backend"
	DefaultHealthRise       = 2
	DefaultHealthFall       = 3
	DefaultHealthStatusText = "200-399"
	DefaultRetryBudget      = 20 // percent of requests
	DefaultReplayBody       = 64 << 10
	DefaultMaxConns         = 1024 // per backend
	DefaultMaxPending       = 4096 // per pool
	DefaultEjectFailures    = 5
	DefaultEjectDuration    = 30 * time.Second
	DefaultEjectMaxDuration = 5 * time.Minute
	DefaultEjectMaxPercent  = 50
	DefaultResolveInterval  = 30 * time.Second
)

// DefaultRetryOn is what an idempotent request is retried on when
// retry_on is not set: a broken connection or a timeout, not a status.
var DefaultRetryOn = []string{"error", "timeout"}

// DefaultBalanceFor is the policy of a pool of n backends without a
// balance key: p2c once there are enough backends for two choices to
// matter, round_robin below.
func DefaultBalanceFor(n int) string {
	if n >= DefaultP2CFrom {
		return "p2c"
	}
	return DefaultBalance
}

// DefaultHealthStatus is the passing status range of health checks.
func DefaultHealthStatus() (lo, hi int) { return 200, 399 }

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
		c.Listeners[i].applyTLSDefaults()
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
		if r.HSTS != nil {
			setDefault(&r.HSTS.MaxAge, DefaultHSTSMaxAge)
		}
		if r.ProxyUpstream != nil {
			r.ProxyUpstream.applyDefaults()
		}
		r.Static.applyDefaults()
		r.Compress.applyDefaults()
		r.Cache.applyDefaults()
	}
	applyCacheDefaults(c)
	setDefault(&c.DrainTimeout, DefaultDrainTimeout)
	setDefault(&c.Workers, 1)
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
	setDefault(&u.Balance, DefaultBalanceFor(len(u.Backends)))
	switch u.Balance {
	case "hash":
		setDefault(&u.HashKey, DefaultHashKey)
	case "sticky":
		setDefault(&u.StickyCookie, DefaultStickyCookie)
	}
	if u.RetryOn == nil {
		u.RetryOn = append([]string(nil), DefaultRetryOn...)
	}
	setDefault(&u.RetryBudget, DefaultRetryBudget)
	setDefault(&u.ReplayBody, DefaultReplayBody)
	setDefault(&u.MaxConns, DefaultMaxConns)
	setDefault(&u.MaxPending, DefaultMaxPending)
	setDefault(&u.Resolve, DefaultResolveInterval)
	if e := u.Eject; e != nil && !e.Off {
		setDefault(&e.Failures, DefaultEjectFailures)
		setDefault(&e.Duration, DefaultEjectDuration)
		setDefault(&e.MaxDuration, max(DefaultEjectMaxDuration, e.Duration))
		setDefault(&e.MaxPercent, DefaultEjectMaxPercent)
	}
	setDefault(&u.Protocol, DefaultProtocol)
	setDefault(&u.ConnectTimeout, DefaultConnectTimeout)
	setDefault(&u.FirstByteTimeout, DefaultFirstByteTimeout)
	setDefault(&u.MaxIdleConns, DefaultMaxIdleConns)
	setDefault(&u.IdleConnTimeout, DefaultIdleConnTimeout)
	setDefault(&u.TunnelIdleTimeout, DefaultTunnelIdleTimeout)
	for i := range u.Backends {
		setDefault(&u.Backends[i].Weight, DefaultBackendWeight)
	}
	if u.Health != nil {
		setDefault(&u.Health.Interval, DefaultHealthInterval)
		// A check must finish before the next one starts.
		setDefault(&u.Health.Timeout, min(DefaultHealthTimeout, u.Health.Interval))
		setDefault(&u.Health.Status, DefaultHealthStatusText)
		setDefault(&u.Health.Rise, DefaultHealthRise)
		setDefault(&u.Health.Fall, DefaultHealthFall)
	}
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
