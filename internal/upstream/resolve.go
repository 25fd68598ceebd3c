package upstream

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/portico-proxy/portico/internal/config"
)

// Resolver looks up host names and SRV records; *net.Resolver is one.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
	LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)
}

// resolver re-resolves a pool's host-name and SRV backends every
// interval and installs a new set when the addresses changed, without a
// reload. A failed lookup keeps the addresses of the last good one: DNS
// trouble leaves the pool as it was rather than empty.
type resolver struct {
	pool     *Pool
	dns      Resolver
	interval time.Duration
	// last holds each entry's latest good addresses, by entry index.
	mu   sync.Mutex
	last map[int][]target
	stop context.CancelFunc
	done sync.WaitGroup
}

// target is one resolved address of an entry with its weight.
type target struct {
	addr   string
	weight int
	host   string // the name the address was found for (SRV target); "" for the entry's own
}

// lookupTimeout bounds one round of lookups.
const lookupTimeout = 5 * time.Second

func newResolver(p *Pool, dns Resolver, interval time.Duration) *resolver {
	if dns == nil {
		dns = net.DefaultResolver
	}
	setZero(&interval, config.DefaultResolveInterval)
	return &resolver{pool: p, dns: dns, interval: interval, last: map[int][]target{}, stop: func() {}}
}

func (r *resolver) start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	r.done.Add(1)
	go func() {
		defer r.done.Done()
		t := time.NewTicker(r.interval)
		defer t.Stop()
		for {
			r.refresh(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

func (r *resolver) close() {
	r.stop()
	r.done.Wait()
}

// lookupNow resolves one SRV entry while the pool is being built.
func (r *resolver) lookupNow(e *entry) []*Backend {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	i := slices.IndexFunc(r.pool.entries, func(x entry) bool { return x.url == e.url })
	ts, err := r.lookup(ctx, e)
	if err != nil {
		return nil
	}
	r.last[i] = ts
	var out []*Backend
	for _, t := range ts {
		out = append(out, r.pool.newBackend(e, t))
	}
	return out
}

// targetAddrs resolves one SRV target; an IP address is its own answer.
func (r *resolver) targetAddrs(ctx context.Context, host string) ([]string, error) {
	if net.ParseIP(host) != nil {
		return []string{host}, nil
	}
	return r.dns.LookupHost(ctx, host)
}

// lookup resolves one entry to its addresses, sorted for comparison.
func (r *resolver) lookup(ctx context.Context, e *entry) ([]target, error) {
	var ts []target
	if e.srv {
		_, srvs, err := r.dns.LookupSRV(ctx, "", "", e.host)
		// Go's resolver drops malformed records and still returns the
		// good ones with an error; those are worth serving.
		if err != nil && len(srvs) == 0 {
			return nil, err
		}
		for _, s := range srvs {
			w := e.weight
			if s.Weight > 0 {
				w = int(s.Weight)
			}
			// Targets are resolved here, with the same resolver, so a
			// pool's set always holds addresses and a target that moves
			// is noticed at the next round like an A record.
			hosts, err := r.targetAddrs(ctx, strings.TrimSuffix(s.Target, "."))
			if err != nil {
				continue
			}
			name := strings.TrimSuffix(s.Target, ".")
			for _, h := range hosts {
				ts = append(ts, target{addr: net.JoinHostPort(h, strconv.Itoa(int(s.Port))), weight: w,
					host: hostField(name, strconv.Itoa(int(s.Port)), e.https)})
			}
		}
		if len(ts) == 0 && len(srvs) > 0 {
			return nil, fmt.Errorf("srv %s: no target resolved", e.host)
		}
	} else {
		addrs, err := r.dns.LookupHost(ctx, e.host)
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			ts = append(ts, target{addr: net.JoinHostPort(a, e.port), weight: e.weight})
		}
	}
	slices.SortFunc(ts, func(a, b target) int { return strings.Compare(a.addr, b.addr) })
	return slices.CompactFunc(ts, func(a, b target) bool { return a.addr == b.addr }), nil
}

// refresh looks every name up again and installs a new set if any
// entry's addresses changed. Backends whose address stays keep their
// connections and state; new ones start slowly; gone ones have their
// idle connections closed while requests on them finish.
func (r *resolver) refresh(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	p := r.pool
	r.mu.Lock()
	defer r.mu.Unlock()
	changed, ramp := false, false
	next := make(map[int][]target, len(r.last))
	for i, ts := range r.last {
		next[i] = ts
	}
	for i := range p.entries {
		e := &p.entries[i]
		if e.literal {
			continue
		}
		ts, err := r.lookup(ctx, e)
		if err != nil || len(ts) == 0 {
			continue // keep what worked last
		}
		if prev, ok := r.last[i]; !ok || !slices.Equal(prev, ts) {
			next[i], changed = ts, true
			// The first answer for a name replaces the address the dialler
			// resolved by itself: not a new backend, so no slow start.
			ramp = ramp || ok
		}
	}
	if changed && ctx.Err() == nil {
		r.last = next
		r.install(ramp)
	}
}

// install builds the set from the latest addresses, reusing backends.
func (r *resolver) install(ramp bool) {
	p := r.pool
	old := p.set.Load()
	byKey := map[string]*Backend{}
	for _, b := range old.all {
		byKey[b.url+" "+b.addr] = b
	}
	var all []*Backend
	for i := range p.entries {
		e := &p.entries[i]
		ts, ok := r.last[i]
		if !ok { // never resolved (or an IP): the written address
			ts = []target{{addr: net.JoinHostPort(e.host, e.port), weight: e.weight}}
		}
		for _, t := range ts {
			if b := byKey[e.url+" "+t.addr]; b != nil && b.weight == t.weight {
				all = append(all, b)
				delete(byKey, e.url+" "+t.addr)
				continue
			}
			all = append(all, p.newBackend(e, t))
		}
	}
	p.install(all, ramp)
	for _, b := range byKey {
		b.conns.close()
	}
}
