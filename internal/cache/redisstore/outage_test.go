package redisstore

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/cache"
	"github.com/portico-proxy/portico/internal/cache/memstore"
	"github.com/portico-proxy/portico/internal/cache/storetest"
	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/testbackend"
)

// startServer starts a real redis-server the test can stop, start again
// and pause; see storetest.Redis.
func startServer(t *testing.T) *storetest.Redis {
	t.Helper()
	QuietClientLog() // as cmd/portico does: the cache logs failures itself
	return storetest.NewRedis(t)
}

// documented returns a store with the documented default timeouts
// (docs/config.md, cluster.redis).
func documented(t *testing.T, addr string) *Store {
	s := New(Options{Addr: addr, DialTimeout: config.DefaultRedisDialTimeout,
		ReadTimeout: config.DefaultRedisReadTimeout, WriteTimeout: config.DefaultRedisWriteTimeout})
	t.Cleanup(func() { s.Close() })
	return s
}

// opBound is the longest one store call may take against a dead or
// stalled server: one dial and one reply, plus scheduling slack for -race.
const opBound = config.DefaultRedisDialTimeout + config.DefaultRedisReadTimeout + 300*time.Millisecond

// settledGoroutines counts goroutines after giving finished ones a moment
// to exit.
func settledGoroutines() int {
	n := runtime.NumGoroutine()
	for range 50 {
		time.Sleep(10 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			return m
		}
		n = m
	}
	return n
}

// front is a cache route over a memory tier and the Redis store, in front
// of an origin that counts its requests.
type front struct {
	c       *cache.Cache
	h       http.Handler
	origin  atomic.Int64
	logs    testbackend.SyncBuffer
	maxBody int
}

