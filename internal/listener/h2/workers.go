package h2

import (
	"sync"
	"time"
)

// workerSweep is how often idle handler goroutines are looked at: one
// idle through a whole period exits.
const workerSweep = 10 * time.Second

// workers keeps the goroutines that ran a stream's handler for the next
// stream. A new goroutine starts with a small stack and grows it, by
// copying, each time the handler chain goes deeper; a kept one already
// has the stack the chain needs.
type workers struct {
	mu      sync.Mutex
	idle    []*worker // the most recently used last: its stack is warm
	sweeper bool
	stopped bool
	stop    chan struct{}
}

type worker struct {
	next   chan *stream // nil: exit
	marked bool         // idle at the last sweep (guarded by workers.mu)
}

// run has st's handler run by an idle worker, or by a new one.
func (p *workers) run(st *stream) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle = p.idle[:n-1]
		w.marked = false
		p.mu.Unlock()
		w.next <- st
		return
	}
	if !p.sweeper && !p.stopped {
		p.sweeper = true
		p.stop = make(chan struct{})
		go p.sweep(p.stop)
	}
	p.mu.Unlock()
	w := &worker{next: make(chan *stream, 1)}
	go w.loop(p, st)
}

func (w *worker) loop(p *workers, st *stream) {
	for st != nil {
		st.run(st.handler)
		p.mu.Lock()
		if p.stopped {
			p.mu.Unlock()
			return
		}
		p.idle = append(p.idle, w)
		p.mu.Unlock()
		st = <-w.next
	}
}

// sweep ends the workers that stayed idle for a whole period.
func (p *workers) sweep(stop chan struct{}) {
	t := time.NewTicker(workerSweep)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		p.mu.Lock()
		kept := p.idle[:0]
		for _, w := range p.idle {
			if w.marked {
				w.next <- nil
				continue
			}
			w.marked = true
			kept = append(kept, w)
		}
		clear(p.idle[len(kept):])
		p.idle = kept
		p.mu.Unlock()
	}
}

// close ends every idle worker and the sweeper; busy ones end when their
// stream does.
func (p *workers) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.stopped = true
	for _, w := range p.idle {
		w.next <- nil
	}
	p.idle = nil
	if p.sweeper {
		close(p.stop)
	}
}
