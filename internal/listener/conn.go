// This file holds the downstream connection guards: guardedConn (write idle
// deadline reset on progress, kernel-copy friendly ReadFrom, the per-IP slot
// given back on Close) and guardedListener, which applies the per-IP
// connection limit at accept, waits out temporary accept errors and wraps
// every connection it returns.
//
// The guarded listener wraps the plain TCP listener, below TLS: on a TLS
// listener every record the TLS layer writes (HTTP/1.1 or HTTP/2) gets the
// idle write deadline; on a plain one, ReadFrom and Unwrap let the server
// above reach the TCP connection for sendfile and splice.

package listener

import (
	"crypto/tls"
	"errors"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	// maxPushEvery is how often at most Write moves the write deadline.
	maxPushEvery = time.Second
	// Spliced copies (socket to socket) move in slices between deadline
	// pushes; the slice adapts to the client's speed within these bounds.
	// The cap bounds the slowest client a slice can fail (256 KiB in
	// writeIdle, about 4 KiB/s at 60s) against the cost of a slice (a
	// deadline update and two splice calls, about 1% of a core at 1 GB/s).
	minSpliceSlice   = 16 << 10
	startSpliceSlice = 64 << 10
	maxSpliceSlice   = 256 << 10
)

// monoEpoch anchors monoNow, a monotonic clock read through the vDSO (no
// system call).
var monoEpoch = time.Now()

func monoNow() int64 { return int64(time.Since(monoEpoch)) }

// pushNeeded, as lastPush, makes the next Write push the deadline.
const pushNeeded = math.MinInt64 / 2

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

type closeWriter interface{ CloseWrite() error }

// writerOnly hides a ReadFrom method, so io.Copy does not recurse into it.
type writerOnly struct{ io.Writer }

// guardedConn is the net.Conn the servers above read and write, directly or
// under TLS (and the one a Hijack returns on a plain connection).
//
// Writes: when writeIdle > 0 the write deadline is an idle deadline reset on
// progress, never a total one. Before a Write the deadline is moved to
// now+writeIdle if it was last moved more than min(1s, writeIdle/4) ago (one
// clock read per Write, a deadline update at most once per interval). A
// Write that times out after making progress is resumed with a fresh
// deadline, so one large Write to a slow but steady client does not fail;
// a client that stops reading makes the Write fail between writeIdle and
// 2*writeIdle after its last progress. An explicit deadline set through
// SetWriteDeadline or SetDeadline takes over until it is cleared (zero).
//
// Reads go straight to the wrapped connection.
type guardedConn struct {
	net.Conn
	writeIdle time.Duration
	pushEvery int64 // nanoseconds
	resumable bool  // a timed-out write may be continued (not so for TLS)

	dlMu     sync.Mutex   // serialises deadline changes
	lastPush atomic.Int64 // monoNow of the last push, or pushNeeded
	external atomic.Bool  // an explicit write deadline is in force

	closed  atomic.Bool
	limiter *connLimiter // per-IP slot to release on Close, or nil
	ip      netip.Addr
}

// newGuardedConn wraps c. A writeIdle of zero or less leaves write deadlines
// to the caller.
func newGuardedConn(c net.Conn, writeIdle time.Duration) *guardedConn {
	gc := &guardedConn{Conn: c, writeIdle: writeIdle}
	gc.lastPush.Store(pushNeeded)
	if writeIdle > 0 {
		gc.pushEvery = int64(min(maxPushEvery, writeIdle/4))
		_, isTLS := c.(*tls.Conn) // a timed-out tls.Conn is unusable
		gc.resumable = !isTLS
	}
	return gc
}

// Unwrap returns the wrapped connection.
func (c *guardedConn) Unwrap() net.Conn { return c.Conn }

// Write writes p, keeping the idle write deadline; see guardedConn.
func (c *guardedConn) Write(p []byte) (int, error) {
	if c.writeIdle <= 0 {
		return c.Conn.Write(p)
	}
	c.maybePush()
	total := 0
	for {
		n, err := c.Conn.Write(p)
		total += n
		if err == nil || n == 0 || !c.canResume(err) {
			return total, err
		}
		p = p[n:]
		c.push(monoNow())
	}
}

