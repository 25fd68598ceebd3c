// Package memstore is the memory tier of the cache: entries in a map with
// a byte budget and least-recently-used eviction, where each entry is
// charged what it really costs (body, header and key). It owns nothing but
// that map; the rules of what to store are in package cache.
package memstore

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/portico-proxy/portico/internal/cache"
)

// Store is a byte-budgeted LRU of entries. Entries are shared, not
// copied: package cache never modifies an entry once stored.
type Store struct {
	mu     sync.Mutex
	budget int64
	used   int64
	items  map[string]*node
	head   node // sentinel: head.next is the most recently used
}

type node struct {
	e          *cache.Entry
	cost       int64
	prev, next *node
}

// New returns a store that holds at most budget bytes.
func New(budget int64) *Store {
	s := &Store{budget: budget, items: map[string]*node{}}
	s.head.next, s.head.prev = &s.head, &s.head
	return s
}

// Used is the number of bytes charged to the entries held.
func (s *Store) Used() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used
}

func (s *Store) Get(_ context.Context, key string) (*cache.Entry, error) {
	s.mu.Lock()
	n := s.items[key]
	if n != nil {
		s.unlink(n)
		s.pushFront(n)
	}
	s.mu.Unlock()
	if n == nil {
		return nil, nil
	}
	return n.e, nil
}

// GetBytes is Get for a key held in bytes; the map lookup converts
// without allocating, which keeps a memory hit free of allocations.
func (s *Store) GetBytes(key []byte) *cache.Entry {
	s.mu.Lock()
	n := s.items[string(key)]
	if n != nil {
		s.unlink(n)
		s.pushFront(n)
	}
	s.mu.Unlock()
	if n == nil {
		return nil
	}
	return n.e
}

// Put stores e. An entry bigger than an eighth of the budget is not kept:
// one huge object would otherwise evict hundreds of small hot ones.
func (s *Store) Put(_ context.Context, e *cache.Entry) error {
	cost := e.Size()
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.items[e.Key]; old != nil {
		s.remove(old)
	}
	if cost > s.budget/8 {
		return nil
	}
	n := &node{e: e, cost: cost}
	s.items[e.Key] = n
	s.pushFront(n)
	s.used += cost
	for s.used > s.budget && s.head.prev != &s.head {
		s.remove(s.head.prev)
	}
	return nil
}

func (s *Store) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.items[key]; n != nil {
		s.remove(n)
	}
	return nil
}

func (s *Store) DeletePrefix(_ context.Context, prefix string) (int, error) {
	return s.deleteIf(func(e *cache.Entry) bool { return strings.HasPrefix(e.Key, prefix) }), nil
}

func (s *Store) DeleteTag(_ context.Context, tag string) (int, error) {
	return s.deleteIf(func(e *cache.Entry) bool { return slices.Contains(e.Tags, tag) }), nil
}

// deleteIf walks every entry: purges are rare and a scan of a few
// hundred thousand keys is milliseconds, while an index would cost memory
// and time on every Put.
func (s *Store) deleteIf(match func(*cache.Entry) bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, nd := range s.items {
		if match(nd.e) {
			s.remove(nd)
			n++
		}
	}
	return n
}

func (s *Store) Close() error { return nil }

func (s *Store) remove(n *node) {
	s.unlink(n)
	delete(s.items, n.e.Key)
	s.used -= n.cost
}

func (s *Store) unlink(n *node) {
	n.prev.next, n.next.prev = n.next, n.prev
}

func (s *Store) pushFront(n *node) {
	n.prev, n.next = &s.head, s.head.next
	s.head.next.prev = n
	s.head.next = n
}
