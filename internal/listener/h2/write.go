package h2

import (
	"encoding/binary"
	"net"
	"runtime"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

const (
	// maxControlBacklog is how many unwritten bytes may pile up before a
	// client that keeps sending PINGs or SETTINGS without reading the
	// answers is cut off.
	maxControlBacklog = 1 << 20
	// highWater is how many unwritten bytes a handler may leave behind
	// while another goroutine is writing; past it, it waits.
	highWater      = 256 << 10
	frameHeaderLen = 9
)

// writer holds a connection's outgoing frames. Every method is called
// with the connection's mu held. Frames are appended to buf; flushLocked
// writes buf out unless another goroutine is already doing so, in which
// case that goroutine writes the new frames too when its write returns.
type writer struct {
	c        *conn
	buf      []byte
	spare    []byte
	flushing bool
	err      error     // sticky: the connection is unusable
	drained  sync.Cond // a write returned
	waiting  int       // goroutines waiting on drained

	enc *hpack.Encoder
	hb  headerBlock

	writeIdle int64 // nanoseconds; 0: the connection sets its own deadlines
	lastPush  time.Time
}

// headerBlock collects the hpack encoder's output.
type headerBlock struct{ b []byte }

func (h *headerBlock) Write(p []byte) (int, error) {
	h.b = append(h.b, p...)
	return len(p), nil
}

func (w *writer) init(c *conn) {
	w.c = c
	w.drained.L = &c.mu
	w.enc = hpack.NewEncoder(&w.hb)
	if d := c.s.o.WriteIdleTimeout; d > 0 {
		w.writeIdle = int64(d)
	}
}

// Write buffers come from a pool and go back when the connection has no
// stream left, so an idle connection holds none.
var writeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

func getWriteBuf() []byte { return (*writeBufs.Get().(*[]byte))[:0] }

func putWriteBuf(b []byte) {
	if b != nil && cap(b) <= 64<<10 {
		b = b[:0]
		writeBufs.Put(&b)
	}
}

// releaseLocked gives the buffers back while nothing is pending.
func (w *writer) releaseLocked() {
	if w.flushing || len(w.buf) > 0 {
		return
	}
	putWriteBuf(w.buf)
	putWriteBuf(w.spare)
	w.buf, w.spare = nil, nil
}

func (w *writer) frameHeader(length int, typ http2.FrameType, flags http2.Flags, id uint32) {
	if w.buf == nil {
		w.buf = getWriteBuf()
	}
	w.buf = append(w.buf, byte(length>>16), byte(length>>8), byte(length), byte(typ), byte(flags),
		byte(id>>24)&0x7f, byte(id>>16), byte(id>>8), byte(id))
}

func (w *writer) settings(ss []http2.Setting) {
	w.frameHeader(6*len(ss), http2.FrameSettings, 0, 0)
	for _, s := range ss {
		w.buf = binary.BigEndian.AppendUint16(w.buf, uint16(s.ID))
		w.buf = binary.BigEndian.AppendUint32(w.buf, s.Val)
	}
}

func (w *writer) settingsAck() { w.frameHeader(0, http2.FrameSettings, http2.FlagSettingsAck, 0) }

func (w *writer) windowUpdate(id uint32, n uint32) {
	w.frameHeader(4, http2.FrameWindowUpdate, 0, id)
	w.buf = binary.BigEndian.AppendUint32(w.buf, n&0x7fffffff)
}

func (w *writer) ping(data [8]byte) {
	w.frameHeader(8, http2.FramePing, http2.FlagPingAck, 0)
	w.buf = append(w.buf, data[:]...)
}

func (w *writer) rstStream(id uint32, code http2.ErrCode) {
	w.frameHeader(4, http2.FrameRSTStream, 0, id)
	w.buf = binary.BigEndian.AppendUint32(w.buf, uint32(code))
}

func (w *writer) goAway(lastID uint32, code http2.ErrCode, debug []byte) {
	w.frameHeader(8+len(debug), http2.FrameGoAway, 0, 0)
	w.buf = binary.BigEndian.AppendUint32(w.buf, lastID&0x7fffffff)
	w.buf = binary.BigEndian.AppendUint32(w.buf, uint32(code))
	w.buf = append(w.buf, debug...)
}

// field adds one field to the header block being built.
func (w *writer) field(name, value string) {
	_ = w.enc.WriteField(hpack.HeaderField{Name: name, Value: value})
}

// fieldNotIndexed adds a field that is never added to the compression
// table (RFC 7541 6.2.3).
func (w *writer) fieldNotIndexed(name, value string) {
	_ = w.enc.WriteField(hpack.HeaderField{Name: name, Value: value, Sensitive: true})
}

// headers frames the header block built with field: HEADERS, then
// CONTINUATION when the block is larger than the client's frame size.
func (w *writer) headers(id uint32, endStream bool) {
	block := w.hb.b
	max := w.c.peerMaxFrame
	typ := http2.FrameHeaders
	for first := true; first || len(block) > 0; first = false {
		n := min(len(block), max)
		var flags http2.Flags
		if first && endStream {
			flags |= http2.FlagHeadersEndStream
		}
		if n == len(block) {
			flags |= http2.FlagHeadersEndHeaders
		}
		w.frameHeader(n, typ, flags, id)
		w.buf = append(w.buf, block[:n]...)
		block = block[n:]
		typ = http2.FrameContinuation
	}
	w.hb.b = w.hb.b[:0]
}

// data frames p as one DATA frame; the caller has taken the window and
// kept p within the client's frame size.
func (w *writer) data(id uint32, p []byte, endStream bool) {
	var flags http2.Flags
	if endStream {
		flags = http2.FlagDataEndStream
	}
	w.frameHeader(len(p), http2.FrameData, flags, id)
	w.buf = append(w.buf, p...)
}

// controlLocked flushes frames the reader queued in answer to the
// client; a client that does not read what it asked for is cut off.
func (w *writer) controlLocked() error {
	if len(w.buf) > maxControlBacklog {
		return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
	}
	w.flushLocked()
	return nil
}

// flushLocked writes the buffered frames unless another goroutine is
// writing already (it takes these frames along). mu is released during
// the write.
func (w *writer) flushLocked() { w.flush(false) }

// flushSoonLocked is flushLocked for a stream that just ended: it first
// lets the goroutines that are ready to run go, so that the streams
// finishing at the same moment (their backends answered together) add
// their frames and leave in the same write.
func (w *writer) flushSoonLocked() { w.flush(true) }

func (w *writer) flush(yield bool) {
	for !w.flushing && len(w.buf) > 0 && w.err == nil {
		w.flushing = true
		if yield {
			w.c.mu.Unlock()
			runtime.Gosched()
			w.c.mu.Lock()
			yield = false
		}
		out := w.buf
		w.buf = w.spare[:0]
		w.c.mu.Unlock()
		err := w.write(out)
		w.c.mu.Lock()
		w.spare = out[:0]
		w.flushing = false
		if err != nil {
			w.err = err
			_ = w.c.nc.Close() // the reader sees it and tears down
		}
		if w.waiting > 0 {
			w.drained.Broadcast()
		}
	}
}

// flushAllLocked returns once everything buffered so far is written (or
// the connection failed).
func (w *writer) flushAllLocked() {
	for w.flushing && w.err == nil {
		w.waiting++
		w.drained.Wait()
		w.waiting--
	}
	w.flushLocked()
}

// roomLocked waits while another goroutine writes and the buffer is over
// the high-water mark, so a fast handler cannot buffer without bound.
func (w *writer) roomLocked() error {
	for w.flushing && len(w.buf) >= highWater && w.err == nil {
		w.waiting++
		w.drained.Wait()
		w.waiting--
	}
	return w.err
}

func (w *writer) write(p []byte) error {
	if w.writeIdle > 0 {
		// The deadline moves with progress; pushing it on every write
		// would cost a timer update each, so it moves in quarter steps.
		now := time.Now()
		if now.Sub(w.lastPush) > time.Duration(w.writeIdle/4) {
			w.lastPush = now
			_ = w.c.nc.SetWriteDeadline(now.Add(time.Duration(w.writeIdle)))
		}
	}
	_, err := w.c.nc.Write(p)
	return err
}

// abortLocked fails every later write.
func (w *writer) abortLocked() {
	if w.err == nil {
		w.err = net.ErrClosed
	}
	w.drained.Broadcast()
}
