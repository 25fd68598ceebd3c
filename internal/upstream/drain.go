package upstream

import (
	"fmt"
	"sync"
)

// DrainSet remembers which backends an operator marked draining, by pool
// name and backend URL as written. A reload builds new pools; handing
// them the same DrainSet keeps the marks, so a backend being taken out
// of service stays out across reloads.
type DrainSet struct {
	mu sync.Mutex
	m  map[drainKey]bool
}

type drainKey struct{ pool, url string }

// NewDrainSet returns an empty set.
func NewDrainSet() *DrainSet { return &DrainSet{m: map[drainKey]bool{}} }

func (d *DrainSet) has(pool, url string) bool {
	if d == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.m[drainKey{pool, url}]
}

func (d *DrainSet) set(pool, url string, on bool) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if on {
		d.m[drainKey{pool, url}] = true
	} else {
		delete(d.m, drainKey{pool, url})
	}
}

// SetDraining marks every address of the backend written as url (all
// the addresses a host name or SRV record resolved to) draining or not.
// A draining backend gets no new requests; those in flight finish. The
// mark is kept in the pool's DrainSet, so it survives a reload.
func (p *Pool) SetDraining(url string, draining bool) error {
	known := false
	for _, e := range p.entries {
		known = known || e.url == url
	}
	if !known {
		return fmt.Errorf("upstream %s: no backend %q", p.name, url)
	}
	p.drains.set(p.name, url, draining)
	for _, b := range p.set.Load().all {
		if b.url == url {
			b.draining.Store(draining)
		}
	}
	return nil
}

// SyncDrains sets every backend's draining mark from the pool's DrainSet.
// A reload calls it on the new pools once they are live: a drain that came
// while they were being built marked the old pools and the set, not them.
func (p *Pool) SyncDrains() {
	for _, b := range p.set.Load().all {
		b.draining.Store(p.drains.has(p.name, b.url))
	}
}
