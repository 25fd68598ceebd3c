package memstore

import (
	"context"
	"fmt"
	"testing"

	"github.com/portico-proxy/portico/internal/cache"
	"github.com/portico-proxy/portico/internal/cache/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) cache.Store { return New(64 << 20) })
}

func TestBudgetEvictsLeastRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	one := storetest.Entry("example.com/0", 1000).Size()
	s := New(one * 10)
	for i := range 10 {
		if err := s.Put(ctx, storetest.Entry(fmt.Sprintf("example.com/%d", i), 1000)); err != nil {
			t.Fatal(err)
		}
	}
	// Touch the oldest, so the second oldest is the one to go.
	if e, _ := s.Get(ctx, "example.com/0\x00"); e == nil {
		t.Fatal("entry 0 missing before the budget was reached")
	}
	if err := s.Put(ctx, storetest.Entry("example.com/10", 1000)); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.Get(ctx, "example.com/1\x00"); e != nil {
		t.Error("least recently used entry 1 was kept")
	}
	if e, _ := s.Get(ctx, "example.com/0\x00"); e == nil {
		t.Error("recently used entry 0 was evicted")
	}
	if s.Used() > one*10 {
		t.Errorf("used %d bytes, budget %d", s.Used(), one*10)
	}
}

func TestObjectOverAnEighthOfTheBudgetIsNotKept(t *testing.T) {
	ctx := context.Background()
	s := New(80 << 10)
	big := storetest.Entry("example.com/big", 11<<10)
	if err := s.Put(ctx, big); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.Get(ctx, big.Key); e != nil {
		t.Error("an object over budget/8 was stored")
	}
}

func TestGetBytesFindsWhatGetFinds(t *testing.T) {
	ctx := context.Background()
	s := New(1 << 20)
	e := storetest.Entry("example.com/b", 10)
	if err := s.Put(ctx, e); err != nil {
		t.Fatal(err)
	}
	if got := s.GetBytes([]byte(e.Key)); got != e {
		t.Fatalf("GetBytes: got %v, want the stored entry", got)
	}
	if got := s.GetBytes([]byte("example.com/none\x00")); got != nil {
		t.Fatalf("GetBytes of a missing key: got %v", got)
	}
}