func newFront(t *testing.T, rs *Store, rc *config.RouteCache, body string) *front {
	t.Helper()
	QuietClientLog()
	f := &front{}
	c, err := cache.New(cache.Options{Memory: memstore.New(64 << 20), Shared: rs, Bus: rs,
		Log: slog.New(slog.NewJSONHandler(&f.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.origin.Add(1)
		w.Header().Set("Cache-Control", "max-age=100")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write([]byte(body))
	})
	if rc == nil {
		rc = &config.RouteCache{}
	}
	rt, err := c.NewRoute(rc, origin)
	if err != nil {
		t.Fatal(err)
	}
	f.c, f.h = c, rt
	return f
}

func (f *front) get(path string) (*httptest.ResponseRecorder, time.Duration) {
	r := httptest.NewRequest("GET", "http://site.test"+path, nil)
	w := httptest.NewRecorder()
	start := time.Now()
	f.h.ServeHTTP(w, r)
	return w, time.Since(start)
}

// Case 1: Redis stopped while Portico runs.
func TestStoppedServerFailsFastWithoutPilingUp(t *testing.T) {
	srv := startServer(t)
	s := documented(t, srv.Addr)
	ctx := context.Background()
	warm := storetest.Entry("example.com/warm", 100)
	if err := s.Put(ctx, warm); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	op := func(i int) {
		e := storetest.Entry("example.com/x"+strconv.Itoa(i), 100)
		start := time.Now()
		if got, err := s.Get(ctx, e.Key); err == nil || got != nil {
			t.Fatalf("Get %d against a stopped server: %v, %v; want an error", i, got, err)
		}
		if err := s.Put(ctx, e); err == nil {
			t.Fatalf("Put %d against a stopped server reported no error", i)
		}
		if d := time.Since(start); d > 2*opBound {
			t.Fatalf("Get and Put %d took %v against a stopped server, want under %v", i, d, 2*opBound)
		}
	}
	for i := range 5 {
		op(i)
	}
	before := settledGoroutines()
	for i := range 100 {
		op(i)
	}
	after := settledGoroutines()
	if after > before+5 {
		t.Errorf("goroutines grew from %d to %d over 100 failed calls", before, after)
	}
	if st := s.c.PoolStats(); st.TotalConns > 1 {
		t.Errorf("pool holds %d connections to a stopped server", st.TotalConns)
	}
}

// A one-attempt dial: a refused connection costs no retry backoff.
func TestStoppedServerCostsOneDial(t *testing.T) {
	srv := startServer(t)
	s := documented(t, srv.Addr)
	srv.Stop()
	start := time.Now()
	if _, err := s.Get(context.Background(), "example.com/a\x00"); err == nil {
		t.Fatal("Get against a stopped server reported no error")
	}
	// A refused dial on loopback is immediate; retries with backoff are not.
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("Get against a stopped server took %v; a refused dial should fail at once", d)
	}
}

func TestStoppedServerServesFromOriginAndLogsOnce(t *testing.T) {
	srv := startServer(t)
	s := documented(t, srv.Addr)
	f := newFront(t, s, nil, "from origin")
	if w, _ := f.get("/warm"); w.Code != 200 {
		t.Fatalf("warm-up: %d", w.Code)
	}
	srv.Stop()
	before := settledGoroutines()
	deadline := time.Now().Add(2500 * time.Millisecond) // spans more than one backoff period
	n := 0
	for time.Now().Before(deadline) {
		w, d := f.get("/p" + strconv.Itoa(n))
		if w.Code != 200 || w.Body.String() != "from origin" {
			t.Fatalf("request %d with Redis stopped: %d %q", n, w.Code, w.Body.String())
		}
		if d > opBound {
			t.Fatalf("request %d took %v with Redis stopped, want under %v", n, d, opBound)
		}
		n++
		time.Sleep(5 * time.Millisecond)
	}
	if got := f.origin.Load(); got != int64(n)+1 {
		t.Errorf("origin saw %d requests, want %d", got, n+1)
	}
	after := settledGoroutines()
	if after > before+5 {
		t.Errorf("goroutines grew from %d to %d over %d requests", before, after, n)
	}
	if c := strings.Count(f.logs.String(), "cache store failing"); c != 1 {
		t.Errorf("logged %d store failures over %d requests, want 1 (rate limited): %s", c, n, f.logs.String())
	}
}

// sameEntry fails unless got is want as written.
func sameEntry(t *testing.T, got, want *cache.Entry) {
	t.Helper()
	if got == nil {
		t.Fatal("got a miss, want the entry")
	}
	a, _ := got.MarshalBinary()
	b, _ := want.MarshalBinary()
	if !bytes.Equal(a, b) {
		t.Fatalf("entry differs from what was written: key %q body %d bytes, want key %q body %d bytes",
			got.Key, len(got.Body), want.Key, len(want.Body))
	}
}

// eventually retries fn for up to d; the store must come back on its own.
func eventually(t *testing.T, d time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %v: %v", what, d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Case 2: Redis restarted under a running store.
func TestRestartedServerRecoversAndServesWholeEntriesOrMisses(t *testing.T) {
	srv := startServer(t)
	s := documented(t, srv.Addr)
	ctx := context.Background()
	saved := storetest.Entry("example.com/saved", 200<<10, "t")
	lost := storetest.Entry("example.com/lost", 200<<10)
	if err := s.Put(ctx, saved); err != nil {
		t.Fatal(err)
	}
	if err := s.c.Save(ctx).Err(); err != nil { // on disk: it comes back with the server
		t.Fatal(err)
	}
	if err := s.Put(ctx, lost); err != nil { // only in memory: gone with the server
		t.Fatal(err)
	}
	srv.Stop()
	if _, err := s.Get(ctx, saved.Key); err == nil {
		t.Fatal("Get with the server stopped reported no error")
	}
	srv.Start()
	var got *cache.Entry
	eventually(t, 2*time.Second, "Get after restart", func() (err error) {
		got, err = s.Get(ctx, saved.Key)
		return err
	})
	sameEntry(t, got, saved)
	if e, err := s.Get(ctx, lost.Key); e != nil || err != nil {
		t.Fatalf("entry written after the last save: got %v, %v; want a miss", e != nil, err)
	}
	fresh := storetest.Entry("example.com/fresh", 100)
	if err := s.Put(ctx, fresh); err != nil {
		t.Fatalf("Put after restart: %v", err)
	}
	got, err := s.Get(ctx, fresh.Key)
	if err != nil {
		t.Fatal(err)
	}
	sameEntry(t, got, fresh)
	if n, err := s.DeleteTag(ctx, "t"); err != nil || n != 1 {
		t.Fatalf("purge by tag after restart: %d, %v; want 1, nil", n, err)
	}
}

func TestRestartedServerDeliversPurgesAgain(t *testing.T) {
	srv := startServer(t)
	a, b := documented(t, srv.Addr), documented(t, srv.Addr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string, 100)
	if err := b.Subscribe(ctx, func(m []byte) { got <- string(m) }); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	time.Sleep(100 * time.Millisecond)
	srv.Start()
	// The subscriber reconnects on its own; publish until it hears one.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_ = a.Publish(ctx, []byte("after restart"))
		select {
		case m := <-got:
			if m != "after restart" {
				t.Fatalf("got %q", m)
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no purge message delivered within 10s of the restart")
		}
	}
}

// Case 3: Redis slow (the process paused with SIGSTOP: connections are
// accepted by the kernel, nothing answers).
func TestPausedServerHoldsNoCallPastTheTimeout(t *testing.T) {
	srv := startServer(t)
	s := documented(t, srv.Addr)
	f := newFront(t, s, nil, "from origin")
	ctx := context.Background()
	e := storetest.Entry("example.com/p", 100)
	if err := s.Put(ctx, e); err != nil {
		t.Fatal(err)
	}
	if w, _ := f.get("/warm"); w.Code != 200 {
		t.Fatalf("warm-up: %d", w.Code)
	}
	srv.Pause()
	// A Get waits for one reply; a Put may also wait to send its body.
	bound := config.DefaultRedisReadTimeout + 300*time.Millisecond
	putBound := config.DefaultRedisWriteTimeout + bound
	for i := range 3 {
		start := time.Now()
		if _, err := s.Get(ctx, e.Key); err == nil {
			t.Fatal("Get from a paused server reported no error")
		}
		if d := time.Since(start); d > bound {
			t.Fatalf("Get %d held %v by a paused server, want under %v", i, d, bound)
		}
		start = time.Now()
		if err := s.Put(ctx, storetest.Entry("example.com/big", 4<<20)); err == nil {
			t.Fatal("Put to a paused server reported no error")
		}
		if d := time.Since(start); d > putBound {
			t.Fatalf("Put %d held %v by a paused server, want under %v", i, d, putBound)
		}
	}
	time.Sleep(1100 * time.Millisecond) // past the cache's backoff: the next request asks Redis again
	w, d := f.get("/slow")
	if w.Code != 200 || w.Body.String() != "from origin" {
		t.Fatalf("request with Redis paused: %d %q", w.Code, w.Body.String())
	}
	if d > bound {
		t.Fatalf("request held %v by a paused Redis, want under %v", d, bound)
	}
	srv.Resume()
	// Once it answers again, replies match their commands: no late answer
	// to a timed-out call is read as another's.
	var got *cache.Entry
	eventually(t, 2*time.Second, "Get after resume", func() (err error) {
		got, err = s.Get(ctx, e.Key)
		return err
	})
	sameEntry(t, got, e)
}

// Case 5: bodies over max_object never reach Redis.
func TestEntryOverMaxObjectIsNotWritten(t *testing.T) {
	srv := startServer(t)
	s := documented(t, srv.Addr)
	ctx := context.Background()
	rc := &config.RouteCache{MaxObject: 1 << 10}
	big := newFront(t, s, rc, strings.Repeat("b", 4<<10))
	w, _ := big.get("/big")
	if w.Code != 200 || w.Body.Len() != 4<<10 {
		t.Fatalf("big: %d, %d bytes", w.Code, w.Body.Len())
	}
	if n, err := s.c.DBSize(ctx).Result(); err != nil || n != 0 {
		t.Fatalf("Redis holds %d keys (%v) after a body over max_object", n, err)
	}
	small := newFront(t, s, rc, strings.Repeat("s", 1<<10))
	if w, _ := small.get("/small"); w.Code != 200 || w.Body.Len() != 1<<10 {
		t.Fatalf("small: %d, %d bytes", w.Code, w.Body.Len())
	}
	if n, err := s.c.DBSize(ctx).Result(); err != nil || n != 1 {
		t.Fatalf("Redis holds %d keys (%v) after a body at max_object, want 1", n, err)
	}
}
