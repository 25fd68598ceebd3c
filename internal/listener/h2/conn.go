package h2

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

const clientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// conn is one HTTP/2 connection. Its reading goroutine (serve) owns the
// framer; everything shared with the handlers is under mu.
type conn struct {
	s          *Server
	nc         net.Conn
	br         *bufio.Reader
	fr         *http2.Framer
	remoteAddr string
	baseCtx    context.Context
	tlsState   *tls.ConnectionState

	maxID uint32 // highest client stream id seen (reader only)

	mu        sync.Mutex
	streams   map[uint32]*stream // open and half-closed streams
	running   int                // handlers running, reset streams included
	queue     []*stream          // streams waiting for a handler slot
	closed    bool               // torn down: no more reads or writes
	goingAway bool               // GOAWAY sent or received: no new streams
	sentAway  bool               // our GOAWAY is out: it told the client which streams we took

	// Sending: peer's settings and windows.
	sendWindow   int32 // connection-level
	peerWindow   int32 // SETTINGS_INITIAL_WINDOW_SIZE for new streams
	peerMaxFrame int
	// Receiving: what the client may still send on the connection, and
	// bytes the handlers consumed that were not yet given back.
	recvWindow  int32
	recvUnacked int32

	w writer

	idleTimer *time.Timer

	// The streams we reset last (guarded by mu). Frames the client had in
	// flight on them are ignored, not taken for protocol errors.
	resets    [32]uint32
	resetNext int
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{
		s:            s,
		nc:           nc,
		remoteAddr:   nc.RemoteAddr().String(),
		streams:      make(map[uint32]*stream),
		sendWindow:   65535,
		peerWindow:   65535,
		peerMaxFrame: 16384,
		recvWindow:   connWindow,
	}
	c.baseCtx = context.WithValue(context.Background(), http.LocalAddrContextKey, nc.LocalAddr())
	if tc, ok := nc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		c.tlsState = &st
	}
	c.br = bufio.NewReaderSize(nc, 8<<10)
	c.fr = http2.NewFramer(io.Discard, c.br)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.fr.MaxHeaderListSize = uint32(s.o.MaxHeaderBytes)
	c.fr.SetReuseFrames()
	c.fr.SetMaxReadFrameSize(16384) // the default; Portico advertises no other
	c.w.init(c)
	return c
}

// serve reads frames until the connection ends, then tears it down.
func (c *conn) serve() {
	defer c.teardown()
	if !c.readPreface() {
		return
	}
	for {
		f, err := c.readFrame()
		if err == nil {
			err = c.process(f)
		}
		if err != nil && !c.handleError(err) {
			return
		}
	}
}

// readFrame is the framer's ReadFrame, except for a PRIORITY frame of
// the wrong length: RFC 9113 6.3 makes that a stream error
// FRAME_SIZE_ERROR, where the framer reports a connection error that
// would end every other stream. Its payload has been read by then.
func (c *conn) readFrame() (http2.Frame, error) {
	fh, err := c.fr.ReadFrameHeader()
	if err != nil {
		return nil, err
	}
	f, err := c.fr.ReadFrameForHeader(fh)
	if fh.Type == http2.FramePriority && fh.StreamID != 0 && fh.Length != 5 &&
		err == http2.ConnectionError(http2.ErrCodeFrameSize) {
		return nil, http2.StreamError{StreamID: fh.StreamID, Code: http2.ErrCodeFrameSize}
	}
	return f, err
}

// readPreface reads the client preface and its first SETTINGS, and sends
// the server's. It reports whether the connection goes on.
func (c *conn) readPreface() bool {
	if t := c.s.o.ReadHeaderTimeout; t > 0 {
		_ = c.nc.SetReadDeadline(time.Now().Add(t))
	}
	var buf [len(clientPreface)]byte
	if _, err := io.ReadFull(c.br, buf[:]); err != nil || string(buf[:]) != clientPreface {
		return false
	}
	c.mu.Lock()
	c.w.settings([]http2.Setting{
		{ID: http2.SettingMaxConcurrentStreams, Val: c.s.o.MaxConcurrentStreams},
		{ID: http2.SettingInitialWindowSize, Val: streamWindow},
		{ID: http2.SettingMaxHeaderListSize, Val: uint32(c.s.o.MaxHeaderBytes)},
		{ID: http2.SettingEnableConnectProtocol, Val: 1},
	})
	c.w.windowUpdate(0, connWindow-65535)
	c.w.flushLocked()
	c.w.releaseLocked()
	c.mu.Unlock()
	f, err := c.fr.ReadFrame()
	if err != nil {
		c.handleError(err)
		return false
	}
	if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
		c.goAway(http2.ErrCodeProtocol, errors.New("first frame is not SETTINGS"))
		return false
	}
	if err := c.process(f); err != nil {
		return c.handleError(err)
	}
	_ = c.nc.SetReadDeadline(time.Time{})
	c.armIdle()
	return true
}

