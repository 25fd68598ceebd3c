package h1

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/portico-proxy/portico/internal/rawsock"
)

// Connection states, for Shutdown.
const (
	stateIdle     int32 = iota // waiting for a request's first byte
	stateActive                // reading or serving a request
	stateClosed                // closed by the server
	stateDetached              // hijacked or handed to H2C: no longer ours
)

// What serveOne asks of the connection loop.
type outcome uint8

const (
	keepAlive outcome = iota
	closeConn
	lingerClose // half-close and drain briefly, so the response is not lost to a reset
	detached
)

const (
	lingerTime   = 250 * time.Millisecond
	rejectWrite  = time.Second
	h2PrefaceEnd = "SM\r\n\r\n"
	h2Head       = "PRI * HTTP/2.0\r\n\r\n"
)

// conn is one downstream connection, served by one goroutine.
type conn struct {
	s          *Server
	rwc        net.Conn
	rf         io.ReaderFrom   // rwc's, for kernel copies; nil if none
	tcp        *net.TCPConn    // the plain TCP socket under rwc, for writev; nil under TLS
	raw        syscall.RawConn // the TCP socket's, for corking and peeking; nil if none
	bare       bareWait        // how the connection waits holding no buffer
	remoteAddr string
	baseCtx    context.Context
	tlsState   *tls.ConnectionState // set when rwc is a handshaken *tls.Conn

	br *bufio.Reader // nil while idle long enough
	bw *bufio.Writer // nil while idle long enough
	cr connReader
	cw connWriter
	ph parsedHead
	bg bgRead

	state  atomic.Int32
	served int

	// waitBy is the read deadline waitRequest set and that is still in
	// force; readDeadlineMoved is set wherever else the read deadline
	// changes (some of those run on other goroutines), which voids it.
	waitBy            time.Time
	readDeadlineMoved atomic.Bool
}

func newConn(s *Server, rwc net.Conn) *conn {
	c := &conn{s: s, rwc: rwc, remoteAddr: rwc.RemoteAddr().String()}
	c.baseCtx = context.WithValue(context.Background(), http.LocalAddrContextKey, rwc.LocalAddr())
	if tc, ok := rwc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		c.tlsState = &st
	}
	c.rf, _ = rwc.(io.ReaderFrom)
	if tcp := rawsock.TCP(rwc); tcp != nil {
		c.raw, _ = tcp.SyscallConn()
		if c.tlsState == nil {
			c.tcp = tcp
		}
	}
	switch {
	case c.tlsState != nil:
		c.bare = bareTLSByte
	case c.raw != nil && socketPeekWaits:
		c.bare = bareSocketPeek
	}
	c.cr.c, c.cw.c = c, c
	c.cw.idle = max(s.o.WriteIdleTimeout, 0)
	c.cw.lastPush = pushNeeded
	return c
}

func (c *conn) serve() {
	for {
		if !c.waitRequest() {
			c.close(false)
			return
		}
		switch c.serveOne() {
		case keepAlive:
			c.served++
			continue
		case closeConn:
			c.close(false)
		case lingerClose:
			c.close(true)
		}
		return
	}
}

