// Package supervisor owns Portico's worker processes. With `workers: N`
// the process the operator started serves no request itself: it starts N
// copies of its own binary, each a whole Portico that binds the listener
// addresses with SO_REUSEPORT, passes signals on to them, restarts one
// that dies, and stops them all on SIGTERM. It must not read requests or
// build routes; the workers do.
//
// Why processes: a Go process waits for network events in one poller
// thread, and on a busy machine that thread is often woken on a CPU that
// is running something else, while another CPU idles (docs/performance.md).
// N processes have N pollers, as nginx has N workers.
//
// A worker learns what it is from its environment and two inherited
// pipes (see Join): the lifeline (fd 3), which carries the secret the
// workers derive TLS session ticket keys from and ends when the
// supervisor goes away, and the ready pipe (fd 4), on which the worker
// reports that its listeners are bound and where its admin API listens.
package supervisor

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// envWorker carries the worker's index; its presence makes a process a
// worker.
const envWorker = "PORTICO_WORKER"

// secretLen is the size of the shared secret sent down the lifeline.
const secretLen = 32

// Options describes the workers to start.
type Options struct {
	Exe     string   // the binary; usually os.Executable()
	Args    []string // its arguments, without the program name
	Workers int
	// GOMAXPROCS is each worker's; 0 leaves the runtime's default.
	GOMAXPROCS int
	// ReadyTimeout bounds how long a worker may take to bind its
	// listeners; 0 means a minute.
	ReadyTimeout time.Duration
	// StopTimeout is how long stopping workers get to drain before they
	// are killed; the workers' own drain_timeout should be shorter.
	StopTimeout time.Duration
	Stdout      io.Writer // the workers' stdout (access logs) and stderr
	Stderr      io.Writer
	Log         *slog.Logger
}

// Supervisor runs the workers.
type Supervisor struct {
	opts    Options
	secret  []byte
	stopped chan struct{} // closed by Stop: ends pauses before restarts

	mu         sync.Mutex
	workers    []*worker // by index; nil while one is being restarted
	stopping   bool
	restarting sync.WaitGroup
}

type worker struct {
	index    int
	cmd      *exec.Cmd
	admin    string   // its admin API's host:port, "" without one
	lifeline *os.File // our end; closing it tells the worker to stop
	started  time.Time
	pause    time.Duration // how long the restart that started it waited
	waited   chan struct{} // closed when cmd.Wait returned
}

// Start starts every worker and waits until each reports ready. If one
// fails, the ones started are stopped and the error says which failed.
func Start(opts Options) (*Supervisor, error) {
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = time.Minute
	}
	s := &Supervisor{opts: opts, secret: make([]byte, secretLen), stopped: make(chan struct{}),
		workers: make([]*worker, opts.Workers)}
	if _, err := rand.Read(s.secret); err != nil {
		return nil, fmt.Errorf("workers: %w", err)
	}
	for i := range opts.Workers {
		w, err := s.spawn(i)
		if err != nil {
			s.Stop()
			return nil, err
		}
		s.install(w)
	}
	return s, nil
}

// spawn starts worker i and waits for its ready line.
func (s *Supervisor) spawn(i int) (*worker, error) {
	lifeR, lifeW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("worker %d: %w", i, err)
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		lifeR.Close()
		lifeW.Close()
		return nil, fmt.Errorf("worker %d: %w", i, err)
	}
	defer readyR.Close()
	cmd := exec.Command(s.opts.Exe, s.opts.Args...)
	cmd.Env = append(os.Environ(), envWorker+"="+strconv.Itoa(i))
	if s.opts.GOMAXPROCS > 0 {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(s.opts.GOMAXPROCS))
	}
	cmd.ExtraFiles = []*os.File{lifeR, readyW} // fds 3 and 4
	cmd.Stdout, cmd.Stderr = s.opts.Stdout, s.opts.Stderr
	err = cmd.Start()
	lifeR.Close()
	readyW.Close()
	if err != nil {
		lifeW.Close()
		return nil, fmt.Errorf("worker %d: %w", i, err)
	}
	w := &worker{index: i, cmd: cmd, lifeline: lifeW, started: time.Now(), waited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(w.waited)
	}()
	// The secret first: the worker reads it before it builds its TLS
	// listeners. The pipe buffer takes it without the worker reading.
	if _, err = lifeW.Write(s.secret); err == nil {
		w.admin, err = awaitReady(readyR, w, s.opts.ReadyTimeout)
	}
	if err != nil {
		_ = cmd.Process.Kill()
		lifeW.Close()
		<-w.waited
		return nil, fmt.Errorf("worker %d: %w", i, err)
	}
	s.opts.Log.Info("worker ready", "worker", i, "pid", cmd.Process.Pid)
	return w, nil
}

