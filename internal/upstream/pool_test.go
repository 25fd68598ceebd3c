package upstream

import (
	"fmt"
	"testing"
)

func TestSmoothOrderFollowsWeights(t *testing.T) {
	tests := []struct {
		weights []int
		want    string
	}{
		{[]int{1}, "[0]"},
		{[]int{1, 1, 1}, "[0 1 2]"},
		{[]int{5, 1, 1}, "[0 0 1 0 2 0 0]"},
		{[]int{2, 1}, "[0 1 0]"},
	}
	for _, tt := range tests {
		var bs []*Backend
		for _, w := range tt.weights {
			bs = append(bs, &Backend{weight: w})
		}
		if got := fmt.Sprint(smoothOrder(bs)); got != tt.want {
			t.Errorf("weights %v: got %s, want %s", tt.weights, got, tt.want)
		}
	}
}

func TestSmoothOrderBoundsHugeWeights(t *testing.T) {
	bs := []*Backend{{weight: 1_000_000}, {weight: 1}}
	order := smoothOrder(bs)
	if len(order) > maxCycle+1 {
		t.Fatalf("cycle of %d entries, want at most %d", len(order), maxCycle+1)
	}
	seen := map[int]int{}
	for _, i := range order {
		seen[i]++
	}
	if seen[1] < 1 || seen[0] < 1000 {
		t.Fatalf("shares %v, want both backends present and the heavy one dominant", seen)
	}
}
