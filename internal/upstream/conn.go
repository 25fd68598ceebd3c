package upstream

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/portico-proxy/portico/internal/rawsock"
	"github.com/portico-proxy/portico/internal/sockpeek"
)

// conn is one keep-alive connection to a backend with its buffers. The
// buffers live as long as the connection, so a request costs no buffer
// allocation.
type conn struct {
	nc     net.Conn
	tcp    *net.TCPConn // nc when it is plain TCP, for splice
	br     *bufio.Reader
	bw     *bufio.Writer
	pool   *connPool
	idleAt time.Time
	reused bool
	// abort interrupts whatever the connection is blocked on; made once
	// per connection, it is what a cancelled request calls.
	abort func()
	// readBy is the first-byte read deadline roundTrip last set, while it
	// is still in force; zero once anything else changed the deadline.
	readBy time.Time
	// head is reused by every exchange on this connection, so its field
	// slice is allocated once.
	head responseHead

	// out counts the writes that reached the socket; see sendAndAwait.
	out countingWriter
	// raw is the TCP socket's, for sendAndAwait; nil when there is none.
	raw syscall.RawConn
	// sendStep is the raw read callback of sendAndAwait, made once per
	// connection; sendErr is what its flush returned.
	sendStep func(fd uintptr) bool
	sent     bool
	sendErr  error
	// peekStep is the raw read callback of socketQuiet, made once per
	// connection; quiet is what it found.
	peekStep func(fd uintptr) bool
	quiet    bool
	peekBuf  [1]byte
}

// countingWriter is what a connection's bufio.Writer writes to: it
// counts the writes, so that roundTrip knows whether a request head left
// in more than one piece.
type countingWriter struct {
	nc     net.Conn
	writes uint32
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes++
	return w.nc.Write(p)
}

const (
	readBufSize  = 16 << 10
	writeBufSize = 8 << 10
	// probeAfter is how long a connection must have been idle before it
	// is checked for a close by the backend ahead of reuse. Busy
	// connections skip the check; quiet ones are the ones a backend's
	// keep-alive timeout may have closed.
	probeAfter = 500 * time.Millisecond
)

// connPool keeps idle connections to one backend, most recently used
// first, so that the warm ones are reused and the cold ones age out.
type connPool struct {
	addr        string
	dialer      *net.Dialer
	maxIdle     int
	idleTimeout time.Duration
	tls         *tls.Config // nil: plain http:// backend

	mu     sync.Mutex
	idle   []*conn
	closed bool
}

func newConnPool(addr string, d *net.Dialer, maxIdle int, idleTimeout time.Duration) *connPool {
	return &connPool{addr: addr, dialer: d, maxIdle: maxIdle, idleTimeout: idleTimeout}
}

// get returns an idle connection that still looks alive at now, or
// dials one.
func (p *connPool) get(ctx context.Context, now time.Time) (*conn, error) {
	for {
		c := p.popIdle()
		if c == nil {
			break
		}
		idle := now.Sub(c.idleAt)
		if idle > p.idleTimeout || (idle > probeAfter && !c.alive()) {
			c.nc.Close()
			continue
		}
		c.reused = true
		return c, nil
	}
	nc, err := p.dialer.DialContext(ctx, "tcp", p.addr)
	if err == nil {
		nc = rawsock.Wrap(nc)
	}
	if err == nil && p.tls != nil {
		nc, err = startTLS(ctx, nc, p.tls)
	}
	if err != nil {
		return nil, err
	}
	c := &conn{
		nc:   nc,
		br:   bufio.NewReaderSize(nc, readBufSize),
		pool: p,
	}
	c.out.nc = nc
	c.bw = bufio.NewWriterSize(&c.out, writeBufSize)
	under, plain := nc, true
	if tc, ok := nc.(*tls.Conn); ok {
		under, plain = tc.NetConn(), false
	}
	if tcp := rawsock.TCP(under); tcp != nil {
		if plain {
			c.tcp = tcp
		}
		if raw, err := tcp.SyscallConn(); err == nil {
			c.raw = raw
			c.sendStep = c.sendThenWait
			c.peekStep = c.peekSocket
		}
	}
	c.abort = func() { _ = nc.SetDeadline(aLongTimeAgo) }
	return c, nil
}

// sendAndAwait flushes the request and waits until the response starts
// to arrive, in one wait of Go's poller instead of a flush, a read that
// finds nothing yet, and then the wait: the read that follows finds the
// response. The poller forgets the socket's readiness when a wait begins
// (it cannot know the bytes it signalled were not read since), so the
// flush happens inside the wait, after that point: the response, which
// can only come after the request, is never missed. For the same reason
// the caller must not use this when any part of the request already left:
// a backend may answer early, before the wait began.
//
// A read deadline in force (the first-byte deadline, or the past one of an
// abort) ends the wait with a timeout, as it would end a read.
func (c *conn) sendAndAwait() error {
	c.sent, c.sendErr = false, nil
	err := c.raw.Read(c.sendStep)
	if c.sendErr != nil {
		return c.sendErr
	}
	return err
}

func (c *conn) sendThenWait(uintptr) bool {
	if c.sent {
		return true // readable; a spurious wake-up makes the next read wait as usual
	}
	c.sent = true
	c.sendErr = c.bw.Flush()
	return c.sendErr != nil
}

func (p *connPool) popIdle() *conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.idle)
	if n == 0 {
		return nil
	}
	c := p.idle[n-1]
	p.idle[n-1] = nil
	p.idle = p.idle[:n-1]
	return c
}

// put returns a connection whose last exchange ended cleanly at now.
func (p *connPool) put(c *conn, now time.Time) {
	c.idleAt = now
	p.mu.Lock()
	if p.closed || len(p.idle) >= p.maxIdle {
		p.mu.Unlock()
		c.nc.Close()
		return
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

func (p *connPool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.closed = true
	p.mu.Unlock()
	for _, c := range idle {
		c.nc.Close()
	}
}

// alive reports whether the backend has not closed an idle connection: a
// read that would block means the peer is still there; EOF, an error or
// unexpected bytes (sent after the last response ended) mean it is not
// usable.
func (c *conn) alive() bool {
	if c.br.Buffered() > 0 {
		return false
	}
	// A read with a deadline already past fails before it looks at the
	// socket, so the last exchange's deadline is lifted first, and the
	// socket is peeked at without waiting.
	_ = c.nc.SetReadDeadline(time.Time{})
	c.readBy = time.Time{}
	return c.socketQuiet()
}

// socketQuiet reports whether the socket has nothing to read: no byte
// and no end of stream. It does not wait, and reads nothing away.
func (c *conn) socketQuiet() bool {
	if c.peekStep == nil {
		return true // not a TCP socket: nothing to look with
	}
	c.quiet = false
	err := c.raw.Read(c.peekStep)
	return err == nil && c.quiet
}

func (c *conn) peekSocket(fd uintptr) bool {
	empty, ok := sockpeek.Empty(fd, c.peekBuf[:])
	c.quiet = empty || !ok // no peek here: only bytes already read are found
	return true            // never wait
}