// awaitReady reads the worker's one line, "ready" or "ready ADMINADDR".
// The worker exiting first closes the pipe, which ends the read.
func awaitReady(r *os.File, w *worker, timeout time.Duration) (string, error) {
	_ = r.SetReadDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return "", fmt.Errorf("not ready within %s", timeout)
		}
		select {
		case <-w.waited:
			return "", fmt.Errorf("exited before it was ready (%v)", w.cmd.ProcessState)
		case <-time.After(time.Second):
			return "", fmt.Errorf("closed its ready pipe without a word: %w", err)
		}
	}
	f := strings.Fields(line)
	if len(f) == 0 || f[0] != "ready" || len(f) > 2 {
		return "", fmt.Errorf("unexpected ready line %q", line)
	}
	if len(f) == 2 {
		return f[1], nil
	}
	return "", nil
}

// install puts a ready worker in its slot and watches for its exit.
// Once Stop has begun it stops the worker instead: Stop only waits for
// the workers it found in their slots, and none may outlive it.
func (s *Supervisor) install(w *worker) {
	s.mu.Lock()
	stopping := s.stopping
	if !stopping {
		s.workers[w.index] = w
	}
	s.mu.Unlock()
	if stopping {
		_ = w.cmd.Process.Signal(syscall.SIGTERM)
		<-w.waited
		w.lifeline.Close()
		return
	}
	go s.watch(w)
}

// watch restarts a worker that exits while the supervisor is not
// stopping. One that keeps dying soon after it starts is restarted with a
// growing pause, so that a broken machine (a full disk, a port taken
// away) is not hammered.
func (s *Supervisor) watch(w *worker) {
	<-w.waited
	w.lifeline.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.workers[w.index] == w {
		s.workers[w.index] = nil
	}
	if s.stopping {
		return
	}
	pause := restartFirst
	if time.Since(w.started) < restartReset {
		pause = min(max(2*w.pause, restartFirst), restartMax)
	}
	s.opts.Log.Error("worker exited; restarting", "worker", w.index, "pid", w.cmd.Process.Pid,
		"status", w.cmd.ProcessState.String(), "in", pause.String())
	s.restarting.Add(1)
	go s.restart(w.index, pause)
}

const (
	restartFirst = 100 * time.Millisecond
	restartMax   = 10 * time.Second
	restartReset = 30 * time.Second // a worker that lived this long starts the pause over
)

func (s *Supervisor) restart(i int, pause time.Duration) {
	defer s.restarting.Done()
	for {
		select {
		case <-s.stopped:
			return
		case <-time.After(pause):
		}
		w, err := s.spawn(i)
		if err != nil {
			pause = min(2*pause, restartMax)
			s.opts.Log.Error("worker restart failed", "worker", i, "err", err.Error(), "retry_in", pause.String())
			continue
		}
		w.pause = pause
		s.install(w)
		return
	}
}

// AdminAddrs lists the workers' admin addresses by worker index, for the
// admin relay; "" is a worker being restarted, so that the relay reports
// it as down rather than skipping it (a drain that misses a worker must
// not look like success).
func (s *Supervisor) AdminAddrs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	addrs := make([]string, len(s.workers))
	for i, w := range s.workers {
		if w != nil {
			addrs[i] = w.admin
		}
	}
	return addrs
}

// PIDs lists the live workers' process IDs, in worker order.
func (s *Supervisor) PIDs() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var pids []int
	for _, w := range s.workers {
		if w != nil {
			pids = append(pids, w.cmd.Process.Pid)
		}
	}
	return pids
}

// Signal sends sig to every live worker.
func (s *Supervisor) Signal(sig os.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.workers {
		if w != nil {
			_ = w.cmd.Process.Signal(sig)
		}
	}
}

// Stop asks every worker to drain (SIGTERM), waits until they have
// exited, and kills the ones still there after StopTimeout. Their
// watchers close the lifelines.
func (s *Supervisor) Stop() {
	s.mu.Lock()
	if !s.stopping {
		close(s.stopped)
	}
	s.stopping = true
	var live []*worker
	for _, w := range s.workers {
		if w != nil {
			live = append(live, w)
		}
	}
	s.mu.Unlock()
	for _, w := range live {
		_ = w.cmd.Process.Signal(syscall.SIGTERM)
	}
	deadline := time.After(s.opts.StopTimeout)
	for _, w := range live {
		select {
		case <-w.waited:
		case <-deadline:
			s.opts.Log.Error("worker still draining at the stop timeout; killing it", "worker", w.index)
			_ = w.cmd.Process.Kill()
			<-w.waited
		}
	}
	s.restarting.Wait()
}
