package upstream

import (
	"context"
	"errors"
	"github.com/portico-proxy/portico/internal/httpsyntax"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// Proxy is the terminal handler that sends a request to a pool.
type Proxy struct {
	Pool *Pool
	// StripPrefix is removed from the request path (segment-wise) and
	// AddPrefix put in front of what is left, before the backend's own
	// base path is prepended.
	StripPrefix string
	AddPrefix   string
	// HostHeader is the Host sent upstream: "" keeps the client's,
	// "upstream" uses the backend's host:port, anything else is literal.
	HostHeader string
	Trust      *Trust
	// Forwarded picks the forwarding headers sent; default both kinds.
	Forwarded ForwardedHeaders
}

// aLongTimeAgo is a deadline that makes blocked I/O return at once.
var aLongTimeAgo = time.Unix(1, 0)

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !p.Pool.admit(w) {
		return
	}
	defer p.Pool.pending.Add(-1)
	if r.Method == http.MethodConnect {
		// Portico is a reverse proxy, not a forward one: the only CONNECT
		// it takes is HTTP/2's extended CONNECT for WebSocket (RFC 8441).
		if proto := r.Header.Get(":protocol"); proto != "" && r.ProtoMajor == 2 && p.Pool.h2 == nil {
			p.serveExtendedConnect(w, r, proto)
			return
		}
		WriteStatus(w, http.StatusMethodNotAllowed)
		return
	}
	if p.Pool.h2 != nil {
		p.serveH2(w, r)
		return
	}
	p.serveH1(w, r)
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// upgradeOf returns the protocol an HTTP/1.1 client asks to switch to, or
// "". h2c is never tunnelled: such a request is proxied as a plain one.
func upgradeOf(r *http.Request) string {
	if r.ProtoMajor != 1 {
		return ""
	}
	up := r.Header.Get("Upgrade")
	if up == "" || !hasToken(r.Header["Connection"], "upgrade") || hasToken([]string{up}, "h2c") {
		return ""
	}
	return up
}

func (p *Proxy) hostFor(r *http.Request, b *Backend) string {
	switch p.HostHeader {
	case "":
		return r.Host
	case "upstream":
		return b.host
	}
	return p.HostHeader
}

// outgoingURI is the escaped path and query sent upstream, after prefix
// rewriting. The client's own escaping is kept.
func (p *Proxy) outgoingURI(r *http.Request) string {
	path := r.URL.EscapedPath()
	if p.StripPrefix != "" {
		if rest, ok := cutSegmentPrefix(path, p.StripPrefix); ok {
			path = rest
		} else if rest, ok := cutSegmentPrefix(r.URL.Path, p.StripPrefix); ok {
			// The prefix came escaped (/%61pi/x, /api%2Fx) and the router
			// matched it decoded: cut it from the decoded path and escape
			// the rest again, as nginx does.
			path = (&url.URL{Path: rest}).EscapedPath()
		}
	}
	if p.AddPrefix != "" {
		path = strings.TrimSuffix(p.AddPrefix, "/") + path
	}
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		// The request line's own target when it says the same: the
		// usual case, and no allocation.
		if ru := r.RequestURI; len(ru) == len(path)+1+len(r.URL.RawQuery) &&
			ru[len(path)] == '?' && strings.HasPrefix(ru, path) && strings.HasSuffix(ru, r.URL.RawQuery) {
			return ru
		}
		return path + "?" + r.URL.RawQuery
	}
	return path
}

// cutSegmentPrefix removes prefix from path when it ends on a segment
// boundary: "/api" strips "/api/x" to "/x" and "/api" to "", not "/apix".
func cutSegmentPrefix(path, prefix string) (string, bool) {
	prefix = strings.TrimSuffix(prefix, "/")
	if !strings.HasPrefix(path, prefix) {
		return path, false
	}
	rest := path[len(prefix):]
	if rest != "" && rest[0] != '/' {
		return path, false
	}
	return rest, true
}

