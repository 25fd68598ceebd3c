package upstream

import (
	"fmt"
	"math"
	"strconv"
	"sync"
	"testing"
)

var allPolicies = []string{PolicyRoundRobin, PolicyWeighted, PolicyLeastConn, PolicyP2C, PolicyRandom, PolicyHash, PolicySticky}

// testSet builds a set of backends with the given weights and the
// tables policy name needs.
func testSet(policy string, weights ...int) *Set {
	var all []*Backend
	for i, w := range weights {
		addr := "10.0.0." + strconv.Itoa(i+1) + ":80"
		all = append(all, newBackend("http://"+addr, addr, "", w, nil))
	}
	points := 0
	if policy == PolicyHash {
		points = ringPointsFor(all)
	}
	return newSet(all, 0, 0, points)
}

func mustPolicy(t testing.TB, name string, n int) Policy {
	p, ok := newPolicy(name, n)
	if !ok {
		t.Fatalf("no policy %q", name)
	}
	return p
}

// input is a pick for request number i: hash and sticky get a spread
// of keys, as many clients would send.
func input(i int) Input {
	return Input{Now: 1, Key: mix64(uint64(i)), HasKey: true}
}

// TestPolicyContract is the rule every policy keeps: nothing from an
// empty pool (and no panic), only usable backends, weights respected
// within statistical bounds, retries steered away from tried backends.
func TestPolicyContract(t *testing.T) {
	for _, name := range allPolicies {
		t.Run(name, func(t *testing.T) {
			t.Run("empty pool picks nothing", func(t *testing.T) {
				p := mustPolicy(t, name, 0)
				if b := p.Pick(testSet(name), input(1)); b != nil {
					t.Fatalf("got %s from an empty pool, want nil", b.addr)
				}
			})
			t.Run("only usable backends", func(t *testing.T) {
				s := testSet(name, 1, 1, 1, 1, 1)
				s.all[0].down.Store(true)
				s.all[1].draining.Store(true)
				s.all[2].ejectedUntil.Store(100) // input's Now is 1
				p := mustPolicy(t, name, 5)
				for i := 0; i < 2000; i++ {
					in := input(i)
					if i%2 == 0 {
						in.exclude(s.all[3])
					}
					b := p.Pick(s, in)
					switch {
					case b == nil:
						t.Fatalf("pick %d: got nil with usable backends left", i)
					case b == s.all[0], b == s.all[1], b == s.all[2]:
						t.Fatalf("pick %d: got unusable %s", i, b.addr)
					case i%2 == 0 && b == s.all[3]:
						t.Fatalf("pick %d: got the tried backend", i)
					}
				}
			})
			t.Run("none usable picks nothing", func(t *testing.T) {
				s := testSet(name, 1, 2)
				s.all[0].down.Store(true)
				s.all[1].draining.Store(true)
				if b := mustPolicy(t, name, 2).Pick(s, input(1)); b != nil {
					t.Fatalf("got %s, want nil", b.addr)
				}
			})
			t.Run("full backends are skipped", func(t *testing.T) {
				s := testSet(name, 1, 1)
				s.maxConns = 2
				s.all[0].inflight.Store(2)
				for i := 0; i < 200; i++ {
					if b := mustPolicy(t, name, 2).Pick(s, input(i)); b != s.all[1] {
						t.Fatalf("pick %d: got %v, want the backend with room", i, b)
					}
				}
			})
			t.Run("weights respected", func(t *testing.T) {
				weights := []int{1, 2, 5}
				s := testSet(name, weights...)
				p := mustPolicy(t, name, len(weights))
				const picks = 16000
				counts := map[*Backend]int{}
				for i := 0; i < picks; i++ {
					counts[p.Pick(s, input(i))]++
				}
				checkShares(t, s, counts, picks)
			})
		})
	}
}

// checkShares wants each backend's share within 4 standard deviations
// of its weight's share (a false alarm about once in 15,000 runs).
func checkShares(t *testing.T, s *Set, counts map[*Backend]int, picks int) {
	t.Helper()
	total := 0
	for _, b := range s.all {
		total += b.weight
	}
	for _, b := range s.all {
		want := float64(b.weight) / float64(total)
		sd := math.Sqrt(want * (1 - want) / float64(picks))
		// The hash ring spreads keys less evenly than a fair coin:
		// allow it the ring's own unevenness on top.
		tol := 4*sd + 0.03
		got := float64(counts[b]) / float64(picks)
		if math.Abs(got-want) > tol {
			t.Errorf("%s weight %d: share %.3f, want %.3f ± %.3f", b.addr, b.weight, got, want, tol)
		}
	}
}

