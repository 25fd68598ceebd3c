package upstream

import (
	"bufio"
	"context"
	"net"
	"sync"
	"time"

	"github.com/portico-proxy/portico/internal/config"
)

// HealthOptions configure active health checks: every Interval each
// backend gets a GET Path; an answer within Timeout with a status from
// StatusMin to StatusMax passes. Fall failures in a row take a backend
// out, Rise passes in a row bring it back (with slow start, when set).
// Backends start healthy, so a new pool serves at once.
type HealthOptions struct {
	Path      string
	Interval  time.Duration // zero: config.DefaultHealthInterval
	Timeout   time.Duration // zero: config.DefaultHealthTimeout
	StatusMin int           // zero: 200
	StatusMax int           // zero: 399
	Rise      int           // zero: config.DefaultHealthRise
	Fall      int           // zero: config.DefaultHealthFall
}

// healthChecker runs the checks of one pool until stopped.
type healthChecker struct {
	opts   HealthOptions
	dialer *net.Dialer
	stop   context.CancelFunc
	done   sync.WaitGroup
}

func (p *Pool) startHealth(o HealthOptions) {
	hc := p.newHealthChecker(o)
	ctx, cancel := context.WithCancel(context.Background())
	hc.stop = cancel
	p.health = hc
	hc.done.Add(1)
	go func() {
		defer hc.done.Done()
		t := time.NewTicker(hc.opts.Interval)
		defer t.Stop()
		for {
			p.checkAll(ctx, hc)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

func (p *Pool) newHealthChecker(o HealthOptions) *healthChecker {
	setZero(&o.Interval, config.DefaultHealthInterval)
	if o.Timeout <= 0 || o.Timeout > o.Interval {
		o.Timeout = min(config.DefaultHealthTimeout, o.Interval)
	}
	lo, hi := config.DefaultHealthStatus()
	setZero(&o.StatusMin, lo)
	setZero(&o.StatusMax, hi)
	setZero(&o.Rise, config.DefaultHealthRise)
	setZero(&o.Fall, config.DefaultHealthFall)
	return &healthChecker{opts: o, dialer: &net.Dialer{Timeout: o.Timeout}, stop: func() {}}
}

func (hc *healthChecker) close() {
	hc.stop()
	hc.done.Wait()
}

// checkAll checks every backend of the current set once, in parallel,
// and applies the rise and fall thresholds.
func (p *Pool) checkAll(ctx context.Context, hc *healthChecker) {
	var wg sync.WaitGroup
	for _, b := range p.set.Load().all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.recordCheck(b, hc.check(ctx, b), &hc.opts)
		}()
	}
	wg.Wait()
}

// recordCheck applies one check result. Only the checker goroutine of a
// backend calls it, so the run counters need no lock.
func (p *Pool) recordCheck(b *Backend, ok bool, o *HealthOptions) {
	if ok {
		b.okRun, b.failRun = b.okRun+1, 0
		if b.down.Load() && b.okRun >= o.Rise {
			b.rampFrom.Store(p.now().UnixNano())
			b.down.Store(false)
		}
		return
	}
	b.okRun, b.failRun = 0, b.failRun+1
	if !b.down.Load() && b.failRun >= o.Fall {
		b.down.Store(true)
	}
}

// check sends one request over a plain connection of its own, with the
// same dialler and response parser as traffic, so a check never competes
// with traffic for a pooled connection.
func (hc *healthChecker) check(ctx context.Context, b *Backend) bool {
	ctx, cancel := context.WithTimeout(ctx, hc.opts.Timeout)
	defer cancel()
	c, err := hc.dialer.DialContext(ctx, "tcp", b.addr)
	if err == nil && b.conns.tls != nil {
		c, err = startTLS(ctx, c, b.conns.tls)
	}
	if err != nil {
		return false
	}
	defer c.Close()
	// Closing the pool cancels ctx: the connection is closed at once
	// rather than left to the deadline, so Close does not wait on it.
	defer context.AfterFunc(ctx, func() { c.Close() })()
	deadline, _ := ctx.Deadline()
	_ = c.SetDeadline(deadline)
	bw := bufio.NewWriter(c)
	bw.WriteString("GET " + b.basePath + hc.opts.Path + " HTTP/1.1\r\nHost: " + b.host +
		"\r\nUser-Agent: portico-health-check\r\nConnection: close\r\n\r\n")
	if bw.Flush() != nil {
		return false
	}
	var head responseHead
	br := bufio.NewReaderSize(c, readBufSize)
	for {
		if readResponseHead(br, &head) != nil {
			return false
		}
		// Interim answers (100 Continue, 103 Early Hints) are skipped, as
		// traffic skips them: the final one is judged.
		if head.status >= 200 || head.status == 101 {
			break
		}
	}
	return head.status >= hc.opts.StatusMin && head.status <= hc.opts.StatusMax
}