// exchange does one attempt against backend b. started reports whether
// the response head was already written downstream, after which a failure
// can only abort the stream; end is when the attempt ended.
func (p *Proxy) exchange(w http.ResponseWriter, r *http.Request, b *Backend, h *requestHead, replayable bool) (started bool, end time.Time, err error) {
	ctx := r.Context()
	c, err := b.conns.get(ctx, h.start)
	if err != nil {
		return false, time.Now(), p.fail(ctx, b, KindDial, true, err)
	}
	// A client that goes away interrupts whatever the backend side is
	// blocked on; no goroutine waits for that.
	stop := onCancel(ctx, c.abort)
	reusable := false
	defer func() {
		end = time.Now()
		// Bytes read past the end of the response are none of the next
		// request's business: a connection holding some is closed.
		if !stop() || !reusable || c.br.Buffered() > 0 {
			c.nc.Close()
			return
		}
		c.pool.put(c, end)
	}()
	for {
		started, reusable, err = p.roundTrip(w, r, c, h)
		if err == nil || started || !c.reused || !replayable || !isStale(err) {
			break
		}
		// The backend closed a kept-alive connection as we reused it:
		// nothing was processed, so try once more on a fresh one.
		c.nc.Close()
		// A failed redial must not leave c nil for the deferred release.
		fresh, derr := b.conns.get(ctx, time.Now())
		if derr != nil {
			return false, end, p.fail(ctx, b, KindDial, true, derr)
		}
		c = fresh
		c.reused = false
	}
	if err != nil {
		return started, end, p.classify(ctx, b, err, replayable)
	}
	return started, end, nil
}

// afterFuncer is implemented by the request contexts of Portico's own
// HTTP/1.1 and HTTP/2 engines: a function registered there runs when the
// request is cancelled, with no context or goroutine of its own.
type afterFuncer interface {
	AfterFunc(f func()) (stop func() bool)
}

// onCancel runs f when ctx is done, like context.AfterFunc; f must be
// quick, as it may run on the goroutine that cancels.
func onCancel(ctx context.Context, f func()) (stop func() bool) {
	if a, ok := ctx.(afterFuncer); ok {
		return a.AfterFunc(f)
	}
	return context.AfterFunc(ctx, f)
}

func isStale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe")
}

func (p *Proxy) fail(ctx context.Context, b *Backend, kind Kind, retryable bool, err error) *Error {
	if ctx.Err() != nil {
		kind, retryable = KindClientGone, false
	} else if kind == KindDial && isTimeout(err) {
		kind = KindTimeout
	}
	return &Error{Pool: p.Pool.name, Backend: b.addr, Kind: kind, Retryable: retryable, Err: err}
}