// TestPoliciesConcurrentPicks runs every policy from many goroutines at
// once; under -race it checks that picks share no unsynchronised state.
func TestPoliciesConcurrentPicks(t *testing.T) {
	for _, name := range allPolicies {
		s := testSet(name, 1, 2, 3)
		p := mustPolicy(t, name, 3)
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 500; i++ {
					b := p.Pick(s, input(g*1000+i))
					if b == nil {
						t.Errorf("%s: nil pick", name)
						return
					}
					b.inflight.Add(1)
					b.inflight.Add(-1)
				}
			}()
		}
		wg.Wait()
	}
}

// TestHashRemovingOneOfTenMovesAboutATenth removes one of 10 backends
// and measures the share of keys that move to another backend.
func TestHashRemovingOneOfTenMovesAboutATenth(t *testing.T) {
	weights := []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}
	full := testSet(PolicyHash, weights...)
	smaller := newSet(full.all[:9], 0, 0, ringPointsFor(full.all[:9]))
	p := hashRing{}
	const keys = 20000
	moved, movedFromSurvivor := 0, 0
	for i := 0; i < keys; i++ {
		in := Input{Key: hashString("client-" + strconv.Itoa(i)), HasKey: true}
		before, after := p.Pick(full, in), p.Pick(smaller, in)
		if before != after {
			moved++
			if before != full.all[9] {
				movedFromSurvivor++
			}
		}
	}
	share := float64(moved) / keys
	t.Logf("removing 1 of 10 backends moved %.2f%% of keys", share*100)
	if share < 0.06 || share > 0.14 {
		t.Errorf("moved share %.3f, want about 1/10", share)
	}
	if movedFromSurvivor != 0 {
		t.Errorf("%d keys moved between surviving backends, want 0", movedFromSurvivor)
	}
}

func TestHashKeySameKeySameBackend(t *testing.T) {
	s := testSet(PolicyHash, 1, 1, 1, 1)
	for i := 0; i < 100; i++ {
		in := Input{Key: hashString(fmt.Sprint("user", i)), HasKey: true}
		first := hashRing{}.Pick(s, in)
		for k := 0; k < 5; k++ {
			if b := (hashRing{}).Pick(s, in); b != first {
				t.Fatalf("key %d: got %s then %s", i, first.addr, b.addr)
			}
		}
	}
}

func TestStickyKeepsClientOnItsBackend(t *testing.T) {
	s := testSet(PolicySticky, 1, 1, 1)
	p := mustPolicy(t, PolicySticky, 3)
	in := Input{Key: s.all[2].id, HasKey: true}
	for i := 0; i < 50; i++ {
		if b := p.Pick(s, in); b != s.all[2] {
			t.Fatalf("got %s, want the cookie's backend %s", b.addr, s.all[2].addr)
		}
	}
	s.all[2].draining.Store(true)
	if b := p.Pick(s, in); b == nil || b == s.all[2] {
		t.Fatalf("cookie's backend draining: got %v, want another backend", b)
	}
}

func TestDefaultPolicyDependsOnPoolSize(t *testing.T) {
	for n, want := range map[int]string{1: "*upstream.roundRobin", 2: "*upstream.roundRobin", 3: "*upstream.p2c", 10: "*upstream.p2c"} {
		if got := fmt.Sprintf("%T", mustPolicy(t, "", n)); got != want {
			t.Errorf("%d backends: got %s, want %s", n, got, want)
		}
	}
}

// TestP2CAvoidsTheSlowBackend: with equal load, the backend whose
// latency average is ten times higher gets far less traffic.
func TestP2CAvoidsTheSlowBackend(t *testing.T) {
	s := testSet(PolicyP2C, 1, 1, 1)
	s.all[0].ewma.Store(50e6)
	s.all[1].ewma.Store(5e6)
	s.all[2].ewma.Store(5e6)
	counts := map[*Backend]int{}
	for i := 0; i < 3000; i++ {
		counts[(&p2c{}).Pick(s, input(i))]++
	}
	// It wins only when drawn twice: a ninth of picks, against a third
	// for an even spread; a sixth leaves room for chance.
	if got := counts[s.all[0]]; got > 3000/6 {
		t.Errorf("slow backend got %d of 3000 picks, want about a ninth (it loses every pair it is in)", got)
	}
}

func TestLeastConnPrefersIdleBackend(t *testing.T) {
	s := testSet(PolicyLeastConn, 1, 1, 1)
	s.all[0].inflight.Store(5)
	s.all[1].inflight.Store(1)
	s.all[2].inflight.Store(3)
	for i := 0; i < 100; i++ {
		if b := (&leastConn{}).Pick(s, input(i)); b != s.all[1] {
			t.Fatalf("got %s, want the least busy", b.addr)
		}
	}
}
