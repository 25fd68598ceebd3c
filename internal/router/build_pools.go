package router

import (
	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/upstream"
)

// newPool turns a validated upstream into a pool. drains carries the
// draining marks over from the previous generation.
func newPool(u *config.Upstream, drains *upstream.DrainSet) (*upstream.Pool, error) {
	o := upstream.PoolOptions{
		Balance:           u.Balance,
		HashKey:           u.HashKey,
		StickyCookie:      u.StickyCookie,
		Retries:           u.Retries,
		RetryOn:           u.RetryOn,
		RetryBudget:       u.RetryBudget,
		TryTimeout:        u.TryTimeout,
		ReplayBody:        u.ReplayBody,
		MaxConns:          u.MaxConns,
		MaxPending:        u.MaxPending,
		SlowStart:         u.SlowStart,
		Resolve:           u.Resolve,
		Drains:            drains,
		H2C:               u.Protocol == "h2c",
		ConnectTimeout:    u.ConnectTimeout,
		FirstByteTimeout:  u.FirstByteTimeout,
		MaxIdleConns:      u.MaxIdleConns,
		IdleConnTimeout:   u.IdleConnTimeout,
		TunnelIdleTimeout: u.TunnelIdleTimeout,
	}
	if e := u.Eject; e != nil {
		o.Eject = upstream.EjectOptions{Off: e.Off, Failures: e.Failures, Duration: e.Duration,
			MaxDuration: e.MaxDuration, MaxPercent: e.MaxPercent}
	}
	if h := u.Health; h != nil {
		o.Health = &upstream.HealthOptions{Path: h.Path, Interval: h.Interval, Timeout: h.Timeout,
			Rise: h.Rise, Fall: h.Fall}
		if h.Status != "" {
			// Validate has checked the range.
			o.Health.StatusMin, o.Health.StatusMax, _ = config.ParseStatusRange(h.Status)
		}
	}
	if t := u.TLS; t != nil {
		o.TLS = &upstream.TLSOptions{CA: t.CA, ServerName: t.ServerName, Cert: t.Cert, Key: t.Key,
			InsecureSkipVerify: t.InsecureSkipVerify}
	}
	for _, b := range u.Backends {
		o.Backends = append(o.Backends, upstream.BackendOptions{URL: b.URL, Weight: b.Weight})
	}
	return upstream.NewPool(u.Name, o)
}

// Pools lists the generation's pools, named ones in file order, then
// the one-backend pools of inline proxy URLs: what the admin API shows
// and where it sets draining marks.
func (g *Generation) Pools() []*upstream.Pool { return g.pools }
