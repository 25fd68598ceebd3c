package upstream

import "time"

// PoolState is a pool's live state for the admin API, as JSON.
type PoolState struct {
	Name     string         `json:"name"`
	Policy   string         `json:"policy"`
	Pending  int64          `json:"pending"` // requests in flight in the pool
	Backends []BackendState `json:"backends"`
}

// BackendState is one backend's live state.
type BackendState struct {
	URL      string `json:"url"`  // as written in the config
	Addr     string `json:"addr"` // what is dialled
	Weight   int    `json:"weight"`
	Healthy  bool   `json:"healthy"` // passes active checks (always true without them)
	Draining bool   `json:"draining"`
	// EjectedUntil is set while passive checks keep the backend out.
	EjectedUntil        *time.Time `json:"ejected_until,omitempty"`
	Ejections           int        `json:"ejections"` // in a row, for the backoff
	InFlight            int64      `json:"in_flight"`
	LatencyEWMAms       float64    `json:"latency_ewma_ms"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	// EffectiveWeight is the weight scaled by slow start: below Weight
	// while the backend ramps up.
	EffectiveWeight float64 `json:"effective_weight"`
}

// State reads the pool's live state. It is a snapshot: every value is
// read atomically, but not all at the same instant.
func (p *Pool) State() PoolState {
	now := p.now()
	nowNS := now.UnixNano()
	s := p.set.Load()
	st := PoolState{Name: p.name, Policy: p.balance, Pending: p.pending.Load(),
		Backends: make([]BackendState, 0, len(s.all))}
	for _, b := range s.all {
		bs := BackendState{
			URL: b.url, Addr: b.addr, Weight: b.weight,
			Healthy:             !b.down.Load(),
			Draining:            b.draining.Load(),
			Ejections:           int(b.ejections.Load()),
			InFlight:            b.inflight.Load(),
			LatencyEWMAms:       float64(b.ewma.Load()) / 1e6,
			ConsecutiveFailures: int(b.fails.Load()),
			EffectiveWeight:     float64(b.weight) * s.share(b, nowNS),
		}
		if u := b.ejectedUntil.Load(); u > nowNS {
			t := time.Unix(0, u).UTC()
			bs.EjectedUntil = &t
		}
		st.Backends = append(st.Backends, bs)
	}
	return st
}
