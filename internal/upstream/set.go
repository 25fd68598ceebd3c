package upstream

import (
	"math/rand/v2"
	"slices"
	"strconv"
)

// Set is one version of a pool's backends with what the policies derive
// from them (the weighted cycle, the cumulative weights, the hash ring),
// computed once when the set changes: at build and after a DNS change.
// Picking reads a Set and never writes it.
type Set struct {
	all []*Backend
	// maxConns caps the requests in flight on one backend (0: no cap).
	maxConns int64
	// slowStart is the ramp window in nanoseconds (0: off).
	slowStart int64

	order []int      // one cycle of smooth weighted round robin
	cum   []int      // running sum of weights, for weighted random draws
	ring  []ringNode // consistent-hash ring, sorted by hash
	byID  map[uint64]*Backend
}

type ringNode struct {
	hash uint64
	b    *Backend
}

// Input is what a policy knows about one pick. It is passed by value so
// that a pick through the Policy interface does not allocate.
type Input struct {
	Now int64 // unix nanoseconds, for ejection and slow start
	// Key is the request's hash key (hash) or the backend id from the
	// sticky cookie (sticky); HasKey says whether there is one.
	Key    uint64
	HasKey bool
	// tried are the backends this request already failed on; a retry
	// goes elsewhere.
	tried  [maxTries]*Backend
	ntried int
}

// maxTries bounds the attempts of one request: the first and at most
// config's maximum of retries, plus a few for backends found full.
const maxTries = 16

func (in *Input) exclude(b *Backend) {
	if in.ntried < maxTries {
		in.tried[in.ntried] = b
		in.ntried++
	}
}

func (in *Input) excluded(b *Backend) bool {
	for i := 0; i < in.ntried; i++ {
		if in.tried[i] == b {
			return true
		}
	}
	return false
}

// newSet derives the policy tables for backends. ringPoints is the
// number of ring points per unit of weight (0: no ring).
func newSet(all []*Backend, maxConns, slowStart int64, ringPoints int) *Set {
	s := &Set{all: all, maxConns: maxConns, slowStart: slowStart}
	s.order = smoothOrder(all)
	total := 0
	s.byID = make(map[uint64]*Backend, len(all))
	for _, b := range all {
		total += b.weight
		s.cum = append(s.cum, total)
		s.byID[b.id] = b
	}
	if ringPoints > 0 {
		s.ring = buildRing(all, ringPoints)
	}
	return s
}

// Len is the number of backends in the set.
func (s *Set) Len() int { return len(s.all) }

// usable reports whether b may take a new request now: healthy, not
// draining, not ejected, below its connection cap, not tried already.
func (s *Set) usable(b *Backend, in *Input) bool {
	if b.down.Load() || b.draining.Load() {
		return false
	}
	if u := b.ejectedUntil.Load(); u != 0 && in.Now < u {
		return false
	}
	if s.maxConns > 0 && b.inflight.Load() >= s.maxConns {
		return false
	}
	return in.ntried == 0 || !in.excluded(b)
}

// share is b's slow-start factor in (0, 1]: 1 outside the ramp window,
// growing linearly inside it from a floor of 1/20, so a fresh backend
// gets some traffic at once.
func (s *Set) share(b *Backend, now int64) float64 {
	if s.slowStart == 0 {
		return 1
	}
	from := b.rampFrom.Load()
	if from == 0 || now >= from+s.slowStart {
		return 1
	}
	f := float64(now-from) / float64(s.slowStart)
	return max(f, 0.05)
}

// admit lets a backend in slow start take a request with a chance equal
// to its share; others always pass.
func (s *Set) admit(b *Backend, now int64) bool {
	f := s.share(b, now)
	return f >= 1 || rand.Float64() < f
}

// scanFrom returns the first usable backend from index start on, letting
// slow starters in by chance; when only those are left, the first usable
// one is taken anyway.
func (s *Set) scanFrom(start int, in *Input) *Backend {
	n := len(s.all)
	var fallback *Backend
	for i := 0; i < n; i++ {
		b := s.all[(start+i)%n]
		if !s.usable(b, in) {
			continue
		}
		if !s.admit(b, in.Now) {
			if fallback == nil {
				fallback = b
			}
			continue
		}
		return b
	}
	return fallback
}

// weightedIndex draws an index with probability proportional to weight.
func (s *Set) weightedIndex() int {
	total := s.cum[len(s.cum)-1]
	if total == len(s.cum) { // all weights 1
		return rand.IntN(total)
	}
	x := rand.IntN(total)
	i, _ := slices.BinarySearch(s.cum, x+1)
	return i
}

// smoothOrder spreads each backend over one cycle in proportion to its
// weight without bursts: weights 5,1,1 give a a b a c a a, not a a a a a b c.
func smoothOrder(backends []*Backend) []int {
	weights := make([]int, len(backends))
	total := 0
	for i, b := range backends {
		weights[i] = b.weight
		total += b.weight
	}
	if total > maxCycle {
		sum := total
		total = 0
		for i, b := range backends {
			weights[i] = max(1, b.weight*maxCycle/sum)
			total += weights[i]
		}
	}
	current := make([]int, len(backends))
	order := make([]int, 0, total)
	for range total {
		best := 0
		for i := range current {
			current[i] += weights[i]
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		order = append(order, best)
	}
	return order
}

// maxCycle bounds the precomputed cycle; larger weight sums are scaled
// down proportionally (every backend keeps at least one slot).
const maxCycle = 4096

// ringPointsFor keeps the ring near 40k points whatever the pool size:
// enough for an even spread on small pools, bounded memory on big ones.
func ringPointsFor(all []*Backend) int {
	total := 0
	for _, b := range all {
		total += b.weight
	}
	return min(160, max(4, 40960/max(total, 1)))
}

// buildRing places points per unit of weight for every backend. Points
// depend on the backend's address only, so removing one backend moves
// only the keys that were on its points.
func buildRing(all []*Backend, points int) []ringNode {
	var ring []ringNode
	for _, b := range all {
		for i := range points * b.weight {
			ring = append(ring, ringNode{hash: hashString(b.addr + "#" + strconv.Itoa(i)), b: b})
		}
	}
	slices.SortFunc(ring, func(a, b ringNode) int {
		switch {
		case a.hash < b.hash:
			return -1
		case a.hash > b.hash:
			return 1
		}
		return 0
	})
	return ring
}
