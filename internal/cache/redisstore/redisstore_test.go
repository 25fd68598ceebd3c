package redisstore

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/cache"
	"github.com/portico-proxy/portico/internal/cache/storetest"
)

func TestContract(t *testing.T) {
	addr, _ := storetest.StartRedis(t)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) cache.Store {
		// One server, a fresh prefix per subtest: an empty store each time.
		s := New(Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second,
			Prefix: "test" + strconv.FormatInt(n.Add(1), 10) + ":"})
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestEntryExpiresWithItsTTL(t *testing.T) {
	addr, _ := storetest.StartRedis(t)
	s := New(Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second})
	defer s.Close()
	ctx := context.Background()
	e := storetest.Entry("example.com/ttl", 10)
	e.Expires = e.ResponseTime.Add(time.Hour)
	if err := s.Put(ctx, e); err != nil {
		t.Fatal(err)
	}
	ttl, err := s.c.PTTL(ctx, s.entryKey(e.Key)).Result()
	if err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("got TTL %v, %v; want about 1h", ttl, err)
	}
}

func TestServerDownIsAnErrorNotAHang(t *testing.T) {
	addr, _ := storetest.StartRedis(t)
	s := New(Options{Addr: addr, DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})
	defer s.Close()
	ctx := context.Background()
	if err := s.c.Do(ctx, "SHUTDOWN", "NOSAVE").Err(); err == nil {
		t.Log("SHUTDOWN returned no error")
	}
	start := time.Now()
	_, err := s.Get(ctx, "example.com/a\x00")
	if err == nil {
		t.Fatal("Get against a stopped server reported no error")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Get took %v against a stopped server", d)
	}
}

func TestPublishReachesSubscriber(t *testing.T) {
	addr, _ := storetest.StartRedis(t)
	a := New(Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second})
	b := New(Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second})
	defer a.Close()
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string, 1)
	if err := b.Subscribe(ctx, func(m []byte) { got <- string(m) }); err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(ctx, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m != "hello" {
			t.Fatalf("got %q, want hello", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("message not delivered within 5s")
	}
}
