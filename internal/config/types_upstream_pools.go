package config

import "time"

// PoolPolicy is how a pool balances, checks and limits its backends
// beyond the basic keys. Zero values take the defaults in defaults.go.
type PoolPolicy struct {
	// StickyCookie names the session cookie of balance sticky; default
	// "portico_backend".
	StickyCookie string
	// RetryOn says which failures of an idempotent request are retried:
	// "error", "timeout", "5xx" or a status from 500 to 599. Default
	// [error, timeout]. Connection failures are always retried.
	RetryOn []string
	// RetryBudget is the most retries may be, as a percentage of
	// requests; default 20.
	RetryBudget int
	TryTimeout  time.Duration // one attempt, to the response head; 0 = none (default)
	ReplayBody  int64         // largest request body kept for a retry; default 64KiB
	MaxConns    int           // requests in flight per backend; default 1024
	MaxPending  int           // requests in flight in the pool; default 4096
	Eject       *Eject        // passive health checks; nil = defaults
	SlowStart   time.Duration // ramp window for new and recovered backends; 0 = off (default)
	Resolve     time.Duration // re-resolve interval for host names and SRV; default 30s
}

// Eject configures passive health checks (outlier detection). In YAML
// `eject: false` turns them off.
type Eject struct {
	Off         bool
	Failures    int           // failures in a row; default 5
	Duration    time.Duration // first ejection; default 30s, times the ejections in a row
	MaxDuration time.Duration // default 5m
	MaxPercent  int           // most of a pool ejected at once, in percent; default 50
	Pos         Pos
}
