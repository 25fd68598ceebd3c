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
	raw syscall.RawConn

	rmu      sync.Mutex // one Read at a time uses rbuf, rn, rerr
	rbuf     []byte
	rn       int
	rerr     error
	readStep func(fd uintptr) bool

	wmu       sync.Mutex // one Write at a time uses wbuf, wn, werr
	wbuf      []byte
	wn        int
	werr      error
	writeStep func(fd uintptr) bool
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
	rc := &Conn{TCPConn: tc, raw: raw}
	rc.readStep = rc.readOnce
	rc.writeStep = rc.writeSome
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
	if len(p) > maxRW {
		p = p[:maxRW]
	}
	c.rmu.Lock()
	c.rbuf, c.rn, c.rerr = p, 0, nil
	err := c.raw.Read(c.readStep)
	n, serr := c.rn, c.rerr
	c.rbuf = nil
	c.rmu.Unlock()
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case serr != nil:
		return n, c.opError("read", os.NewSyscallError("read", serr))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (c *Conn) readOnce(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&c.rbuf[0])), uintptr(len(c.rbuf)))
		switch e {
		case 0:
			c.rn = int(n)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		c.rerr = e
		return true
	}
}

// Write writes all of p, waiting in Go's poller while the socket buffer
// is full, as net.TCPConn does.
func (c *Conn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.wmu.Lock()
	c.wbuf, c.wn, c.werr = p, 0, nil
	err := c.raw.Write(c.writeStep)
	n, serr := c.wn, c.werr
	c.wbuf = nil
	c.wmu.Unlock()
	switch {
	case serr != nil:
		return n, c.opError("write", os.NewSyscallError("write", serr))
	case err != nil:
		return n, c.opError("write", err)
	}
	return n, nil
}

func (c *Conn) writeSome(fd uintptr) bool {
	for c.wn < len(c.wbuf) {
		chunk := c.wbuf[c.wn:]
		if len(chunk) > maxRW {
			chunk = chunk[:maxRW]
		}
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&chunk[0])), uintptr(len(chunk)))
		switch e {
		case 0:
			c.wn += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			c.werr = e
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
