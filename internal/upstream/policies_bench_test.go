package upstream

import (
	"strconv"
	"testing"
)

// BenchmarkPick measures one pick per policy on pools of 3 and 1,000
// backends, serially and from parallel goroutines (run it with -race
// too). Every pick must be allocation-free.
func BenchmarkPick(b *testing.B) {
	for _, n := range []int{3, 1000} {
		for _, name := range allPolicies {
			weights := make([]int, n)
			for i := range weights {
				weights[i] = 1 + i%3
			}
			s := testSet(name, weights...)
			p := mustPolicy(b, name, n)
			b.Run(name+"/"+strconv.Itoa(n), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					if p.Pick(s, Input{Now: 1, Key: uint64(i) * 0x9e3779b97f4a7c15, HasKey: true}) == nil {
						b.Fatal("nil pick")
					}
				}
			})
			b.Run(name+"/"+strconv.Itoa(n)+"/parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					i := uint64(0)
					for pb.Next() {
						i++
						be := p.Pick(s, Input{Now: 1, Key: i * 0x9e3779b97f4a7c15, HasKey: true})
						be.inflight.Add(1)
						be.inflight.Add(-1)
					}
				})
			})
		}
	}
}

// TestPickDoesNotAllocate keeps the benchmark's promise in the test run.
func TestPickDoesNotAllocate(t *testing.T) {
	for _, name := range allPolicies {
		s := testSet(name, 1, 2, 3)
		p := mustPolicy(t, name, 3)
		in := Input{Now: 1, Key: 42, HasKey: true}
		in.exclude(s.all[0])
		if n := testing.AllocsPerRun(200, func() { p.Pick(s, in) }); n != 0 {
			t.Errorf("%s: %v allocations per pick, want 0", name, n)
		}
	}
}