// waitRequest waits for the first byte of the next request, under
// ReadHeaderTimeout for a new connection and IdleTimeout after that. A
// keep-alive connection idle for longer than the server's idleRelease
// gives its buffers back meanwhile.
func (c *conn) waitRequest() bool {
	c.state.Store(stateIdle)
	if c.s.inShutdown.Load() {
		return false
	}
	if c.br != nil && c.br.Buffered() > 0 || c.cr.hasByte {
		return c.state.CompareAndSwap(stateIdle, stateActive)
	}
	o := &c.s.o
	now := time.Now()
	var deadline time.Time
	switch {
	case c.served == 0 && o.ReadHeaderTimeout > 0:
		deadline = now.Add(o.ReadHeaderTimeout)
	case c.served > 0 && o.IdleTimeout > 0:
		deadline = now.Add(o.IdleTimeout)
	}
	if c.br != nil && c.br.Size() != readBufSize {
		c.br = getReader(&c.cr) // drop a buffer grown for a large head
	}
	rel := c.s.idleRelease
	switch {
	case c.bare != bareNone && c.served == 0:
		// A new connection gets its read buffer when its first bytes
		// arrive, as nginx does: an accepted but silent connection
		// costs no buffer.
		if c.waitBare(deadline) != nil {
			return false
		}
	case c.bare != bareNone && c.s.open.Load() >= manyConns:
		c.releaseBuffers()
		if c.waitBare(deadline) != nil {
			return false
		}
	case c.bare != bareNone && rel > 0 && (deadline.IsZero() || o.IdleTimeout > rel):
		c.setWaitDeadline(now.Add(rel), rel)
		_, err := c.br.Peek(1)
		if err == nil {
			return c.state.CompareAndSwap(stateIdle, stateActive)
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return false
		}
		c.releaseBuffers()
		if c.waitBare(deadline) != nil {
			return false
		}
	}
	if c.br == nil {
		c.br = getReader(&c.cr)
	}
	c.setWaitDeadline(deadline, o.IdleTimeout)
	if _, err := c.br.Peek(1); err != nil {
		return false
	}
	return c.state.CompareAndSwap(stateIdle, stateActive)
}

// bareWait is how a connection waits for its next request while holding
// no buffer.
type bareWait uint8

const (
	bareNone       bareWait = iota // it keeps its buffers (plain TCP off Linux, or no socket)
	bareSocketPeek                 // the poller, then a peek at the socket (plain TCP on Linux)
	bareTLSByte                    // a one-byte read through TLS, kept for the parser
)

// waitBare waits, holding no buffer, until the connection has a byte of a
// request, under deadline. A TLS connection cannot peek at its socket:
// crypto/tls may already hold the next records (a request sent with the
// handshake's last flight, say). It reads one byte instead, which the
// connection reader hands out first; the rest of its record stays in
// crypto/tls's own buffer.
func (c *conn) waitBare(deadline time.Time) error {
	if err := c.rwc.SetReadDeadline(deadline); err != nil {
		return err
	}
	c.waitBy = deadline
	if c.bare == bareSocketPeek {
		return waitReadable(c.raw)
	}
	n, err := c.rwc.Read(c.cr.byteBuf[:])
	c.cr.hasByte = n == 1
	return err
}

// setWaitDeadline sets the read deadline for the wait for the next
// request. Setting one costs two clock reads and a timer update, so a busy
// connection keeps the deadline it has when that is earlier than t by less
// than an eighth of timeout (and a second).
func (c *conn) setWaitDeadline(t time.Time, timeout time.Duration) {
	if c.readDeadlineMoved.Swap(false) {
		c.waitBy = time.Time{}
	}
	if !t.IsZero() && !c.waitBy.IsZero() {
		if d := t.Sub(c.waitBy); d >= 0 && d < min(timeout/8, time.Second) {
			return
		}
	}
	_ = c.rwc.SetReadDeadline(t)
	c.waitBy = t
}

func (c *conn) releaseBuffers() {
	putReader(c.br)
	c.br = nil
	if c.bw != nil {
		putWriter(c.bw)
		c.bw = nil
	}
	c.s.releases.Add(1)
}

