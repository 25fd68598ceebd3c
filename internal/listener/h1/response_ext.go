package h1

// The optional ResponseWriter interfaces: http.Hijacker, io.ReaderFrom,
// and the methods http.ResponseController looks for (FlushError is in
// response.go).

import (
	"bufio"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"
)

// copySlice is how much a kernel copy (splice, sendfile) moves between
// two pushes of the write idle deadline: a client slower than
// copySlice/WriteIdleTimeout (4 KiB/s at 60s) fails the copy.
const copySlice = 256 << 10

var errAfterHandler = errors.New("h1: response used after the handler returned")

// Hijack hands the connection to the handler: the bufio.ReadWriter's
// Reader holds the bytes already read past the request head, its Writer
// is empty (what the handler wrote before is flushed). The server
// forgets the connection: Shutdown and Close no longer touch it, and all
// deadlines are cleared.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	if w.handlerDone {
		return nil, nil, errAfterHandler
	}
	c := w.c
	c.bgStop()
	if w.wroteHeader {
		if !w.committed {
			w.commit(false)
		}
		_ = w.flushPre()
		_ = c.bw.Flush()
	}
	w.releasePre()
	w.hijacked = true
	c.state.Store(stateDetached)
	c.s.untrack(c)
	c.cr.body = false
	c.cw.idle = 0
	_ = c.rwc.SetDeadline(time.Time{})
	return c.rwc, bufio.NewReadWriter(c.br, c.bw), nil
}

// ReadFrom copies src into the body. With Content-Length framing (or
// close-delimited), a socket or regular file source goes to the
// connection's own ReadFrom (splice, sendfile), in slices of copySlice
// with a write deadline push before each; anything else is copied with a
// pooled buffer. Bytes count against the Content-Length.
func (w *response) ReadFrom(src io.Reader) (int64, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if w.handlerDone {
		return 0, errAfterHandler
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	var n int64
	if w.mode == modeUndecided && !w.isHEAD && w.clen >= 0 {
		w.commit(false)
	}
	if w.mode == modeUndecided && !w.isHEAD {
		k, full, err := w.stageFrom(src)
		n += k
		if !full || err != nil {
			return n, err // src ended within the staging buffer
		}
		w.commit(false)
	}
	c := w.c
	if (w.mode == modeLength || w.mode == modeClose) && c.rf != nil && kernelSource(src) {
		if err := w.flushPre(); err != nil {
			return n, err
		}
		// Corked, the head waits in the kernel for the body's first bytes
		// instead of leaving as a small segment of its own (nginx's
		// tcp_nopush): one wakeup fewer for the client per response.
		c.cork(true)
		defer c.cork(false)
		if err := c.bw.Flush(); err != nil {
			return n, err
		}
		k, err := w.kernelCopy(src)
		return n + k, err
	}
	k, err := w.copyBuffered(src)
	return n + k, err
}

// stageFrom reads src into the staging buffer until it is full (full) or
// src ends.
func (w *response) stageFrom(src io.Reader) (n int64, full bool, err error) {
	if w.pre == nil {
		w.pre = getPre()
	}
	for {
		buf := *w.pre
		if len(buf) == cap(buf) {
			return n, true, nil
		}
		k, rerr := src.Read(buf[len(buf):cap(buf)])
		*w.pre = buf[:len(buf)+k]
		n += int64(k)
		w.written += int64(k)
		if rerr == io.EOF {
			return n, false, nil
		}
		if rerr != nil {
			return n, false, rerr
		}
	}
}

func (w *response) kernelCopy(src io.Reader) (int64, error) {
	c := w.c
	limit := int64(-1)
	if w.mode == modeLength {
		limit = w.clen - w.written
	}
	outer, _ := src.(*io.LimitedReader)
	inner := src
	if outer != nil {
		inner = outer.R
	}
	lr := &io.LimitedReader{R: inner}
	var total int64
	for {
		want := int64(math.MaxInt64)
		idle := c.cw.idle > 0 && !c.cw.external.Load()
		if idle {
			want = copySlice
		}
		if outer != nil {
			want = min(want, outer.N)
		}
		if limit >= 0 {
			want = min(want, limit-total)
		}
		if want <= 0 {
			break
		}
		lr.N = want
		if idle {
			c.cw.maybePush(true)
		}
		k, err := c.rf.ReadFrom(lr)
		total += k
		w.written += k
		c.cw.n += k
		if outer != nil {
			outer.N -= k
		}
		if err != nil || k < want {
			return total, err
		}
	}
	if limit >= 0 && total == limit && (outer == nil || outer.N > 0) {
		var one [1]byte
		if k, _ := src.Read(one[:]); k > 0 {
			return total, http.ErrContentLength
		}
	}
	return total, nil
}

func (w *response) copyBuffered(src io.Reader) (int64, error) {
	bp := copyPool.Get().(*[]byte)
	defer copyPool.Put(bp)
	return io.CopyBuffer(writerOnly{w}, src, *bp)
}

// writerOnly hides response.ReadFrom so io.CopyBuffer cannot recurse into it.
type writerOnly struct{ io.Writer }

// kernelSource reports whether src, bare or in an *io.LimitedReader, is
// what a *net.TCPConn's ReadFrom moves in the kernel: a TCP or Unix
// stream socket (splice) or a regular file (sendfile), including the
// wrappers io.Copy passes when it goes through the source's WriteTo
// (os.fileWithoutWriteTo, net.tcpConnWithoutWriteTo).
func kernelSource(src io.Reader) bool {
	if lr, ok := src.(*io.LimitedReader); ok {
		src = lr.R
	}
	switch s := src.(type) {
	case *net.TCPConn, *net.UnixConn:
		return true
	case interface {
		net.Conn
		syscall.Conn
	}:
		_, tcp := s.LocalAddr().(*net.TCPAddr)
		return tcp
	case interface {
		Stat() (os.FileInfo, error)
		syscall.Conn
	}:
		fi, err := s.Stat()
		return err == nil && fi.Mode().IsRegular()
	}
	return false
}

// SetReadDeadline sets the connection's read deadline; a non-zero one
// suspends the body read idle deadline until cleared.
func (w *response) SetReadDeadline(t time.Time) error {
	if w.hijacked {
		return http.ErrHijacked
	}
	w.c.cr.external.Store(!t.IsZero())
	w.c.readDeadlineMoved.Store(true)
	return w.c.rwc.SetReadDeadline(t)
}

// SetWriteDeadline sets the connection's write deadline; a non-zero one
// suspends the write idle deadline until cleared.
func (w *response) SetWriteDeadline(t time.Time) error {
	if w.hijacked {
		return http.ErrHijacked
	}
	w.c.cw.external.Store(!t.IsZero())
	return w.c.rwc.SetWriteDeadline(t)
}

// EnableFullDuplex lets the handler read the request body while writing
// the response: the unread body is no longer discarded when the response
// head is written.
func (w *response) EnableFullDuplex() error {
	w.fullDuplex = true
	return nil
}