func (p *Proxy) classify(ctx context.Context, b *Backend, err error, replayable bool) *Error {
	var ue *Error
	if errors.As(err, &ue) {
		ue.Pool, ue.Backend = p.Pool.name, b.addr
		return ue
	}
	switch {
	case errors.Is(err, errMalformed):
		return p.fail(ctx, b, KindProtocol, replayable, err)
	case isTimeout(err):
		return p.fail(ctx, b, KindTimeout, replayable, err)
	}
	return p.fail(ctx, b, KindIO, replayable, err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// errClientBody marks a failure reading the downstream request body: the
// client's fault, not the backend's.
var errClientBody = errors.New("reading request body")

// roundTrip sends the request on c and relays the response. reusable is
// true when c ended the exchange in a clean keep-alive state.
func (p *Proxy) roundTrip(w http.ResponseWriter, r *http.Request, c *conn, h *requestHead) (started, reusable bool, err error) {
	if !h.tryDeadline.IsZero() {
		_ = c.nc.SetWriteDeadline(h.tryDeadline)
	}
	writesBefore := c.out.writes
	writeRequestHead(c.bw, r, h)
	sendBody := h.framing == bodyLength || h.framing == bodyChunked
	head := &c.head
	var kept http.Header // see relayEarlyHints
	if sendBody && h.expect100 {
		if err := c.bw.Flush(); err != nil {
			return false, false, err
		}
		got, err := p.awaitContinue(w, c, head, &kept)
		if err != nil {
			return false, false, err
		}
		if got { // a final answer before the body: relay it, drop the conn
			started, _, err = p.relay(w, r, c, head)
			return started, false, err
		}
	}
	if sendBody {
		if err := sendRequestBody(c, r, h); err != nil {
			return false, false, err
		}
	}
	// A request that is all in the buffer is flushed inside the wait for
	// its response (see sendAndAwait), once the read deadline is set.
	fused := c.raw != nil && c.out.writes == writesBefore
	if !fused {
		if err := c.bw.Flush(); err != nil {
			return false, false, err
		}
	}
	// The attempt's start stands for now unless a dial or a request body
	// took time since.
	now := h.start
	if !c.reused || sendBody || now.IsZero() {
		now = time.Now()
	}
	readBy := now.Add(p.Pool.firstByteTimeout)
	if !h.tryDeadline.IsZero() && h.tryDeadline.Before(readBy) {
		readBy = h.tryDeadline
	}
	// Setting a deadline costs two clock reads and a timer update: on a
	// busy connection the one in force is kept when it is earlier than
	// asked for by at most an eighth of the timeout (and a second). A
	// per-try deadline is always set exactly.
	slack := min(p.Pool.firstByteTimeout/8, time.Second)
	if d := readBy.Sub(c.readBy); !h.tryDeadline.IsZero() || c.readBy.IsZero() || d < 0 || d >= slack {
		_ = c.nc.SetReadDeadline(readBy)
		c.readBy = readBy
	}
	// A client that left since the request went out had its abort (a
	// past deadline) overwritten just now: look before waiting.
	if err := r.Context().Err(); err != nil {
		return false, false, err
	}
	if fused {
		if err := c.sendAndAwait(); err != nil {
			return false, false, err
		}
	}
	for {
		if err := readResponseHead(c.br, head); err != nil {
			return false, false, err
		}
		if head.status >= 200 || head.status == http.StatusSwitchingProtocols {
			break
		}
		if head.status == http.StatusEarlyHints {
			relayEarlyHints(w, head, &kept)
		}
	}
	h.status = head.status
	if h.sent != 0 {
		now := p.Pool.now().UnixNano()
		h.backend.observeLatency(now, now-h.sent)
	}
	if !h.tryDeadline.IsZero() {
		_ = c.nc.SetWriteDeadline(time.Time{})
	}
	if h.retryStatus && p.Pool.retryOn.status(head.status) {
		// Dropped unread: the connection is closed, and the request goes
		// to another backend.
		return false, false, &Error{Kind: KindStatus, Code: head.status, Retryable: true}
	}
	// The first-byte deadline is lifted before a body is read from the
	// socket (streams may pause for long). A body already in the buffer
	// needs no socket read, so the common small response skips the call;
	// the next exchange on this connection sets its own deadline.
	if head.contentLength < 0 || int64(c.br.Buffered()) < head.contentLength || head.status == http.StatusSwitchingProtocols {
		_ = c.nc.SetReadDeadline(time.Time{})
		c.readBy = time.Time{}
		if err := r.Context().Err(); err != nil {
			return false, false, err // as above: the clear may have undone an abort
		}
	}
	if head.status == http.StatusSwitchingProtocols {
		if !switchesTo(h.upgrade, head.upgrade) {
			return false, false, errMalformed
		}
		return true, false, p.tunnel(w, c, head)
	}
	return p.relay(w, r, c, head)
}

// awaitContinue waits briefly for the backend's answer to Expect:
// 100-continue. got is true when the backend sent a final response
// instead; on 100 or silence the body is sent.
func (p *Proxy) awaitContinue(w http.ResponseWriter, c *conn, head *responseHead, kept *http.Header) (got bool, err error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(time.Second))
	for {
		err = readResponseHead(c.br, head)
		if err != nil || head.status == http.StatusContinue || head.status >= 200 || head.status == http.StatusSwitchingProtocols {
			break
		}
		if head.status == http.StatusEarlyHints { // other interim answers (102) are skipped
			relayEarlyHints(w, head, kept)
		}
	}
	_ = c.nc.SetReadDeadline(time.Time{})
	c.readBy = time.Time{}
	switch {
	case err != nil && isTimeout(err) && c.br.Buffered() == 0:
		return false, nil
	case err != nil:
		return false, err
	case head.status == http.StatusContinue:
		return false, nil
	case head.status >= 200:
		return true, nil
	}
	return false, errMalformed
}

// sendRequestBody streams the downstream body to the backend in its own
// framing. A read error is the client's; a write error the backend's.
func sendRequestBody(c *conn, r *http.Request, h *requestHead) error {
	framing := h.framing
	if h.body != nil {
		// The buffered body of a request that may be replayed.
		_, err := c.bw.Write(h.body)
		return err
	}
	bufp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bufp)
	buf := *bufp
	var sent int64
	for {
		n, rerr := r.Body.Read(buf)
		if n > 0 {
			sent += int64(n)
			if framing == bodyChunked {
				writeChunkHeader(c, n)
			}
			if _, err := c.bw.Write(buf[:n]); err != nil {
				return err
			}
			if framing == bodyChunked {
				c.bw.WriteString("\r\n")
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return &Error{Kind: KindClientGone, Err: errors.Join(errClientBody, rerr)}
		}
	}
	if framing == bodyLength && sent != r.ContentLength {
		return &Error{Kind: KindClientGone, Err: errClientBody}
	}
	if framing == bodyChunked {
		c.bw.WriteString("0\r\n")
		for k, vv := range r.Trailer {
			if httpsyntax.ValidToken(k) {
				for _, v := range vv {
					if httpsyntax.ValidFieldValue(v) {
						writeField(c.bw, k, v)
					}
				}
			}
		}
		c.bw.WriteString("\r\n")
	}
	return nil
}

func writeChunkHeader(c *conn, n int) {
	const hex = "0123456789abcdef"
	var b [18]byte
	i := len(b) - 2
	b[i], b[i+1] = '\r', '\n'
	for {
		i--
		b[i] = hex[n&0xf]
		n >>= 4
		if n == 0 {
			break
		}
	}
	c.bw.Write(b[i:])
}

// relayEarlyHints sends a 103 downstream with its fields. The response
// writer sends whatever its header map holds, so the map is put back as
// it was before the first 103 (*kept) afterwards: a hint's fields belong
// to it alone, not to the next hint or the final response.
func relayEarlyHints(w http.ResponseWriter, head *responseHead, kept *http.Header) {
	dst := w.Header()
	if *kept == nil {
		*kept = dst.Clone()
	}
	relayHeaders(dst, head)
	w.WriteHeader(http.StatusEarlyHints)
	clear(dst)
	maps.Copy(dst, *kept) // Clone's slices are full: an append copies them
}

// relayHeaders copies the end-to-end response fields into dst.
//
// It returns a spare one-value slice from the same allocation, for the
// Content-Length the caller sets.
func relayHeaders(dst http.Header, head *responseHead) (spare []string) {
	var connection []string
	for _, f := range head.fields {
		if f.k == "Connection" {
			connection = append(connection, f.v)
		}
	}
	// One backing array for every value: one allocation per response
	// instead of one per field.
	n := len(head.fields)
	vals := make([]string, n+1)
	for i, f := range head.fields {
		if isHopHeader(f.k) || (connection != nil && hasToken(connection, f.k)) {
			continue
		}
		if prev, ok := dst[f.k]; ok {
			dst[f.k] = append(prev, f.v)
			continue
		}
		vals[i] = f.v
		dst[f.k] = vals[i : i+1 : i+1]
	}
	return vals[n : n+1 : n+1]
}

// relay writes the response head downstream and copies the body. It
// reports whether the connection may be reused.
func (p *Proxy) relay(w http.ResponseWriter, r *http.Request, c *conn, head *responseHead) (started, reusable bool, err error) {
	dst := w.Header()
	spare := relayHeaders(dst, head)
	if _, ok := dst["Content-Type"]; !ok {
		dst["Content-Type"] = nil // no sniffing: a proxy adds no type of its own
	}
	bodyless := r.Method == http.MethodHead || head.status == http.StatusNoContent ||
		head.status == http.StatusNotModified || head.status < 200
	if head.contentLength >= 0 && (!bodyless || r.Method == http.MethodHead) {
		spare[0] = head.lengthText
		dst["Content-Length"] = spare
	}
	if head.chunked {
		// Announced trailers make net/http keep chunked framing even for
		// a short body, so the trailers have somewhere to go.
		for _, f := range head.fields {
			if f.k == "Trailer" {
				dst["Trailer"] = append(dst["Trailer"], f.v)
			}
		}
	}
	w.WriteHeader(head.status)
	if bodyless {
		// A 204 that announces a body (RFC 9110 forbids both fields
		// there) may well send one: it must not be read as the next
		// response.
		announced := head.status == http.StatusNoContent && (head.contentLength > 0 || head.chunked)
		return true, !head.close && !announced, nil
	}
	switch {
	case head.chunked:
		err = copyChunked(w, c)
	case head.contentLength >= 0:
		var direct bool
		direct, err = copyLength(w, c, head.contentLength, streamingType(dst))
		// The end of a body read straight from the socket was never
		// looked past: bytes the backend sent beyond its length wait
		// there for the next request, unless looked for now.
		if direct && err == nil && !c.socketQuiet() {
			return true, false, nil
		}
	default: // delimited by close
		err = copyStream(w, c.br, c.br)
		return true, false, err
	}
	return true, err == nil && !head.close, err
}

func streamingType(h http.Header) bool {
	ct := h["Content-Type"]
	return len(ct) > 0 && strings.HasPrefix(ct[0], "text/event-stream")
}

// copyLength copies a body of known length. What the read buffer holds
// is written first; the rest goes straight from the socket so that
// net/http can hand it to the kernel (splice) when both ends are TCP.
// direct reports whether the rest was read from the socket, not the
// buffer.
func copyLength(w http.ResponseWriter, c *conn, n int64, stream bool) (direct bool, err error) {
	if stream {
		lr := &io.LimitedReader{R: c.br, N: n}
		err := copyStream(w, lr, c.br)
		if err == nil && lr.N > 0 {
			err = io.ErrUnexpectedEOF // the backend closed before the end
		}
		return false, err
	}
	if k := c.br.Buffered(); k > 0 {
		if int64(k) > n {
			k = int(n)
		}
		b, _ := c.br.Peek(k)
		if _, err := w.Write(b); err != nil {
			return false, clientGone(err)
		}
		_, _ = c.br.Discard(k)
		n -= int64(k)
	}
	if n == 0 {
		return false, nil
	}
	var src io.Reader = c.nc
	if c.tcp != nil {
		src = c.tcp
	}
	lr := &io.LimitedReader{R: src, N: n}
	bufp := copyBufs.Get().(*[]byte)
	_, err = io.CopyBuffer(w, lr, *bufp)
	copyBufs.Put(bufp)
	if err == nil && lr.N > 0 {
		err = io.ErrUnexpectedEOF
	}
	return true, err
}

// copyChunked decodes the backend's chunked body, re-sent downstream in
// the downstream's own framing, then relays the trailers.
func copyChunked(w http.ResponseWriter, c *conn) error {
	cr := httputil.NewChunkedReader(c.br)
	if err := copyStream(w, cr, c.br); err != nil {
		return err
	}
	return readTrailers(c.br, w.Header())
}

// copyStream copies until EOF, flushing whenever the backend has nothing
// more buffered, so streamed responses (server-sent events, chunked
// progress) reach the client at once while a fast body is batched.
func copyStream(w http.ResponseWriter, src io.Reader, br interface{ Buffered() int }) error {
	bufp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bufp)
	buf := *bufp
	rc := http.NewResponseController(w)
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return clientGone(err)
			}
			if br.Buffered() == 0 {
				if err := rc.Flush(); err != nil {
					return clientGone(err)
				}
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

func clientGone(err error) error {
	return &Error{Kind: KindClientGone, Err: err}
}