// handleError answers a read or processing error; it reports whether the
// connection goes on (after a stream error it does).
func (c *conn) handleError(err error) bool {
	var se http2.StreamError
	var ce http2.ConnectionError
	switch {
	case errors.As(err, &se):
		c.resetStream(se.StreamID, se.Code)
		return true
	case errors.As(err, &ce):
		c.goAway(http2.ErrCode(ce), c.fr.ErrorDetail())
	case errors.Is(err, http2.ErrFrameTooLarge):
		c.goAway(http2.ErrCodeFrameSize, nil)
	}
	return false
}

func (c *conn) process(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.MetaHeadersFrame:
		return c.processHeaders(f)
	case *http2.DataFrame:
		return c.processData(f)
	case *http2.SettingsFrame:
		return c.processSettings(f)
	case *http2.WindowUpdateFrame:
		return c.processWindowUpdate(f)
	case *http2.PingFrame:
		if !f.IsAck() {
			c.mu.Lock()
			c.w.ping(f.Data)
			err := c.w.controlLocked()
			c.mu.Unlock()
			return err
		}
	case *http2.RSTStreamFrame:
		return c.processReset(f)
	case *http2.PriorityFrame:
		if f.StreamDep == f.StreamID {
			return http2.StreamError{StreamID: f.StreamID, Code: http2.ErrCodeProtocol}
		}
	case *http2.GoAwayFrame:
		c.mu.Lock()
		c.goingAway = true
		c.closeIfDoneLocked()
		c.mu.Unlock()
	case *http2.PushPromiseFrame:
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	return nil
}

func (c *conn) processSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return err
		}
		switch s.ID {
		case http2.SettingHeaderTableSize:
			c.w.enc.SetMaxDynamicTableSizeLimit(s.Val)
		case http2.SettingInitialWindowSize:
			delta := int64(s.Val) - int64(c.peerWindow)
			for _, st := range c.streams {
				if int64(st.sendWindow)+delta > 1<<31-1 {
					return http2.ConnectionError(http2.ErrCodeFlowControl)
				}
				st.sendWindow = int32(int64(st.sendWindow) + delta)
				st.cond.Broadcast()
			}
			c.peerWindow = int32(s.Val)
		case http2.SettingMaxFrameSize:
			c.peerMaxFrame = int(s.Val)
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.w.settingsAck()
	return c.w.controlLocked()
}

