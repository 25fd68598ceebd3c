package upstream

import (
	"io"
	"sync/atomic"
	"time"
)

// idleGuard ends a tunnel that has moved no bytes either way for idle
// (tunnel_idle_timeout). Only reads count: a side that stops reading
// stalls the copy towards it, and then no more reads come from the other
// side either. A guard costs a timer per tunnel and an atomic store per
// read, and no deadline is moved while bytes flow.
type idleGuard struct {
	idle    time.Duration
	last    atomic.Int64 // sinceIdleEpoch of the last read that brought bytes
	fired   atomic.Bool
	stopped atomic.Bool
	timer   *time.Timer
	end     func()
}

var idleEpoch = time.Now()

func sinceIdleEpoch() int64 { return int64(time.Since(idleEpoch)) }

// startIdleGuard calls end (once, on the timer's goroutine) when no read
// through the guard's readers brought bytes for idle.
func startIdleGuard(idle time.Duration, end func()) *idleGuard {
	g := &idleGuard{idle: idle, end: end}
	g.last.Store(sinceIdleEpoch())
	g.timer = time.AfterFunc(idle, g.check)
	return g
}

func (g *idleGuard) check() {
	if g.stopped.Load() {
		return
	}
	quiet := time.Duration(sinceIdleEpoch() - g.last.Load())
	if quiet < g.idle {
		g.timer.Reset(g.idle - quiet)
		return
	}
	g.fired.Store(true)
	g.end()
}

// stop ends the watch; the tunnel is over.
func (g *idleGuard) stop() {
	g.stopped.Store(true)
	g.timer.Stop()
}

// reader returns src with every read that brings bytes counted.
func (g *idleGuard) reader(src io.Reader) io.Reader { return &activeReader{r: src, g: g} }

type activeReader struct {
	r io.Reader
	g *idleGuard
}

func (a *activeReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if n > 0 {
		a.g.last.Store(sinceIdleEpoch())
	}
	return n, err
}
