package h2

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"golang.org/x/net/http2"
)

var (
	errBodyClosed = errors.New("h2: read on closed request body")
	errTooLong    = errors.New("h2: request body longer than its Content-Length")
	errTooShort   = errors.New("h2: request body shorter than its Content-Length")
)

// body is a request body: the DATA the reader received and the handler
// has not read yet. Reading gives the window back to the client. All
// fields are guarded by the connection's mu.
type body struct {
	st       *stream
	buf      []byte
	off      int
	err      error // io.EOF once complete; set when the data ends
	declared int64 // Content-Length, or -1
	received int64
	expect   bool // 100-continue is owed at the first read
	closed   bool // the handler closed the body
	trailer  http.Header
	unacked  int32 // bytes read and not yet given back to the stream window
}

// receive takes a DATA payload (reader goroutine, mu held).
func (b *body) receive(p []byte, end bool) error {
	st := b.st
	b.received += int64(len(p))
	if b.declared >= 0 && (b.received > b.declared || end && b.received != b.declared) {
		st.c.giveBackLocked(int32(len(p)))
		cause := errTooLong
		if b.received < b.declared {
			cause = errTooShort
		}
		return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeProtocol, Cause: cause}
	}
	if b.closed {
		st.c.giveBackLocked(int32(len(p)))
	} else if len(p) > 0 {
		if b.off == len(b.buf) {
			b.buf, b.off = b.buf[:0], 0
		}
		b.buf = append(b.buf, p...)
	}
	if end {
		st.remoteDone = true
		if b.err == nil {
			b.err = io.EOF
		}
	}
	st.cond.Broadcast()
	return nil
}

// abortLocked ends the body with err unless it ended already; unread
// bytes go back to the connection window.
func (b *body) abortLocked(err error) {
	if n := len(b.buf) - b.off; n > 0 {
		b.st.c.giveBackLocked(int32(n))
	}
	b.buf, b.off = nil, 0
	if b.err == nil || b.err == io.EOF && !b.st.remoteDone {
		b.err = err
	}
}

func (b *body) Read(p []byte) (int, error) {
	st := b.st
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if b.closed {
		return 0, errBodyClosed
	}
	if b.expect {
		b.expect = false
		st.w.continueLocked()
	}
	var deadline time.Time
	for b.off == len(b.buf) {
		if b.err != nil {
			if b.err == io.EOF && b.trailer != nil {
				if st.req.Trailer == nil { // trailers the client did not announce
					st.req.Trailer = make(http.Header, len(b.trailer))
				}
				for k, v := range b.trailer {
					st.req.Trailer[k] = v
				}
				b.trailer = nil
			}
			return 0, b.err
		}
		if len(p) == 0 {
			return 0, nil
		}
		if deadline.IsZero() && c.s.o.ReadIdleTimeout > 0 {
			deadline = time.Now().Add(c.s.o.ReadIdleTimeout)
		}
		if !st.waitLocked(deadline) && b.off == len(b.buf) && b.err == nil {
			return 0, os.ErrDeadlineExceeded
		}
	}
	n := copy(p, b.buf[b.off:])
	b.off += n
	b.giveBackLocked(int32(n))
	return n, nil
}

// giveBackLocked returns read bytes to the stream and connection windows,
// batched so that a WINDOW_UPDATE goes out per half window, not per read.
func (b *body) giveBackLocked(n int32) {
	st := b.st
	c := st.c
	c.giveBackLocked(n)
	if !st.remoteDone && !st.closed {
		b.unacked += n
		if b.unacked >= streamWindow/2 || b.off == len(b.buf) && b.unacked >= 16<<10 {
			c.w.windowUpdate(st.id, uint32(b.unacked))
			st.recvWindow += b.unacked
			b.unacked = 0
		}
	}
	c.w.flushLocked()
}

// Close stops reading: data still to come is dropped and its window
// given back at once.
func (b *body) Close() error {
	c := b.st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if !b.closed {
		b.closed = true
		if n := len(b.buf) - b.off; n > 0 {
			c.giveBackLocked(int32(n))
		}
		b.buf, b.off = nil, 0
		c.w.flushLocked()
	}
	return nil
}
