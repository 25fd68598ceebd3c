package cache

import "sync/atomic"

// Stats are the cache's counters since the process started, for the
// metrics endpoint and for tests that use them as the oracle.
type Stats struct {
	Hits        uint64 `json:"hits"`         // answered fresh from a store
	StaleHits   uint64 `json:"stale_hits"`   // answered stale (max-stale, stale-while-revalidate, errors)
	Misses      uint64 `json:"misses"`       // forwarded because nothing usable was stored
	Revalidated uint64 `json:"revalidated"`  // a 304 refreshed a stale entry
	Collapsed   uint64 `json:"collapsed"`    // answered from another request's upstream response
	Bypassed    uint64 `json:"bypassed"`     // bypass rules, unsafe methods
	Stored      uint64 `json:"stored"`       // entries written
	Purged      uint64 `json:"purged"`       // entries removed by purges and invalidations
	StoreErrors uint64 `json:"store_errors"` // failed store operations (the store is then skipped a while)
}

type counters struct {
	hits, staleHits, misses, revalidated, collapsed, bypassed, stored, purged, storeErrors atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() Stats {
	n := &c.counters
	return Stats{
		Hits: n.hits.Load(), StaleHits: n.staleHits.Load(), Misses: n.misses.Load(),
		Revalidated: n.revalidated.Load(), Collapsed: n.collapsed.Load(), Bypassed: n.bypassed.Load(),
		Stored: n.stored.Load(), Purged: n.purged.Load(), StoreErrors: n.storeErrors.Load(),
	}
}
