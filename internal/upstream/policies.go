package upstream

import (
	"math/rand/v2"
	"slices"
	"sync/atomic"
)

// Policy picks the backend for one attempt. Pick must return a backend
// that is usable for in (healthy, not draining, not ejected, below its
// connection cap, not tried already) or nil when there is none; it must
// not allocate and must be safe for concurrent use. Every policy passes
// the same contract test (policies_test.go).
type Policy interface {
	Pick(s *Set, in Input) *Backend
}

// Policy names as written in the config.
const (
	PolicyRoundRobin = "round_robin"
	PolicyWeighted   = "weighted"
	PolicyLeastConn  = "least_conn"
	PolicyP2C        = "p2c"
	PolicyRandom     = "random"
	PolicyHash       = "hash"
	PolicySticky     = "sticky"
)

// newPolicy returns the policy called name; "" picks the default for a
// pool of n backends. ok is false for an unknown name.
func newPolicy(name string, n int) (Policy, bool) {
	switch name {
	case "":
		if n >= 3 {
			return &p2c{}, true
		}
		return &roundRobin{}, true
	case PolicyRoundRobin, PolicyWeighted:
		return &roundRobin{}, true
	case PolicyLeastConn:
		return &leastConn{}, true
	case PolicyP2C:
		return &p2c{}, true
	case PolicyRandom:
		return random{}, true
	case PolicyHash:
		return hashRing{}, true
	case PolicySticky:
		fallback, _ := newPolicy("", n)
		return &sticky{fallback: fallback}, true
	}
	return nil, false
}

// roundRobin walks the smooth weighted cycle (nginx's round robin): a
// backend of weight 2 gets two turns in a cycle, spread out. Turns of
// backends that cannot take the request pass to the next usable one.
type roundRobin struct{ next atomic.Uint64 }

func (p *roundRobin) Pick(s *Set, in Input) *Backend {
	if len(s.all) == 0 {
		return nil
	}
	n := uint64(len(s.order))
	start := p.next.Add(1)
	// A few steps along the cycle keep the weights when one backend is
	// out; then a plain scan finds whatever is left.
	for k := uint64(0); k < min(n, 8); k++ {
		b := s.all[s.order[(start+k)%n]]
		if s.usable(b, &in) && s.admit(b, in.Now) {
			return b
		}
	}
	return s.scanFrom(s.order[start%n], &in)
}

// random draws a backend with probability proportional to its weight.
type random struct{}

func (random) Pick(s *Set, in Input) *Backend {
	if len(s.all) == 0 {
		return nil
	}
	for range 4 {
		b := s.all[s.weightedIndex()]
		if s.usable(b, &in) && s.admit(b, in.Now) {
			return b
		}
	}
	return s.scanFrom(rand.IntN(len(s.all)), &in)
}

// leastConn takes the backend with the fewest requests in flight per
// unit of weight (and of slow-start share). The scan starts at a
// weighted random place, so ties spread in proportion to weight. On
// pools larger than leastConnWindow it compares that many backends from
// the start on (and looks further only when none of them is usable), so
// a pick stays cheap on a pool of thousands.
type leastConn struct{}

const leastConnWindow = 64

func (*leastConn) Pick(s *Set, in Input) *Backend {
	n := len(s.all)
	if n == 0 {
		return nil
	}
	start := s.weightedIndex()
	var best *Backend
	bestScore := 0.0
	for i := 0; i < n && (best == nil || i < leastConnWindow); i++ {
		b := s.all[(start+i)%n]
		if !s.usable(b, &in) {
			continue
		}
		score := float64(b.inflight.Load()) / (float64(b.weight) * s.share(b, in.Now))
		if best == nil || score < bestScore {
			best, bestScore = b, score
		}
	}
	return best
}

// p2c is the power of two choices: two backends drawn by weight, the one
// with the lower cost wins. Cost is requests in flight times the
// peak-EWMA latency, so a slow or busy backend loses without any global
// scan (Finagle's and Linkerd's balancer).
type p2c struct{}

func (*p2c) Pick(s *Set, in Input) *Backend {
	if len(s.all) == 0 {
		return nil
	}
	a := drawUsable(s, &in)
	if a == nil {
		return s.scanFrom(rand.IntN(len(s.all)), &in)
	}
	b := drawUsable(s, &in)
	if b == nil || b == a {
		return a
	}
	if cost(b) < cost(a) {
		return b
	}
	return a
}

// drawUsable makes a few weighted draws for a usable backend.
func drawUsable(s *Set, in *Input) *Backend {
	for range 4 {
		b := s.all[s.weightedIndex()]
		if s.usable(b, in) && s.admit(b, in.Now) {
			return b
		}
	}
	return nil
}

func cost(b *Backend) float64 {
	// +1 keeps an idle backend's latency in the comparison; the latency
	// floor of 1µs keeps a fresh backend (no sample yet) from costing 0.
	return float64(b.inflight.Load()+1) * float64(max(b.ewma.Load(), 1000))
}

// hashRing maps the request's key onto the consistent-hash ring: the key
// goes to the first point at or after its hash, walking on past points
// of backends that cannot take it. Removing one of N backends moves only
// the keys on its points, about 1/N of them. Slow start is ignored: the
// point of hashing is that a key stays put.
type hashRing struct{}

func (hashRing) Pick(s *Set, in Input) *Backend {
	n := len(s.ring)
	if n == 0 {
		return nil
	}
	key := in.Key
	if !in.HasKey {
		key = rand.Uint64()
	}
	i, _ := slices.BinarySearchFunc(s.ring, key, func(r ringNode, k uint64) int {
		switch {
		case r.hash < k:
			return -1
		case r.hash > k:
			return 1
		}
		return 0
	})
	for k := 0; k < n; k++ {
		b := s.ring[(i+k)%n].b
		if s.usable(b, &in) {
			return b
		}
	}
	return nil
}

// sticky keeps a client on the backend named by its session cookie while
// that backend can take requests; new clients, and clients whose backend
// went away, are placed by the fallback policy (and get a new cookie).
type sticky struct{ fallback Policy }

func (p *sticky) Pick(s *Set, in Input) *Backend {
	if in.HasKey {
		if b := s.byID[in.Key]; b != nil && s.usable(b, &in) {
			return b
		}
	}
	return p.fallback.Pick(s, in)
}
