//go:build unix

package supervisor

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/testbackend"
)

// The test binary doubles as the worker: started by a Supervisor it has
// PORTICO_WORKER set and plays the part TEST_WORKER_MODE names.
func TestMain(m *testing.M) {
	if _, ok := os.LookupEnv(envWorker); ok {
		os.Exit(playWorker(os.Getenv("TEST_WORKER_MODE")))
	}
	os.Exit(m.Run())
}

func playWorker(mode string) int {
	w, err := Join()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	switch mode {
	case "serve": // ready, then wait for SIGTERM or the supervisor's end
		w.Ready(fmt.Sprintf("127.0.0.1:%d", 9000+w.Index))
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM)
		select {
		case <-sigs:
		case <-w.Orphaned():
		}
		return 0
	case "crash": // ready, then dies
		w.Ready("")
		return 1
	case "fail": // dies before it is ready, as with a port taken
		fmt.Fprintln(os.Stderr, "listener :80: address already in use")
		return 1
	case "silent": // never says a word
		time.Sleep(time.Minute)
		return 0
	case "babble":
		fmt.Fprintf(w.ready, "hello\n")
		time.Sleep(time.Minute)
		return 0
	}
	return 2
}

func options(t *testing.T, mode string, workers int, log *testbackend.SyncBuffer) Options {
	t.Setenv("TEST_WORKER_MODE", mode)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Options{Exe: exe, Workers: workers, GOMAXPROCS: 1, ReadyTimeout: 5 * time.Second,
		StopTimeout: 10 * time.Second, Stdout: os.Stdout, Stderr: os.Stderr,
		Log: slog.New(slog.NewTextHandler(log, nil))}
}

func TestStartRefusesWorkersThatAreNotReady(t *testing.T) {
	tests := []struct {
		mode, want string
		timeout    time.Duration
	}{
		{"fail", "worker 0: exited before it was ready (exit status 1)", 0},
		{"silent", "worker 0: not ready within 300ms", 300 * time.Millisecond},
		{"babble", `worker 0: unexpected ready line "hello\n"`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			opts := options(t, tt.mode, 2, &testbackend.SyncBuffer{})
			if tt.timeout > 0 {
				opts.ReadyTimeout = tt.timeout
			}
			s, err := Start(opts)
			if err == nil {
				s.Stop()
				t.Fatalf("got a running supervisor, want %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("got %q, want %q", err, tt.want)
			}
		})
	}
}

func TestWorkersReportReadyAndStop(t *testing.T) {
	s, err := Start(options(t, "serve", 3, &testbackend.SyncBuffer{}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(s.AdminAddrs(), " "), "127.0.0.1:9000 127.0.0.1:9001 127.0.0.1:9002"; got != want {
		t.Errorf("admin addresses: got %q, want %q", got, want)
	}
	pids := s.PIDs()
	s.Stop()
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("worker %d still running after Stop", pid)
		}
	}
}

// TestACrashingWorkerIsRestartedWithAGrowingPause: a worker that dies
// right after its start is started again, each time after twice the
// pause before; the slot reads as down ("") meanwhile.
func TestACrashingWorkerIsRestartedWithAGrowingPause(t *testing.T) {
	log := &testbackend.SyncBuffer{}
	s, err := Start(options(t, "crash", 1, log))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"in=100ms", "in=200ms", "in=400ms"}
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(log.String(), "worker exited; restarting") < len(want) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	s.Stop()
	var got []string
	for _, line := range strings.Split(log.String(), "\n") {
		if strings.Contains(line, "worker exited; restarting") {
			got = append(got, line[strings.LastIndex(line, " ")+1:])
		}
	}
	if len(got) < len(want) || strings.Join(got[:len(want)], " ") != strings.Join(want, " ") {
		t.Fatalf("restart pauses: got %v, want %v first", got, want)
	}
	if addrs := s.AdminAddrs(); len(addrs) != 1 || addrs[0] != "" {
		t.Errorf("after Stop: got admin addresses %q, want one empty slot", addrs)
	}
}

// TestWorkersLeaveWhenTheLifelineCloses: the lifeline's end is how a
// worker learns its supervisor is gone, however it went.
func TestWorkersLeaveWhenTheLifelineCloses(t *testing.T) {
	s, err := Start(options(t, "serve", 2, &testbackend.SyncBuffer{}))
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	workers := append([]*worker(nil), s.workers...)
	s.stopping = true // no restarts: this stands for a supervisor that died
	s.mu.Unlock()
	for _, w := range workers {
		w.lifeline.Close()
	}
	for _, w := range workers {
		select {
		case <-w.waited:
			if !w.cmd.ProcessState.Success() {
				t.Errorf("worker %d: %v, want a clean exit", w.index, w.cmd.ProcessState)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("worker %d still running 20s after its lifeline closed", w.index)
		}
	}
}