// serveOne reads, checks and serves one request.
func (c *conn) serveOne() outcome {
	n, status, reason := c.readHead()
	if status < 0 {
		return closeConn
	}
	if c.bw == nil {
		c.bw = getWriter(&c.cw)
	}
	if status > 0 {
		return c.reject(status, reason)
	}
	buf, _ := c.br.Peek(n)
	if c.served == 0 && c.s.o.H2C != nil && string(buf) == h2Head {
		return c.handOffH2C(n)
	}
	head := string(buf)
	_, _ = c.br.Discard(n)
	if status, reason = parseHead(head, &c.ph, c.s.o.MaxHeaderCount); status != 0 {
		return c.reject(status, reason)
	}
	if c.ph.preface {
		return c.reject(http.StatusHTTPVersionNotSupported, reasonUnsupportedVers)
	}
	ex := getExchange()
	if status, reason = c.buildRequest(ex, &c.ph); status != 0 {
		putExchange(ex)
		return c.reject(status, reason)
	}
	return c.run(ex)
}

// readHead waits until the buffer holds a whole request head and returns
// its length; or a status > 0 to reject with; or < 0 to close quietly
// (read error or timeout, as net/http). Up to two empty lines before the
// request line are skipped (RFC 9112 2.2).
func (c *conn) readHead() (int, int, string) {
	o := &c.s.o
	br := c.br
	scanned, leading := 0, 0
	deadlineSet := c.served == 0 // the first request's deadline covers its head
	for {
		buf, _ := br.Peek(br.Buffered())
		for leading < 2 && len(buf) >= 2 && buf[0] == '\r' && buf[1] == '\n' {
			_, _ = br.Discard(2)
			buf, leading, scanned = buf[2:], leading+1, 0
		}
		end, reason := findHeadEnd(buf, scanned)
		switch {
		case reason != "":
			return 0, http.StatusBadRequest, reason
		case end > o.MaxHeaderBytes:
			return 0, http.StatusRequestHeaderFieldsTooLarge, reasonTooLarge
		case end > 0:
			return end, 0, ""
		case len(buf) >= o.MaxHeaderBytes:
			return 0, http.StatusRequestHeaderFieldsTooLarge, reasonTooLarge
		}
		scanned = len(buf)
		if len(buf) == br.Size() {
			br = c.growReader()
		}
		if !deadlineSet && o.ReadHeaderTimeout > 0 {
			c.readDeadlineMoved.Store(true)
			_ = c.rwc.SetReadDeadline(time.Now().Add(o.ReadHeaderTimeout))
			deadlineSet = true
		}
		if _, err := br.Peek(len(buf) + 1); err != nil {
			return 0, -1, ""
		}
	}
}

// growReader replaces the read buffer by one of MaxHeaderBytes, for a
// head that does not fit; the bytes already read are replayed into it.
func (c *conn) growReader() *bufio.Reader {
	old := c.br
	buf, _ := old.Peek(old.Buffered())
	c.cr.pending = append(append([]byte(nil), buf...), c.cr.pending...)
	putReader(old)
	c.br = bufio.NewReaderSize(&c.cr, c.s.o.MaxHeaderBytes)
	return c.br
}

// run serves a parsed request and finishes its response.
func (c *conn) run(ex *exchange) outcome {
	r, w := &ex.req, &ex.w
	var b *body
	if r.Body != http.NoBody {
		b = &ex.body
		b.init(c, w, r, &c.ph)
		c.cr.body, c.cr.lastPush = true, pushNeeded
	}
	w.init(c, r, b, &c.ph)
	c.bgStart(ex.ctx)
	if b == nil {
		c.bgArm()
	}
	p := c.callHandler(w, r)
	ex.ctx.Cancel()
	if w.hijacked {
		return detached
	}
	alive := c.bgStop()
	if p != nil {
		return c.afterPanic(w, p)
	}
	w.finish()
	out := keepAlive
	if !alive || w.closeAfter {
		out = closeConn
	}
	if b != nil {
		c.cr.body = false
		if !b.finish() && alive {
			out = lingerClose // unread body bytes must not turn the close into a reset
		}
	} else {
		// No body that a goroutine the handler started could still read,
		// no panic, no hijack: nothing else uses ex now.
		putExchange(ex)
	}
	c.clearExternalDeadlines()
	return out
}

type panicValue struct{ v any }

