package redisstore

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/cache"
	"github.com/portico-proxy/portico/internal/cache/memstore"
	"github.com/portico-proxy/portico/internal/cache/storetest"
	"github.com/portico-proxy/portico/internal/config"
)

// server is a real redis-server the test can stop, start again on the
// same port, and pause (SIGSTOP) as a stand-in for a slow one. Like
// storetest.StartRedis, it skips without the binary unless
// PORTICO_REQUIRE_REAL is set.
type server struct {
	t    *testing.T
	bin  string
	port int
	dir  string
	addr string
	mu   sync.Mutex
	cmd  *exec.Cmd
}

func startServer(t *testing.T) *server {
	t.Helper()
	QuietClientLog() // as cmd/portico does: the cache logs failures itself
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("PORTICO_REQUIRE_REAL") != "" {
			t.Fatal("redis-server not found and PORTICO_REQUIRE_REAL is set")
		}
		t.Skip("redis-server not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &server{t: t, bin: bin, port: port, dir: t.TempDir(), addr: "127.0.0.1:" + strconv.Itoa(port)}
	s.start()
	t.Cleanup(s.stop)
	return s
}

// start runs the server on its port; what a SAVE wrote to the directory
// is loaded again.
func (s *server) start() {
	s.t.Helper()
	cmd := exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir)
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", s.addr, time.Second); err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			_, _ = c.Write([]byte("PING\r\n"))
			buf := make([]byte, 16)
			n, _ := c.Read(buf)
			c.Close()
			if strings.HasPrefix(string(buf[:n]), "+PONG") {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("redis-server on %s did not answer within 10s", s.addr)
}

func (s *server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

func (s *server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
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

// syncBuffer is a log sink the test reads while the cache writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// front is a cache route over a memory tier and the Redis store, in front
// of an origin that counts its requests.
type front struct {
	c       *cache.Cache
	h       http.Handler
	origin  atomic.Int64
	logs    syncBuffer
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
	s := documented(t, srv.addr)
	ctx := context.Background()
	warm := storetest.Entry("example.com/warm", 100)
	if err := s.Put(ctx, warm); err != nil {
		t.Fatal(err)
	}
	srv.stop()
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
	s := documented(t, srv.addr)
	srv.stop()
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
	s := documented(t, srv.addr)
	f := newFront(t, s, nil, "from origin")
	if w, _ := f.get("/warm"); w.Code != 200 {
		t.Fatalf("warm-up: %d", w.Code)
	}
	srv.stop()
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
