package redisstore

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/portico-proxy/portico/internal/cache/storetest"
)

// Case 4: what lies under Portico's keys was not written by this store.
func TestForeignDataUnderAKeyIsAMiss(t *testing.T) {
	srv := startServer(t)
	s := documented(t, srv.Addr)
	ctx := context.Background()
	e := storetest.Entry("example.com/c", 1000)
	good, _ := e.MarshalBinary()
	other, _ := storetest.Entry("example.com/d", 1000).MarshalBinary()
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x40
	k := s.entryKey(e.Key)
	cases := []struct {
		name string
		set  func() error
	}{
		{"text", func() error { return s.c.Set(ctx, k, "hello", 0).Err() }},
		{"empty", func() error { return s.c.Set(ctx, k, "", 0).Err() }},
		{"truncated", func() error { return s.c.Set(ctx, k, good[:len(good)-7], 0).Err() }},
		{"cut in half", func() error { return s.c.Set(ctx, k, good[:len(good)/2], 0).Err() }},
		{"flipped bit", func() error { return s.c.Set(ctx, k, flipped, 0).Err() }},
		{"trailing bytes", func() error { return s.c.Set(ctx, k, append(bytes.Clone(good), 0), 0).Err() }},
		{"another key's entry", func() error { return s.c.Set(ctx, k, other, 0).Err() }},
		{"hash", func() error { return s.c.HSet(ctx, k, "a", "b").Err() }},
		{"list", func() error { return s.c.RPush(ctx, k, "a").Err() }},
		{"set", func() error { return s.c.SAdd(ctx, k, "a").Err() }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := s.c.Del(ctx, k).Err(); err != nil {
				t.Fatal(err)
			}
			if err := c.set(); err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(ctx, e.Key)
			if got != nil || err != nil {
				t.Fatalf("got %v, %v; want a miss (nil, nil)", got != nil, err)
			}
			if n, _ := s.c.Exists(ctx, k).Result(); n != 0 {
				t.Error("the foreign value was left in place")
			}
			// The store writes over it and reads its own entry back.
			if err := s.Put(ctx, e); err != nil {
				t.Fatalf("Put over it: %v", err)
			}
			got, err = s.Get(ctx, e.Key)
			if err != nil {
				t.Fatal(err)
			}
			sameEntry(t, got, e)
		})
	}
}

func TestForeignDataUnderAKeyIsServedFromOrigin(t *testing.T) {
	srv := startServer(t)
	s := documented(t, srv.Addr)
	ctx := context.Background()
	if w, _ := newFront(t, s, nil, "right").get("/c"); w.Code != 200 {
		t.Fatalf("warm-up: %d", w.Code)
	}
	keys, err := s.c.Keys(ctx, globEscape(s.entryKey("site.test/c"))+"*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("stored keys %q, %v; want one", keys, err)
	}
	wrong, _ := storetest.Entry("site.test/other", 10).MarshalBinary()
	for i, set := range []func() error{
		func() error { return s.c.Set(ctx, keys[0], "not an entry", 0).Err() },
		func() error { return s.c.Set(ctx, keys[0], wrong, 0).Err() },
		func() error { return s.c.HSet(ctx, keys[0], "a", "b").Err() },
	} {
		if err := s.c.Del(ctx, keys[0]).Err(); err != nil {
			t.Fatal(err)
		}
		if err := set(); err != nil {
			t.Fatal(err)
		}
		f := newFront(t, s, nil, "right") // a new instance: empty memory tier
		w, _ := f.get("/c")
		if w.Code != 200 || w.Body.String() != "right" || f.origin.Load() != 1 {
			t.Fatalf("value %d: %d %q, origin asked %d times; want the origin's answer", i, w.Code, w.Body.String(), f.origin.Load())
		}
		if strings.Contains(f.logs.String(), "cache store failing") {
			t.Errorf("value %d: foreign data logged as a failing store: %s", i, f.logs.String())
		}
	}
}

// Case 4, tags: a tag's key holding another Redis type (written by
// something else) neither fails a Put, which would switch Redis off for
// every request, nor a purge by that tag: the foreign key is replaced by
// the store's own index.
func TestForeignDataUnderATagKey(t *testing.T) {
	srv := startServer(t)
	s := documented(t, srv.Addr)
	ctx := context.Background()
	tk := s.tagKey("news")
	for _, tt := range []struct {
		name string
		set  func() error
	}{
		{"string", func() error { return s.c.Set(ctx, tk, "x", 0).Err() }},
		{"hash", func() error { return s.c.HSet(ctx, tk, "a", "b").Err() }},
		{"list", func() error { return s.c.RPush(ctx, tk, "a").Err() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.c.Del(ctx, tk).Err(); err != nil {
				t.Fatal(err)
			}
			if err := tt.set(); err != nil {
				t.Fatal(err)
			}
			// A purge by the tag finds nothing of Portico's, and no error.
			if n, err := s.DeleteTag(ctx, "news"); n != 0 || err != nil {
				t.Fatalf("DeleteTag over foreign data: %d, %v; want 0, nil", n, err)
			}
			if err := tt.set(); err != nil {
				t.Fatal(err)
			}
			e := storetest.Entry("example.com/n", 100, "news", "sport")
			if err := s.Put(ctx, e); err != nil {
				t.Fatalf("Put with a foreign tag key: %v", err)
			}
			if got, err := s.Get(ctx, e.Key); err != nil || got == nil {
				t.Fatalf("Get after Put: %v, %v", got != nil, err)
			}
			// The tag now indexes the entry: purging it removes the entry.
			if n, err := s.DeleteTag(ctx, "news"); n != 1 || err != nil {
				t.Fatalf("DeleteTag: %d, %v; want 1, nil", n, err)
			}
			if got, _ := s.Get(ctx, e.Key); got != nil {
				t.Error("the entry survived a purge of its tag")
			}
		})
	}
}