func (c *conn) callHandler(w *response, r *http.Request) (p *panicValue) {
	defer func() {
		if v := recover(); v != nil {
			p = &panicValue{v}
		}
	}()
	c.s.h.ServeHTTP(w, r)
	return nil
}

// afterPanic answers 500 if nothing of the response has reached the
// client, logs the panic (not http.ErrAbortHandler) and closes.
func (c *conn) afterPanic(w *response, p *panicValue) outcome {
	w.releasePre()
	if w.hijacked {
		return detached
	}
	if p.v == http.ErrAbortHandler {
		return closeConn
	}
	c.s.logPanic(c.remoteAddr, p.v)
	if !w.wroteHeader || c.cw.n == w.headOut {
		c.bw.Reset(&c.cw)
		return c.reject(http.StatusInternalServerError, "")
	}
	return closeConn
}

func (c *conn) clearExternalDeadlines() {
	if c.cw.external.Swap(false) {
		_ = c.rwc.SetWriteDeadline(time.Time{})
		c.cw.lastPush = pushNeeded
	}
	c.cr.external.Store(false)
}

// reject writes a short plain-text error response with Connection:
// close; the connection is then closed.
func (c *conn) reject(code int, reason string) outcome {
	text := strconv.Itoa(code) + " " + http.StatusText(code)
	if reason != "" {
		text += ": " + reason
	}
	text += "\n"
	_ = c.rwc.SetWriteDeadline(time.Now().Add(rejectWrite))
	c.cw.external.Store(true)
	bw := c.bw
	writeStatusLine(bw, true, code)
	bw.WriteString("Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n")
	writeLength(bw, int64(len(text)))
	bw.WriteString("\r\n")
	bw.WriteString(text)
	_ = bw.Flush()
	return lingerClose
}

// handOffH2C gives the connection to Options.H2C once the whole preface
// is in the buffer; the conn it gets replays the buffered bytes first.
func (c *conn) handOffH2C(n int) outcome {
	b, err := c.br.Peek(n + len(h2PrefaceEnd))
	if err != nil {
		return closeConn
	}
	if string(b[n:]) != h2PrefaceEnd {
		return c.reject(http.StatusBadRequest, reasonBadPreface)
	}
	c.state.Store(stateDetached)
	c.s.untrack(c)
	_ = c.rwc.SetDeadline(time.Time{})
	rc := &replayConn{Conn: c.rwc, br: c.br}
	c.br = nil
	putWriter(c.bw)
	c.bw = nil
	c.s.o.H2C(rc)
	return detached
}

// replayConn reads what the server's buffer holds before the connection.
type replayConn struct {
	net.Conn
	br *bufio.Reader
}

func (r *replayConn) Read(p []byte) (int, error) {
	if r.br != nil {
		if r.br.Buffered() > 0 {
			return r.br.Read(p)
		}
		r.br = nil
	}
	return r.Conn.Read(p)
}

// close closes the connection (after a half-close and a short drain when
// linger) and gives its buffers back.
func (c *conn) close(linger bool) {
	c.state.Store(stateClosed)
	if linger {
		c.lingerClose()
	}
	_ = c.rwc.Close()
	if c.bg.timer != nil {
		c.bg.timer.Stop()
	}
	if c.br != nil {
		putReader(c.br)
		c.br = nil
	}
	if c.bw != nil {
		putWriter(c.bw)
		c.bw = nil
	}
	c.s.untrack(c)
}

// lingerClose half-closes and reads (for lingerTime at most) what the
// client still sends, so that unread request bytes do not turn the close
// into a reset that makes the client drop the response unread.
func (c *conn) lingerClose() {
	cw, ok := c.rwc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	_ = c.rwc.SetReadDeadline(time.Now().Add(lingerTime))
	buf := getPre()
	defer putPre(buf)
	for range 64 {
		if _, err := c.rwc.Read((*buf)[:cap(*buf)]); err != nil {
			return
		}
	}
}
