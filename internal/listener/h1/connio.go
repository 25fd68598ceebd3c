package h1

// This file holds what sits between the buffers and the socket: the
// reader under the bufio.Reader (replayed bytes, the byte a background
// read caught, the body read idle deadline), the writer under the
// bufio.Writer (the write idle deadline), the buffer pools, and the
// background read that notices a client going away while its handler
// runs.

import (
	"bufio"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portico-proxy/portico/internal/listener/httpreq"
)

const (
	readBufSize  = 4 << 10
	writeBufSize = 8 << 10
	preSize      = 4 << 10  // body staged before the framing is known; chunk batching
	copyBufSize  = 32 << 10 // ReadFrom fallback copies
	// bgReadDelay is how long a handler runs, its request body consumed,
	// before a background read starts watching for the client going away.
	bgReadDelay = 50 * time.Millisecond
	// maxPushEvery bounds how often an idle deadline is moved.
	maxPushEvery = time.Second
)

// pushNeeded, as a last-push time, makes the next operation push.
const pushNeeded = -1 << 62

var monoEpoch = time.Now()

var (
	readerPool sync.Pool // *bufio.Reader of readBufSize
	writerPool sync.Pool // *bufio.Writer of writeBufSize
	prePool    = sync.Pool{New: func() any { b := make([]byte, 0, preSize); return &b }}
	copyPool   = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}
)

// aLongTimeAgo is a deadline in the past, to unblock a read at once.
var aLongTimeAgo = time.Unix(1, 0)

func getPre() *[]byte  { return prePool.Get().(*[]byte) }
func putPre(b *[]byte) { *b = (*b)[:0]; prePool.Put(b) }

func getReader(r *connReader) *bufio.Reader {
	if br, _ := readerPool.Get().(*bufio.Reader); br != nil {
		br.Reset(r)
		return br
	}
	return bufio.NewReaderSize(r, readBufSize)
}

func putReader(br *bufio.Reader) {
	if br.Size() == readBufSize {
		br.Reset(nil)
		readerPool.Put(br)
	}
}

func getWriter(w *connWriter) *bufio.Writer {
	if bw, _ := writerPool.Get().(*bufio.Writer); bw != nil {
		bw.Reset(w)
		return bw
	}
	return bufio.NewWriterSize(w, writeBufSize)
}

func putWriter(bw *bufio.Writer) {
	bw.Reset(nil)
	writerPool.Put(bw)
}

// pushInterval is how often at most an idle deadline of d is moved: the
// deadline in force is then always at least 3/4 of d after the last
// progress.
func pushInterval(d time.Duration) int64 {
	return int64(min(maxPushEvery, d/4))
}

// connReader is what the connection's bufio.Reader reads from.
type connReader struct {
	c        *conn
	pending  []byte // bytes read before the buffer grew, replayed first
	hasByte  bool   // byteBuf holds a byte the background read caught
	byteBuf  [1]byte
	body     bool  // reading a request body: push the read idle deadline
	lastPush int64 // monotonic time of the last push
	external atomic.Bool
}

func (r *connReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		return n, nil
	}
	if r.hasByte {
		p[0] = r.byteBuf[0]
		r.hasByte = false
		return 1, nil
	}
	c := r.c
	if idle := c.s.o.ReadIdleTimeout; r.body && idle > 0 && !r.external.Load() {
		now := time.Now()
		if mono := int64(now.Sub(monoEpoch)); mono-r.lastPush >= c.s.readPush {
			c.readDeadlineMoved.Store(true)
			_ = c.rwc.SetReadDeadline(now.Add(idle))
			r.lastPush = mono
		}
	}
	return c.rwc.Read(p)
}

// connWriter is what the connection's bufio.Writer writes to. With a
// write idle timeout, the write deadline is moved forward before a write
// when it was last moved more than pushInterval ago, and a write that
// timed out after making progress is resumed: a slow but steady client is
// served in full, one that stops reading fails after WriteIdleTimeout.
// An explicit deadline (SetWriteDeadline) takes over until cleared.
type connWriter struct {
	c        *conn
	idle     time.Duration // 0 after a hijack
	lastPush int64
	n        int64 // bytes written to the connection
	external atomic.Bool
	// hold makes Write keep a reference to its bytes in held instead of
	// writing them; see writeGathered.
	hold bool
	held []byte
}

func (w *connWriter) Write(p []byte) (int, error) {
	if w.hold {
		w.held = p
		return len(p), nil
	}
	rwc := w.c.rwc
	if w.idle <= 0 || w.external.Load() {
		n, err := rwc.Write(p)
		w.n += int64(n)
		return n, err
	}
	w.maybePush(false)
	total := 0
	for {
		n, err := rwc.Write(p)
		total += n
		w.n += int64(n)
		if err == nil || n == 0 || !errors.Is(err, os.ErrDeadlineExceeded) || w.external.Load() {
			return total, err
		}
		p = p[n:]
		w.maybePush(true)
	}
}

