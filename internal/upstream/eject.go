package upstream

import (
	"time"

	"github.com/portico-proxy/portico/internal/config"
)

// EjectOptions configure passive health checks (outlier detection, as
// Envoy does it): a backend whose exchanges fail Failures times in a row
// (connection failures, timeouts, 5xx answers) gets no traffic for
// Duration times the number of its ejections in a row, up to MaxDuration. At most MaxPercent of a pool is ejected at once,
// so a pool-wide outage does not eject every backend.
type EjectOptions struct {
	Off         bool
	Failures    int           // 0: config.DefaultEjectFailures
	Duration    time.Duration // 0: config.DefaultEjectDuration
	MaxDuration time.Duration // 0: config.DefaultEjectMaxDuration
	MaxPercent  int           // 0: config.DefaultEjectMaxPercent
}

type ejectRules struct {
	failures   int32 // 0: passive checks off
	base, max  int64 // nanoseconds
	maxPercent int
}

func newEjectRules(o EjectOptions) ejectRules {
	if o.Off {
		return ejectRules{}
	}
	setZero(&o.Failures, config.DefaultEjectFailures)
	setZero(&o.Duration, config.DefaultEjectDuration)
	setZero(&o.MaxDuration, config.DefaultEjectMaxDuration)
	setZero(&o.MaxPercent, config.DefaultEjectMaxPercent)
	return ejectRules{failures: int32(o.Failures), base: int64(o.Duration),
		max: int64(max(o.MaxDuration, o.Duration)), maxPercent: o.MaxPercent}
}

// observe records the outcome of one exchange with b at now (unix
// nanoseconds). A success clears the run of failures; a backend that has
// stayed in since its last ejection for MaxDuration is forgiven its
// earlier ejections, so the backoff starts from the bottom again.
func (p *Pool) observe(b *Backend, ok bool, now int64) {
	r := &p.eject
	if r.failures == 0 {
		return
	}
	if ok {
		if b.fails.Load() != 0 {
			b.fails.Store(0)
		}
		if b.ejections.Load() != 0 && now-b.ejectedUntil.Load() > r.max {
			b.ejections.Store(0)
		}
		return
	}
	if b.fails.Add(1) < r.failures {
		return
	}
	p.ejectMu.Lock()
	defer p.ejectMu.Unlock()
	if u := b.ejectedUntil.Load(); u > now || b.fails.Load() < r.failures {
		return // ejected meanwhile by a racing failure
	}
	s := p.set.Load()
	if (p.ejectedCount(s, now)+1)*100 > len(s.all)*r.maxPercent {
		return // the cap: keep serving from a failing pool rather than none
	}
	n := b.ejections.Add(1)
	d := min(r.base*int64(n), r.max)
	b.ejectedUntil.Store(now + d)
	b.rampFrom.Store(now + d)
	b.fails.Store(0)
}

func (p *Pool) ejectedCount(s *Set, now int64) int {
	n := 0
	for _, b := range s.all {
		if b.ejectedUntil.Load() > now {
			n++
		}
	}
	return n
}