func (c *conn) processWindowUpdate(f *http2.WindowUpdateFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	inc := int64(f.Increment)
	if f.StreamID == 0 {
		if int64(c.sendWindow)+inc > 1<<31-1 {
			return http2.ConnectionError(http2.ErrCodeFlowControl)
		}
		c.sendWindow += int32(inc)
		for _, st := range c.streams {
			if st.waitingWindow {
				st.cond.Broadcast()
			}
		}
		return nil
	}
	st := c.streams[f.StreamID]
	if st == nil {
		if c.idle(f.StreamID) {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		return nil // closed: window updates may still be in flight
	}
	if int64(st.sendWindow)+inc > 1<<31-1 {
		return http2.StreamError{StreamID: f.StreamID, Code: http2.ErrCodeFlowControl}
	}
	st.sendWindow += int32(inc)
	st.cond.Broadcast()
	return nil
}

func (c *conn) processReset(f *http2.RSTStreamFrame) error {
	if c.idle(f.StreamID) {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	c.mu.Lock()
	st := c.streams[f.StreamID]
	if st != nil {
		c.closeStreamLocked(st, errClientGone)
	}
	c.mu.Unlock()
	if st != nil {
		st.ctx.Cancel()
	}
	return nil
}

// processHeaders opens a stream, or takes a stream's trailers.
func (c *conn) processHeaders(f *http2.MetaHeadersFrame) error {
	id := f.StreamID
	if id%2 == 0 {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	if f.HasPriority() && f.Priority.StreamDep == id {
		// A stream error (RFC 9113 5.3.1): the HEADERS opened the stream
		// all the same, and the reset closes it. Frames the client sends
		// on it meanwhile are on a closed stream, not an idle one.
		if id > c.maxID {
			c.mu.Lock()
			c.maxID = id
			c.mu.Unlock()
		}
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol}
	}
	c.mu.Lock()
	st := c.streams[id]
	if st != nil && st.remoteDone && st.w.sentEnd {
		// Both sides ended the stream: it is closed (RFC 9113 5.1), even
		// while its handler has yet to return and take it out of streams.
		c.mu.Unlock()
		return http2.ConnectionError(http2.ErrCodeStreamClosed)
	}
	if st != nil {
		err := st.takeTrailers(f)
		c.mu.Unlock()
		return err
	}
	if id <= c.maxID {
		ignore := c.lateOnResetLocked(id, f.StreamEnded()) // decoded all the same: HPACK state is kept
		c.mu.Unlock()
		if ignore {
			return nil
		}
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	c.maxID = id
	if c.sentAway || c.closed {
		c.mu.Unlock()
		return nil // above our GOAWAY's last stream id: the client knows to retry it elsewhere
	}
	if c.goingAway {
		// Only the client sent GOAWAY: nothing told it this stream goes
		// unprocessed, so say so, or it waits for a response forever.
		c.mu.Unlock()
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeRefusedStream}
	}
	if len(c.streams) >= int(c.s.o.MaxConcurrentStreams) {
		c.mu.Unlock()
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeRefusedStream}
	}
	c.mu.Unlock()

	st = newStream(c, id)
	handler, err := st.buildRequest(f)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.streams[id] = st
	if c.idleTimer != nil {
		c.idleTimer.Stop()
	}
	// A client that resets its streams at once (rapid reset) must not
	// get more handlers running than it may have streams open: later
	// streams wait for a slot, and too many waiting ends the connection.
	st.handler = handler
	if c.running >= int(c.s.o.MaxConcurrentStreams) {
		if len(c.queue) >= 4*int(c.s.o.MaxConcurrentStreams) {
			return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
		}
		c.queue = append(c.queue, st)
		return nil
	}
	c.running++
	c.s.workers.run(st)
	return nil
}

// processData passes a DATA frame's payload to its stream's body.
func (c *conn) processData(f *http2.DataFrame) error {
	id := f.StreamID
	length := int32(f.Length)
	c.mu.Lock()
	defer c.mu.Unlock()
	if length > c.recvWindow {
		return http2.ConnectionError(http2.ErrCodeFlowControl)
	}
	c.recvWindow -= length
	st := c.streams[id]
	if st == nil || st.remoteDone {
		// Give back the connection window at once: nobody will read it.
		c.giveBackLocked(length)
		if st == nil && c.idle(id) {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		if st == nil && c.lateOnResetLocked(id, f.StreamEnded()) {
			return nil // in flight when we reset it
		}
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeStreamClosed}
	}
	if length > st.recvWindow {
		c.giveBackLocked(length)
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeFlowControl}
	}
	st.recvWindow -= length
	data := f.Data()
	if pad := length - int32(len(data)); pad > 0 {
		c.giveBackLocked(pad)
		st.recvWindow += pad
		c.w.windowUpdate(id, uint32(pad))
	}
	if err := st.body.receive(data, f.StreamEnded()); err != nil {
		return err
	}
	return c.w.controlLocked()
}

// idle reports whether stream id was never opened, so that only HEADERS
// and PRIORITY may come on it (RFC 9113 5.1): a client stream above the
// highest the client opened, or any even one, since those are the
// server's and Portico opens none (no push). Lower odd ids are closed,
// opened or skipped. The reader calls it; maxID is the reader's.
func (c *conn) idle(id uint32) bool {
	return id%2 == 0 || id > c.maxID
}

// giveBackLocked returns n bytes of connection window to the client,
// batched until half the window is owed.
func (c *conn) giveBackLocked(n int32) {
	c.recvUnacked += n
	if c.recvUnacked >= connWindow/2 {
		c.w.windowUpdate(0, uint32(c.recvUnacked))
		c.recvWindow += c.recvUnacked
		c.recvUnacked = 0
	}
}

// rstStreamLocked queues RST_STREAM for stream id and remembers that we
// reset it: RFC 9113 5.1 has an endpoint ignore the frames that reach a
// stream after it sent RST_STREAM (the peer may have sent them before it
// saw the reset). A bounded memory of the last resets is enough for
// frames one round trip late.
func (c *conn) rstStreamLocked(id uint32, code http2.ErrCode) {
	c.w.rstStream(id, code)
	c.resets[c.resetNext] = id
	c.resetNext = (c.resetNext + 1) % len(c.resets)
}

// lateOnResetLocked reports whether a frame on closed stream id is one to
// ignore: we reset the stream lately and the client has not ended it
// since. The frame that ends it is the last one ignored.
func (c *conn) lateOnResetLocked(id uint32, ends bool) bool {
	for i, r := range c.resets {
		if r == id && id != 0 {
			if ends {
				c.resets[i] = 0
			}
			return true
		}
	}
	return false
}

