package storetest

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// StartRedis starts a real redis-server on a free loopback port for the
// test and returns its address and a stop function (for tests that take
// Redis away); it is stopped when the test ends in any case. Without the
// binary the test is skipped, unless PORTICO_REQUIRE_REAL is set.
func StartRedis(t testing.TB) (addr string, stop func()) {
	r := NewRedis(t)
	return r.Addr, r.Stop
}

// Redis is a real redis-server for a test that can also stop it, start
// it again on the same port (what a SAVE wrote is loaded again), and
// pause it (SIGSTOP) as a stand-in for a slow one.
type Redis struct {
	Addr string

	t    testing.TB
	bin  string
	port int
	dir  string
	mu   sync.Mutex
	cmd  *exec.Cmd
}

// NewRedis starts a Redis as StartRedis does, and gives the test the
// handle; it is stopped when the test ends.
func NewRedis(t testing.TB) *Redis {
	t.Helper()
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
	r := &Redis{Addr: "127.0.0.1:" + strconv.Itoa(port), t: t, bin: bin, port: port, dir: t.TempDir()}
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// Start runs the server on its port and waits (bounded) for it to answer.
func (r *Redis) Start() {
	r.t.Helper()
	cmd := exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir)
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.cmd = cmd
	r.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if ping(r.Addr) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.t.Fatalf("redis-server on %s did not answer within 10s", r.Addr)
}

// Stop kills the server (a paused one too); stopping twice is harmless.
func (r *Redis) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		_ = r.cmd.Process.Signal(continueSignal)
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		r.cmd = nil
	}
}

// Pause stops the server process without ending it; Resume lets it go on.
// Both need Unix signals: elsewhere the test is skipped.
func (r *Redis) Pause()  { r.signal(stopSignal) }
func (r *Redis) Resume() { r.signal(continueSignal) }

func (r *Redis) signal(sig os.Signal) {
	if sig == nil {
		r.t.Skip("pausing a process needs Unix signals")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatal(err)
	}
}

func ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}