// ReadFrom copies r to the connection, letting the kernel do it where the
// wrapped connection can (sendfile from a regular file, splice from a
// socket), which net/http's response.ReadFrom relies on. The source is never
// wrapped, since that would defeat sendfile and splice; instead:
//   - sendfile: the deadline is pushed before the copy and the copy resumed
//     after a timeout that made progress (sendfile moves the file offset by
//     exactly what was sent), so a slow steady client is served in full;
//   - splice: a timeout loses the bytes already in the kernel pipe, so the
//     copy cannot be resumed. It runs in slices (16 to 256 KiB, doubling
//     while a slice takes under writeIdle/8, halving when one takes over
//     writeIdle/2) with a deadline push before each. The trade-off: a client
//     that takes longer than writeIdle for one slice fails the copy; a
//     steady client above 4 KiB/s (at 60s) never does, a slower one may if
//     socket buffers hid its speed while the slice grew;
//   - any other source is copied through Write, which pushes on progress.
func (c *guardedConn) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := c.Conn.(io.ReaderFrom)
	idle := c.writeIdle > 0 && !c.external.Load()
	switch {
	case ok && !idle:
		return rf.ReadFrom(r)
	case ok && isSpliceSource(r):
		return c.spliceFrom(rf, r)
	case ok && isSendfileSource(r):
		return c.sendfileFrom(rf, r)
	}
	bp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bp)
	return io.CopyBuffer(writerOnly{c}, r, *bp)
}

func (c *guardedConn) sendfileFrom(rf io.ReaderFrom, r io.Reader) (int64, error) {
	var total int64
	for {
		c.push(monoNow())
		n, err := rf.ReadFrom(r)
		total += n
		if err == nil || n == 0 || !c.canResume(err) {
			return total, err
		}
	}
}

func (c *guardedConn) spliceFrom(rf io.ReaderFrom, r io.Reader) (int64, error) {
	outer, _ := r.(*io.LimitedReader)
	slice := io.LimitedReader{R: r}
	if outer != nil {
		slice.R = outer.R
	}
	var total int64
	size := int64(startSpliceSlice)
	idle := int64(c.writeIdle)
	for {
		want := size
		if outer != nil {
			if outer.N <= 0 {
				return total, nil
			}
			want = min(want, outer.N)
		}
		slice.N = want
		start := monoNow()
		c.push(start)
		n, err := rf.ReadFrom(&slice)
		total += n
		if outer != nil {
			outer.N -= n
		}
		if err != nil || n < want {
			return total, err
		}
		switch took := monoNow() - start; {
		case took < idle/8 && size < maxSpliceSlice:
			size *= 2
		case took > idle/2 && size > minSpliceSlice:
			size /= 2
		}
	}
}

// isSendfileSource reports whether r is a regular file, bare or inside an
// *io.LimitedReader: what a *net.TCPConn's ReadFrom sends with sendfile.
func isSendfileSource(r io.Reader) bool {
	if lr, ok := r.(*io.LimitedReader); ok {
		r = lr.R
	}
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode().IsRegular()
}

// isSpliceSource reports whether r is a stream socket, bare or inside an
// *io.LimitedReader: what a *net.TCPConn's ReadFrom copies with splice.
func isSpliceSource(r io.Reader) bool {
	if lr, ok := r.(*io.LimitedReader); ok {
		r = lr.R
	}
	switch r.(type) {
	case *net.TCPConn, *net.UnixConn:
		return true
	}
	return false
}

func (c *guardedConn) canResume(err error) bool {
	return c.resumable && !c.external.Load() && errors.Is(err, os.ErrDeadlineExceeded)
}

func (c *guardedConn) maybePush() {
	now := monoNow()
	if now-c.lastPush.Load() < c.pushEvery || c.external.Load() {
		return
	}
	c.push(now)
}

func (c *guardedConn) push(now int64) {
	c.dlMu.Lock()
	if !c.external.Load() {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(c.writeIdle))
		c.lastPush.Store(now)
	}
	c.dlMu.Unlock()
}

