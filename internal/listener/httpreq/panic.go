package httpreq

import (
	"log/slog"
	"runtime/debug"
	"sync"
	"time"
)

// PanicLog logs handler panics with their stack: one record per panic, at
// most one per second, the count of those left out going with the next.
// The zero value is ready; Log is a no-op with a nil logger.
type PanicLog struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// Log records a panic v from the request of remote; msg names the engine.
func (p *PanicLog) Log(log *slog.Logger, msg, remote string, v any) {
	if log == nil {
		return
	}
	p.mu.Lock()
	now := time.Now()
	if now.Sub(p.last) < time.Second {
		p.suppressed++
		p.mu.Unlock()
		return
	}
	p.last = now
	suppressed := p.suppressed
	p.suppressed = 0
	p.mu.Unlock()
	log.Error(msg, "remote", remote, "panic", v, "suppressed", suppressed, "stack", string(debug.Stack()))
}
