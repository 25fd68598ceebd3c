//go:build linux

package rawsock

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// maxRW caps one read or write, as Go's poller does.
const maxRW = 1 << 30

// Conn is a TCP connection whose Read and Write make their system calls
// as raw calls. See the package comment for why.
type Conn struct {
	*net.TCPConn
	rd, wr transfer
}

// transfer is one direction's call in progress: Read or Write hands its
// buffer to the raw callback through it, since a closure per call would
// allocate. One call at a time per direction.
type transfer struct {
	mu    sync.Mutex
	buf   []byte
	n     int
	errno syscall.Errno
	wait  func(step func(fd uintptr) bool) error // the RawConn's Read or Write
	step  func(fd uintptr) bool
}

// run moves p through step, waiting in the poller while step says so. It
// returns how much moved and the failure: the system call's, or the
// poller's (deadline, close).
func (t *transfer) run(op string, p []byte) (int, error) {
	t.mu.Lock()
	t.buf, t.n, t.errno = p, 0, 0
	err := t.wait(t.step)
	n, errno := t.n, t.errno
	t.buf = nil
	t.mu.Unlock()
	if errno != 0 {
		return n, os.NewSyscallError(op, errno)
	}
	return n, err
}

// Wrap returns c as a *Conn when it is a TCP connection, else c itself.
func Wrap(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	rc := &Conn{TCPConn: tc}
	rc.rd.wait, rc.rd.step = raw.Read, rc.readOnce
	rc.wr.wait, rc.wr.step = raw.Write, rc.writeSome
	return rc
}

// Listener wraps every connection it accepts.
type Listener struct{ net.Listener }

// Accept returns the next connection, wrapped.
func (l Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Wrap(c), nil
}

// Unwrap returns the TCP connection, for sendfile, splice and socket options.
func (c *Conn) Unwrap() net.Conn { return c.TCPConn }

// ReadFrom copies r to the connection through the TCP connection's own
// ReadFrom (sendfile, splice). A source that is itself a *Conn is
// unwrapped first, so a copy between two wrapped sockets is still spliced.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	switch src := r.(type) {
	case *Conn:
		r = src.TCPConn
	case *io.LimitedReader:
		if inner, ok := src.R.(*Conn); ok {
			lr := &io.LimitedReader{R: inner.TCPConn, N: src.N}
			n, err := c.TCPConn.ReadFrom(lr)
			src.N = lr.N
			return n, err
		}
	}
	return c.TCPConn.ReadFrom(r)
}

// Read reads into p as net.TCPConn does: it waits in Go's poller while
// nothing is there, and reports the end of the stream as io.EOF.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := c.rd.run("read", p[:min(len(p), maxRW)])
	switch {
	case err != nil:
		return n, c.opError("read", err)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (c *Conn) readOnce(fd uintptr) bool {
	t := &c.rd
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&t.buf[0])), uintptr(len(t.buf)))
		switch e {
		case 0:
			t.n = int(n)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		t.errno = e
		return true
	}
}

// Write writes all of p, waiting in Go's poller while the socket buffer
// is full, as net.TCPConn does.
func (c *Conn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := c.wr.run("write", p)
	if err != nil {
		return n, c.opError("write", err)
	}
	return n, nil
}

func (c *Conn) writeSome(fd uintptr) bool {
	t := &c.wr
	for t.n < len(t.buf) {
		chunk := t.buf[t.n:]
		chunk = chunk[:min(len(chunk), maxRW)]
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&chunk[0])), uintptr(len(chunk)))
		switch e {
		case 0:
			t.n += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			t.errno = e
			return true
		}
	}
	return true
}

// opError wraps err as net.TCPConn's methods do, so that callers that
// look for timeouts, closes or resets find them the same way.
func (c *Conn) opError(op string, err error) error {
	if oe, ok := err.(*net.OpError); ok {
		err = oe.Err // the poller's own error (closed, deadline), wrapped by RawConn
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
