package cache_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/cache"
	"github.com/portico-proxy/portico/internal/cache/diskstore"
	"github.com/portico-proxy/portico/internal/cache/memstore"
	"github.com/portico-proxy/portico/internal/cache/redisstore"
	"github.com/portico-proxy/portico/internal/cache/storetest"
	"github.com/portico-proxy/portico/internal/testbackend"
)

func TestMain(m *testing.M) {
	redisstore.QuietClientLog() // as cmd/portico does: the cache logs failures itself
	os.Exit(m.Run())
}

func redisOpts(addr string) redisstore.Options {
	return redisstore.Options{Addr: addr, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond}
}

func TestPurgeReachesEveryInstanceOverRedis(t *testing.T) {
	addr, _ := storetest.StartRedis(t)
	var hs []*harness
	for range 2 {
		rs := redisstore.New(redisOpts(addr))
		hs = append(hs, newHarnessWith(t, harnessOpts{stores: cache.Options{Shared: rs, Bus: rs}}))
	}
	a, b := hs[0], hs[1]
	for _, h := range hs {
		h.serve(200, "x", "Cache-Control", "max-age=100", "Cache-Tag", "news")
		h.get("/article")
		if !isHit(h.get("/article")) {
			t.Fatal("not cached locally")
		}
	}
	if _, err := a.cache.Purge(context.Background(), cache.Purge{Tag: "news"}); err != nil {
		t.Fatal(err)
	}
	// The message travels asynchronously: a bounded wait for instance b's
	// memory tier to drop the entry.
	deadline := time.Now().Add(5 * time.Second)
	for isHit(b.get("/article")) {
		if time.Now().After(deadline) {
			t.Fatal("instance b still serves the purged entry after 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if isHit(a.get("/article")) {
		t.Fatal("instance a still serves the purged entry")
	}
}

func TestRedisSharesEntriesBetweenInstances(t *testing.T) {
	addr, _ := storetest.StartRedis(t)
	rsA, rsB := redisstore.New(redisOpts(addr)), redisstore.New(redisOpts(addr))
	a := newHarnessWith(t, harnessOpts{stores: cache.Options{Shared: rsA, Bus: rsA}})
	b := newHarnessWith(t, harnessOpts{stores: cache.Options{Shared: rsB, Bus: rsB}})
	a.serve(200, "from a", "Cache-Control", "max-age=100")
	b.serve(200, "from b", "Cache-Control", "max-age=100")
	a.get("/shared", "Host", "site.test")
	got := b.get("/shared", "Host", "site.test")
	if got.body != "from a" || !isHit(got) {
		t.Fatalf("instance b got %q hit=%v; want a's entry from Redis", got.body, isHit(got))
	}
	b.expectHits(0, "instance b answered from the shared tier")
}

func TestRedisDownServesFromMemoryWithoutErrors(t *testing.T) {
	addr, stopRedis := storetest.StartRedis(t)
	rs := redisstore.New(redisOpts(addr))
	var logs testbackend.SyncBuffer
	h := newHarnessWith(t, harnessOpts{stores: cache.Options{Shared: rs, Bus: rs,
		Log: slog.New(slog.NewJSONHandler(&logs, nil))}})
	h.serve(200, "x", "Cache-Control", "max-age=100")
	h.get("/a")
	stopRedis()
	for i := range 20 {
		got := h.get("/a")
		if got.status != 200 || !isHit(got) {
			t.Fatalf("request %d with Redis down: %d hit=%v", i, got.status, isHit(got))
		}
	}
	for i := range 5 {
		got := h.get("/new" + string(rune('a'+i)))
		if got.status != 200 {
			t.Fatalf("miss with Redis down: %d", got.status)
		}
	}
	if n := strings.Count(logs.String(), "cache store failing"); n != 1 {
		t.Errorf("logged %d failures, want exactly 1 (rate limited)", n)
	}
	if _, err := h.cache.Purge(context.Background(), cache.Purge{URL: "x/a"}); err == nil {
		t.Error("a purge that could not reach Redis reported success")
	}
}

func TestDiskTierSurvivesARestartOfTheCache(t *testing.T) {
	dir := t.TempDir()
	ds, err := diskstore.Open(dir, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	a := newHarnessWith(t, harnessOpts{stores: cache.Options{Disk: ds}})
	a.serve(200, "persisted", "Cache-Control", "max-age=100")
	a.get("/p", "Host", "site.test")

	// A new process: a new cache with an empty memory tier over the same
	// directory.
	ds2, err := diskstore.Open(dir, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	b := newHarnessWith(t, harnessOpts{stores: cache.Options{Disk: ds2}})
	got := b.get("/p", "Host", "site.test")
	if got.body != "persisted" || !isHit(got) {
		t.Fatalf("after restart: got %q hit=%v", got.body, isHit(got))
	}
	b.expectHits(0, "answered from disk")
}

func TestUnwritableDiskDegradesToMisses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	ds, err := diskstore.Open(dir, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	var logs testbackend.SyncBuffer
	h := newHarnessWith(t, harnessOpts{stores: cache.Options{Memory: memstore.New(1 << 10), Disk: ds,
		Log: slog.New(slog.NewJSONHandler(&logs, nil))}})
	// The directory turns into a file: every disk operation fails, as on
	// a disk that is full or gone.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.serve(200, strings.Repeat("b", 200), "Cache-Control", "max-age=100")
	for i := range 5 {
		if got := h.get("/d"); got.status != 200 || len(got.body) != 200 {
			t.Fatalf("request %d: %d, %d bytes", i, got.status, len(got.body))
		}
	}
	if !strings.Contains(logs.String(), `"store":"disk"`) {
		t.Errorf("disk failure not logged: %s", logs.String())
	}
}