// SetWriteDeadline sets an explicit write deadline, which suspends the idle
// deadline until a zero deadline is set.
func (c *guardedConn) SetWriteDeadline(t time.Time) error {
	if c.writeIdle <= 0 {
		return c.Conn.SetWriteDeadline(t)
	}
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	return c.setWriteDeadlineLocked(t)
}

func (c *guardedConn) setWriteDeadlineLocked(t time.Time) error {
	if t.IsZero() {
		if !c.external.Load() {
			// net/http clears the deadline after every response; the idle
			// deadline in force is still ours and is pushed before any
			// write that needs it, so leave it (saves a timer update).
			return nil
		}
		c.external.Store(false)
		c.lastPush.Store(pushNeeded)
		return c.Conn.SetWriteDeadline(t)
	}
	c.external.Store(true)
	return c.Conn.SetWriteDeadline(t)
}

// SetDeadline sets the read deadline and, as SetWriteDeadline, the write one.
func (c *guardedConn) SetDeadline(t time.Time) error {
	if c.writeIdle <= 0 {
		return c.Conn.SetDeadline(t)
	}
	err := c.Conn.SetReadDeadline(t)
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	if werr := c.setWriteDeadlineLocked(t); err == nil {
		err = werr
	}
	return err
}

// CloseWrite shuts down the writing side, where the wrapped connection can.
func (c *guardedConn) CloseWrite() error {
	if cw, ok := c.Conn.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// Close closes the connection and releases its per-IP slot exactly once.
func (c *guardedConn) Close() error {
	first := c.closed.CompareAndSwap(false, true)
	err := c.Conn.Close()
	if first && c.limiter != nil {
		c.limiter.release(c.ip)
	}
	return err
}

// guardOptions configures newGuardedListener.
type guardOptions struct {
	// WriteIdle is the write idle deadline, reset on progress; zero: none.
	WriteIdle time.Duration
	// MaxConnsPerIP limits concurrent connections per client IP; zero: no limit.
	MaxConnsPerIP int
	// OnReject, when set, is called with a short reason for each rejected
	// connection (so far only "conn_limit", for the per-IP limit). It is
	// called on the accepting goroutine and must not block.
	OnReject func(reason string)
}

// guardedListener wraps every accepted connection in a guardedConn.
type guardedListener struct {
	net.Listener
	opts    guardOptions
	limiter *connLimiter
	sleep   func(time.Duration) // backoff on temporary accept errors; tests replace it
}

// newGuardedListener wraps inner, which must yield plain TCP connections.
func newGuardedListener(inner net.Listener, opts guardOptions) net.Listener {
	l := &guardedListener{Listener: inner, opts: opts, sleep: time.Sleep}
	if opts.MaxConnsPerIP > 0 {
		l.limiter = newConnLimiter(opts.MaxConnsPerIP)
	}
	return l
}

// Accept returns the next connection within the per-IP limit. Connections
// over the limit are answered 503 and closed, and Accept goes on; temporary
// errors (such as running out of file descriptors) are waited out with a
// backoff of 5ms doubling to 1s, as net/http does.
func (l *guardedListener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if !isTemporary(err) {
				return nil, err
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			l.sleep(delay)
			continue
		}
		delay = 0
		var ip netip.Addr
		if l.limiter != nil {
			var ok bool
			if ip, ok = remoteIP(c); ok && !l.limiter.acquire(ip) {
				// Reported before the client can see the 503, so whoever
				// counts rejections is never behind the client.
				if l.opts.OnReject != nil {
					l.opts.OnReject(reasonConnLimit)
				}
				rejectOverLimit(c)
				continue
			}
		}
		gc := newGuardedConn(c, l.opts.WriteIdle)
		if ip.IsValid() {
			gc.limiter, gc.ip = l.limiter, ip
		}
		return gc, nil
	}
}

// isTemporary reports whether an accept error is worth retrying.
func isTemporary(err error) bool {
	var ne net.Error
	if errors.Is(err, net.ErrClosed) || errors.As(err, &ne) && ne.Timeout() {
		return false // closed, or a deadline the owner set on the listener
	}
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		if errors.Is(err, errno) {
			return true
		}
	}
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}
