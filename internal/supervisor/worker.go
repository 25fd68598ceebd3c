package supervisor

import (
	"fmt"
	"io"
	"os"
	"strconv"
)

// Worker is this process's place among the workers (see Join).
type Worker struct {
	Index int
	// Secret is shared by every worker of one supervisor; the TLS session
	// ticket keys are derived from it, so a client resumes on any worker.
	Secret []byte

	ready    *os.File
	orphaned chan struct{}
}

// Join tells whether this process was started by a supervisor, and if so
// takes the two pipes it inherited. It returns nil when the process is
// not a worker.
func Join() (*Worker, error) {
	v, ok := os.LookupEnv(envWorker)
	if !ok {
		return nil, nil
	}
	index, err := strconv.Atoi(v)
	if err != nil || index < 0 {
		return nil, fmt.Errorf("%s=%q is not a worker index", envWorker, v)
	}
	lifeline, ready := os.NewFile(3, "lifeline"), os.NewFile(4, "ready")
	if lifeline == nil || ready == nil {
		return nil, fmt.Errorf("worker %d: started without the supervisor's pipes", index)
	}
	w := &Worker{Index: index, Secret: make([]byte, secretLen), ready: ready, orphaned: make(chan struct{})}
	if _, err := io.ReadFull(lifeline, w.Secret); err != nil {
		return nil, fmt.Errorf("worker %d: reading the secret from the supervisor: %w", index, err)
	}
	go func() {
		_, _ = io.Copy(io.Discard, lifeline)
		close(w.orphaned)
	}()
	return w, nil
}

// Ready tells the supervisor that the listeners are bound, and where this
// worker's admin API listens ("" without one).
func (w *Worker) Ready(adminAddr string) error {
	defer w.ready.Close()
	if _, err := fmt.Fprintf(w.ready, "ready %s\n", adminAddr); err != nil {
		return fmt.Errorf("worker %d: telling the supervisor: %w", w.Index, err)
	}
	return nil
}

// Orphaned is closed when the supervisor has gone (its end of the
// lifeline closed, even by a crash): the worker should drain and exit,
// or it would serve on with nobody to stop it.
func (w *Worker) Orphaned() <-chan struct{} { return w.orphaned }