// writeGathered writes what the connection's bufio.Writer holds and then
// p in one writev, so a response head and a body larger than the buffer
// leave in one syscall instead of two. Only for plain TCP (c.tcp set).
// The buffered bytes are borrowed, not copied: bufio hands its buffer to
// connWriter.Write on Flush and does not touch it again before the next
// write, which comes after writev returns.
func (c *conn) writeGathered(p []byte) (int, error) {
	c.cw.hold = true
	err := c.bw.Flush()
	c.cw.hold = false
	head := c.cw.held
	c.cw.held = nil
	if err != nil {
		return 0, err
	}
	return c.cw.writev(head, p)
}

// writev writes head then body, with the idle deadline rules of Write,
// and returns how much of body was written.
func (w *connWriter) writev(head, body []byte) (int, error) {
	bufs := net.Buffers{head, body}
	pushing := w.idle > 0 && !w.external.Load()
	if pushing {
		w.maybePush(false)
	}
	var total int64
	var err error
	for {
		var n int64
		n, err = bufs.WriteTo(w.c.tcp)
		total += n
		w.n += n
		if err == nil || n == 0 || !pushing || !errors.Is(err, os.ErrDeadlineExceeded) || w.external.Load() {
			break
		}
		w.maybePush(true)
	}
	return int(min(max(total-int64(len(head)), 0), int64(len(body)))), err
}

func (w *connWriter) maybePush(force bool) {
	now := time.Now()
	mono := int64(now.Sub(monoEpoch))
	if force || mono-w.lastPush >= w.c.s.writePush {
		_ = w.c.rwc.SetWriteDeadline(now.Add(w.idle))
		w.lastPush = mono
	}
}

// Background read.
//
// While a handler runs with its request body consumed (or none), the
// connection is not read, so a client going away would go unnoticed. A
// per-connection timer, armed at that point, starts after bgReadDelay a
// one-byte read in the timer's goroutine: an error (EOF, reset) cancels
// the request's context; a byte (the next pipelined request) is kept in
// connReader. When the handler returns, the timer is stopped or the read
// aborted (a past deadline) and waited for. Requests that finish within
// bgReadDelay cost a timer reset and stop.
type bgRead struct {
	mu      sync.Mutex
	cond    *sync.Cond
	timer   *time.Timer
	ctx     *httpreq.Context // the running request's; nil when none
	armed   bool
	reading bool
	aborted bool
	err     error // the read failed: the connection is gone
}

// bgArm arms the timer for the running request.
func (c *conn) bgArm() {
	if c.br.Buffered() > 0 {
		return // a pipelined request is already here
	}
	g := &c.bg
	g.mu.Lock()
	if g.ctx != nil && !g.armed {
		g.armed = true
		if g.timer == nil {
			g.timer = time.AfterFunc(bgReadDelay, c.bgFire)
		} else {
			g.timer.Reset(bgReadDelay)
		}
	}
	g.mu.Unlock()
}

// bgFire runs in the timer's goroutine.
func (c *conn) bgFire() {
	g := &c.bg
	g.mu.Lock()
	if !g.armed || g.reading || g.ctx == nil {
		g.mu.Unlock()
		return
	}
	if g.cond == nil {
		g.cond = sync.NewCond(&g.mu)
	}
	g.reading = true
	ctx := g.ctx
	c.readDeadlineMoved.Store(true)
	_ = c.rwc.SetReadDeadline(time.Time{}) // under mu: an abort comes after
	g.mu.Unlock()

	n, err := c.rwc.Read(c.cr.byteBuf[:])

	g.mu.Lock()
	if n == 1 {
		c.cr.hasByte = true
	}
	gone := err != nil && !(g.aborted && errors.Is(err, os.ErrDeadlineExceeded))
	if gone {
		g.err = err
	}
	g.reading = false
	g.cond.Broadcast()
	g.mu.Unlock()
	if gone {
		ctx.Cancel()
	}
}

// bgStart records the running request; the timer is armed by bgArm.
func (c *conn) bgStart(ctx *httpreq.Context) {
	c.bg.mu.Lock()
	c.bg.ctx = ctx
	c.bg.mu.Unlock()
}

// bgStop disarms the timer and aborts a read in progress, waiting for it.
// It reports whether the connection is still usable.
func (c *conn) bgStop() bool {
	g := &c.bg
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ctx = nil
	if g.armed {
		g.armed = false
		g.timer.Stop()
	}
	if g.reading {
		g.aborted = true
		c.readDeadlineMoved.Store(true)
		_ = c.rwc.SetReadDeadline(aLongTimeAgo)
		for g.reading {
			g.cond.Wait()
		}
		g.aborted = false
		_ = c.rwc.SetReadDeadline(time.Time{})
	}
	return g.err == nil
}

// bodyConsumed is called by the body reader at EOF.
func (c *conn) bodyConsumed() {
	c.cr.body = false
	c.bgArm()
}