// resetStream sends RST_STREAM and forgets the stream.
func (c *conn) resetStream(id uint32, code http2.ErrCode) {
	c.mu.Lock()
	st := c.streams[id]
	if st != nil {
		c.closeStreamLocked(st, errClientGone)
	}
	c.rstStreamLocked(id, code)
	_ = c.w.controlLocked()
	c.mu.Unlock()
	if st != nil {
		st.ctx.Cancel()
	}
}

// closeStreamLocked takes a stream out of the connection: it no longer
// counts against the limit, its body reads and writes fail with err, and
// its unread body bytes go back to the connection window. The caller
// cancels its context after unlocking.
func (c *conn) closeStreamLocked(st *stream, err error) {
	if c.streams[st.id] == st {
		delete(c.streams, st.id)
	}
	st.closed = true
	st.body.abortLocked(err)
	st.cond.Broadcast()
	c.closeIfDoneLocked()
}

// finishStream is called when a handler returns.
func (c *conn) finishStream(st *stream) {
	c.mu.Lock()
	c.running--
	if c.streams[st.id] == st {
		if !st.remoteDone {
			// RFC 9113 8.1: the response is complete, so the client
			// may stop sending the request.
			c.rstStreamLocked(st.id, http2.ErrCodeNo)
		}
		c.closeStreamLocked(st, errClientGone)
	}
	for len(c.queue) > 0 && !c.closed {
		next := c.queue[0]
		c.queue[0] = nil
		c.queue = c.queue[1:]
		if next.closed {
			continue // reset by the client while it waited: nothing to run
		}
		c.running++
		c.s.workers.run(next)
		break
	}
	c.armIdleLocked()
	c.w.flushLocked()
	if len(c.streams) == 0 && c.running == 0 {
		c.w.releaseLocked()
	}
	c.mu.Unlock()
	st.ctx.Cancel()
}

// closeIfDoneLocked closes a connection that is going away once its last
// stream is done.
func (c *conn) closeIfDoneLocked() {
	if c.goingAway && len(c.streams) == 0 && c.running == 0 && !c.closed {
		c.w.flushAllLocked()
		// Closing the write side lets the client read everything first;
		// the reader then sees EOF and tears down.
		if tc, ok := c.nc.(interface{ CloseWrite() error }); ok && tc.CloseWrite() == nil {
			_ = c.nc.SetReadDeadline(time.Now().Add(time.Second))
			return
		}
		_ = c.nc.Close()
	}
}

// goAway sends GOAWAY. With code 0 it is graceful: streams already open
// finish, then the connection closes. Otherwise the connection closes as
// soon as the frame is written.
func (c *conn) goAway(code http2.ErrCode, debug error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	var msg []byte
	if debug != nil {
		msg = []byte(debug.Error())
	}
	c.goingAway, c.sentAway = true, true
	c.w.goAway(c.maxID, code, msg)
	c.w.flushAllLocked()
	if code != http2.ErrCodeNo {
		c.closed = true
		_ = c.nc.Close()
		return
	}
	c.closeIfDoneLocked()
}

func (c *conn) armIdle() {
	c.mu.Lock()
	c.armIdleLocked()
	c.mu.Unlock()
}

// armIdleLocked starts the idle timer when no stream is open.
func (c *conn) armIdleLocked() {
	d := c.s.o.IdleTimeout
	if d <= 0 || len(c.streams) > 0 || c.running > 0 || c.closed {
		return
	}
	if c.idleTimer == nil {
		c.idleTimer = time.AfterFunc(d, c.onIdle)
		return
	}
	c.idleTimer.Reset(d)
}

func (c *conn) onIdle() {
	c.mu.Lock()
	idle := len(c.streams) == 0 && c.running == 0
	c.mu.Unlock()
	if idle {
		c.goAway(0, nil)
	}
}

// teardown ends the connection after its reader stops: every stream
// still open fails, and the socket closes.
func (c *conn) teardown() {
	c.mu.Lock()
	c.closed = true
	if c.idleTimer != nil {
		c.idleTimer.Stop()
	}
	var cancel []*stream
	for _, st := range c.streams {
		cancel = append(cancel, st)
		c.closeStreamLocked(st, errClientGone)
	}
	c.queue = nil
	c.w.abortLocked()
	c.mu.Unlock()
	_ = c.nc.Close()
	for _, st := range cancel {
		st.ctx.Cancel()
	}
}
