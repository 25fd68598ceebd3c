package upstream

import (
	"bufio"
	"context"
	"github.com/portico-proxy/portico/internal/config"
	"net"
	"sync"
	"time"
)

// HealthOptions configure active health checks: every Interval each
// backend gets a GET Path on a fresh connection; a 2xx or 3xx within
// Timeout marks it healthy, anything else unhealthy. Unhealthy backends
// get no traffic until a check passes again.
type HealthOptions struct {
	Path     string
	Interval time.Duration // zero: config.DefaultHealthInterval
	Timeout  time.Duration // zero: config.DefaultHealthTimeout
}

// healthChecker runs the checks of one pool until stopped.
type healthChecker struct {
	opts   HealthOptions
	dialer *net.Dialer
	stop   context.CancelFunc
	done   sync.WaitGroup
}

func (p *Pool) startHealth(o HealthOptions) {
	if o.Interval <= 0 {
		o.Interval = config.DefaultHealthInterval
	}
	if o.Timeout <= 0 || o.Timeout > o.Interval {
		o.Timeout = min(config.DefaultHealthTimeout, o.Interval)
	}
	ctx, cancel := context.WithCancel(context.Background())
	hc := &healthChecker{opts: o, dialer: &net.Dialer{Timeout: o.Timeout}, stop: cancel}
	p.health = hc
	hc.done.Add(1)
	go func() {
		defer hc.done.Done()
		t := time.NewTicker(o.Interval)
		defer t.Stop()
		for {
			hc.checkAll(ctx, p.backends)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

func (hc *healthChecker) close() {
	hc.stop()
	hc.done.Wait()
}

func (hc *healthChecker) checkAll(ctx context.Context, backends []*Backend) {
	var wg sync.WaitGroup
	for _, b := range backends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.down.Store(!hc.check(ctx, b))
		}()
	}
	wg.Wait()
}

// check sends one request over a plain connection of its own, so a check
// never competes with traffic for a pooled connection.
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
	deadline, _ := ctx.Deadline()
	_ = c.SetDeadline(deadline)
	bw := bufio.NewWriter(c)
	bw.WriteString("GET " + b.basePath + hc.opts.Path + " HTTP/1.1\r\nHost: " + b.addr +
		"\r\nUser-Agent: portico-health-check\r\nConnection: close\r\n\r\n")
	if bw.Flush() != nil {
		return false
	}
	var head responseHead
	if readResponseHead(bufio.NewReaderSize(c, readBufSize), &head) != nil {
		return false
	}
	return head.status >= 200 && head.status < 400
}
