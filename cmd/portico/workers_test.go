//go:build unix

package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/supervisor"
)

// workerRun is the built binary started with a workers config, and its
// log lines as they come.
type workerRun struct {
	t      *testing.T
	cmd    *exec.Cmd
	cfg    string
	listen string // the shared listener address
	admin  string
	lines  chan map[string]any
	done   chan error
}

// startWorkerRun writes a config with the given number of workers and one
// route answering body, and starts the binary on it.
func startWorkerRun(t *testing.T, workers int, body string) *workerRun {
	t.Helper()
	bin := buildBinary(t)
	r := &workerRun{t: t, cfg: filepath.Join(t.TempDir(), "portico.yaml"), listen: freeAddr(t), admin: freeAddr(t),
		lines: make(chan map[string]any, 100), done: make(chan error, 1)}
	r.write(workers, body)
	r.cmd = exec.Command(bin, "run", "-c", r.cfg)
	stderr, _ := r.cmd.StderrPipe()
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.cmd.Process.Kill() })
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil {
				r.lines <- line
			}
		}
		close(r.lines)
		r.done <- r.cmd.Wait()
	}()
	return r
}

func (r *workerRun) write(workers int, body string) {
	yaml := "workers: " + strconv.Itoa(workers) + "\ndrain_timeout: 5s\nadmin: {addr: \"" + r.admin + "\"}\n" +
		"listeners:\n  - addr: \"" + r.listen + "\"\nroutes:\n  - match: /\n    respond: " + body + "\n"
	if err := os.WriteFile(r.cfg, []byte(yaml), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// next waits for a log line with msg from each of the workers named (in
// any order), or from anyone when none is named, and returns the last.
func (r *workerRun) next(msg string, workers ...int) map[string]any {
	r.t.Helper()
	want := map[int]bool{}
	for _, w := range workers {
		want[w] = true
	}
	deadline := time.After(20 * time.Second)
	for {
		select {
		case line, ok := <-r.lines:
			if !ok {
				r.t.Fatalf("the process ended before a %q log line", msg)
			}
			if line["msg"] != msg {
				continue
			}
			w, _ := line["worker"].(float64)
			delete(want, int(w))
			if len(want) == 0 {
				return line
			}
		case <-deadline:
			r.t.Fatalf("no %q log line", msg)
		}
	}
}

// get makes one request on a new connection.
func (r *workerRun) get(timeout time.Duration) (string, error) {
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := c.Get("http://" + r.listen + "/")
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return string(b), err
}

func (r *workerRun) wantBody(want string, n int) {
	r.t.Helper()
	for i := range n {
		if got, err := r.get(10 * time.Second); err != nil || got != want {
			r.t.Fatalf("request %d: got %q, %v; want %q", i, got, err, want)
		}
	}
}

// workerStatus is one entry of the admin relay's answer to /api/status.
type workerStatus struct {
	Worker int `json:"worker"`
	Status int `json:"status"`
	Body   struct {
		PID        int `json:"pid"`
		Reloads    int `json:"reloads"`
		GoMaxProcs int `json:"gomaxprocs"`
	} `json:"body"`
}

func (r *workerRun) status() []workerStatus {
	r.t.Helper()
	res, err := http.Get("http://" + r.admin + "/api/status")
	if err != nil {
		r.t.Fatal(err)
	}
	defer res.Body.Close()
	var st struct{ Workers []workerStatus }
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil || res.StatusCode != 200 {
		r.t.Fatalf("admin relay /api/status: %d, %v", res.StatusCode, err)
	}
	return st.Workers
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func pidsOf(st []workerStatus) []int {
	var pids []int
	for _, s := range st {
		pids = append(pids, s.Body.PID)
	}
	return pids
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// TestBinaryWorkersShareTheListener: with workers: 2 two processes accept
// on one address, a reload reaches both, a worker that dies is replaced
// while the other serves on, and SIGTERM drains them all.
func TestBinaryWorkersShareTheListener(t *testing.T) {
	r := startWorkerRun(t, 2, "first")
	r.next("workers serving")
	r.wantBody("first", 10)
	st := r.status()
	if len(st) != 2 {
		t.Fatalf("admin relay: got %d workers, want 2", len(st))
	}
	pids := pidsOf(st)
	for _, s := range st {
		if s.Body.PID == 0 || s.Body.PID == r.cmd.Process.Pid || s.Body.GoMaxProcs < 1 {
			t.Fatalf("worker %d: got pid %d (supervisor %d), gomaxprocs %d", s.Worker, s.Body.PID, r.cmd.Process.Pid, s.Body.GoMaxProcs)
		}
	}

	// With one worker frozen, the kernel still hands it about half of the
	// new connections: those wait, the others are answered at once.
	syscall.Kill(pids[1], syscall.SIGSTOP)
	var mu sync.Mutex
	var answered, stuck int
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := r.get(1500 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				answered++
			} else {
				stuck++
			}
		}()
	}
	wg.Wait()
	syscall.Kill(pids[1], syscall.SIGCONT)
	if answered == 0 || stuck == 0 {
		t.Fatalf("with worker 1 frozen: %d answered, %d waiting; want both workers to take connections", answered, stuck)
	}

	r.write(2, "second")
	r.cmd.Process.Signal(syscall.SIGHUP)
	r.next("reloaded", 0, 1)
	r.wantBody("second", 10)

	syscall.Kill(pids[0], syscall.SIGKILL)
	r.next("worker exited; restarting", 0)
	r.wantBody("second", 10) // worker 1 alone
	r.next("worker ready", 0)
	st = r.status()
	if len(st) != 2 || st[0].Body.PID == pids[0] || st[1].Body.PID != pids[1] {
		t.Fatalf("after worker 0 was killed: got pids %v, want a new worker 0 beside %d", pidsOf(st), pids[1])
	}
	r.wantBody("second", 10)

	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	for _, pid := range pidsOf(st) {
		if alive(pid) {
			t.Errorf("worker %d still running after the supervisor exited", pid)
		}
	}
}

// TestBinaryWorkersLeaveWhenTheSupervisorDies: a supervisor killed
// outright cannot stop its workers; they notice their lifeline close and
// drain, so no orphan keeps the port.
func TestBinaryWorkersLeaveWhenTheSupervisorDies(t *testing.T) {
	r := startWorkerRun(t, 2, "ok")
	r.next("workers serving")
	pids := pidsOf(r.status())
	r.cmd.Process.Kill()
	r.next("draining: the supervisor is gone", 0, 1)
	deadline := time.Now().Add(20 * time.Second)
	for _, pid := range pids {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if alive(pid) {
			t.Errorf("worker %d still running 20s after its supervisor was killed", pid)
		}
	}
	if _, err := r.get(time.Second); err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("after the workers left: got %v, want connection refused", err)
	}
}

// TestBinaryWorkersStartFailsWhenThePortIsTaken: a port held by another
// program (not shared) fails the start with the worker's own error, and
// no worker is left behind.
func TestBinaryWorkersStartFailsWhenThePortIsTaken(t *testing.T) {
	bin := buildBinary(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := filepath.Join(t.TempDir(), "portico.yaml")
	yaml := "workers: 2\nlisteners:\n  - addr: \"" + taken.Addr().String() + "\"\nroutes:\n  - respond: ok\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "-c", cfg)
	cmd.WaitDelay = 30 * time.Second
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatal("want a non-zero exit")
	}
	for _, want := range []string{"address already in use", "worker 0: exited before it was ready"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestWorkerConfigSplitsTheCacheAndMovesTheAdmin: each worker keeps its
// own stores, so the configured sizes are shared out, the disk tier gets
// a directory per worker, and the admin API moves to a port of its own
// on the same loopback host (the supervisor answers the configured one).
func TestWorkerConfigSplitsTheCacheAndMovesTheAdmin(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "portico.yaml")
	yaml := "workers: 4\nadmin: {addr: \"[::1]:9901\"}\ncache:\n  memory: 256MiB\n  disk: {path: \"" + dir + "/cache\", max: 1GiB}\n" +
		"listeners:\n  - addr: \"127.0.0.1:8080\"\nroutes:\n  - respond: ok\n"
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadWorkerConfig(path, &supervisor.Worker{Index: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Admin.Addr, "[::1]:0"; got != want {
		t.Errorf("admin: got %s, want %s", got, want)
	}
	if got, want := cfg.Cache.Memory, int64(64<<20); got != want {
		t.Errorf("cache.memory: got %d, want %d", got, want)
	}
	if got, want := cfg.Cache.Disk.Max, int64(256<<20); got != want {
		t.Errorf("cache.disk.max: got %d, want %d", got, want)
	}
	if got, want := cfg.Cache.Disk.Path, filepath.Join(dir, "cache", "worker-2"); got != want {
		t.Errorf("cache.disk.path: got %s, want %s", got, want)
	}
}
