package h1

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/portico-proxy/portico/internal/httpsyntax"
	"github.com/portico-proxy/portico/internal/listener/httpreq"
)

// framing says how a response body is delimited.
type framing uint8

const (
	modeUndecided framing = iota // head not complete: body bytes wait in pre
	modeLength                   // Content-Length
	modeChunked                  // Transfer-Encoding: chunked
	modeClose                    // delimited by closing the connection (HTTP/1.0)
	modeNone                     // no body: HEAD, 1xx, 204, 304
)

// response is the http.ResponseWriter. The status line and the handler's
// fields are written into the connection's buffer when the final status
// is set (so later header changes have no effect, as in net/http, without
// cloning the map). The head is completed (committed: framing and
// Connection lines) at the first body write when the handler declared a
// Content-Length, else when the body outgrows the staging buffer (pre),
// on Flush, or when the handler returns (then with a computed
// Content-Length). Committing is when an unread request body is
// discarded, as net/http does at its first flush.
type response struct {
	c        *conn
	req      *http.Request
	body     *body // nil when the request has none
	header   http.Header
	status   int
	clen     int64 // Content-Length: declared, or computed at the end; -1 unknown
	written  int64 // body bytes accepted
	mode     framing
	pre      *[]byte // staged body bytes (pooled), nil when unused
	trailers []string
	connHdr  []string // the handler's Connection values
	headOut  int64    // bytes the connection had written when the head began
	te       string   // the handler's Transfer-Encoding: "identity" means close-delimited

	wroteHeader, committed, handlerDone, hijacked bool
	closeAfter, fullDuplex, isHEAD, is11, wants10 bool
	prefixTrailers, protoSwitch                   bool

	// Expect: 100-continue. expect never changes after init; the rest is
	// guarded by contMu, since a full-duplex handler may read the body
	// in another goroutine.
	expect       bool
	contMu       sync.Mutex
	canContinue  bool
	continueSent bool
}

func (w *response) init(c *conn, r *http.Request, b *body, ph *parsedHead) {
	w.c, w.req, w.body = c, r, b
	w.clen = -1
	w.isHEAD = r.Method == http.MethodHead
	w.is11 = ph.minor >= 1
	w.wants10 = ph.minor == 0 && ph.keepAlive
	w.closeAfter = r.Close
	w.expect = ph.expectContinue && w.is11 && b != nil
	w.canContinue = w.expect
}

// Header returns the response header map, made on first use.
func (w *response) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header)
	}
	return w.header
}

// WriteHeader sends an interim (1xx but 101) response at once, or sets
// the final status; later calls are ignored. Codes outside 100-999 panic,
// as in net/http.
func (w *response) WriteHeader(code int) {
	if w.hijacked || w.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		w.writeInterim(code)
		return
	}
	w.disableContinue()
	w.wroteHeader = true
	w.status = code
	w.headOut = w.c.cw.n
	w.writeHeadFields()
}

// writeInterim writes a 1xx response with the current fields (RFC 8297
// for 103) and flushes it. HTTP/1.0 clients get none (RFC 9110 15.2).
func (w *response) writeInterim(code int) {
	w.contMu.Lock()
	defer w.contMu.Unlock()
	if code == http.StatusContinue {
		if w.continueSent {
			return
		}
		w.canContinue, w.continueSent = false, true
	}
	if !w.is11 {
		return
	}
	bw := w.c.bw
	writeStatusLine(bw, true, code)
	for k, vv := range w.header {
		if k != "Content-Length" && k != "Transfer-Encoding" && !strings.HasPrefix(k, http.TrailerPrefix) {
			writeField(bw, k, vv)
		}
	}
	bw.WriteString("\r\n")
	_ = bw.Flush()
}

// writeHeadFields writes the status line, the handler's fields (those
// that are valid; framing fields are the server's) and Date.
func (w *response) writeHeadFields() {
	bw := w.c.bw
	writeStatusLine(bw, w.is11, w.status)
	bodyless := !bodyAllowed(w.status)
	for k, vv := range w.header {
		switch k {
		case "Content-Length":
			if n, ok := httpsyntax.ParseDigits(firstTrimmed(vv)); ok && !bodyless {
				w.clen = n
			}
			continue
		case "Transfer-Encoding":
			w.te = firstTrimmed(vv)
			continue
		case "Connection":
			w.connHdr = vv
			w.closeAfter = w.closeAfter || hasToken(vv, "close")
			continue
		case "Trailer":
			if !bodyless && !w.isHEAD {
				w.declareTrailers(vv)
			}
		case "Content-Type":
			if w.status == http.StatusNotModified {
				continue // as net/http
			}
		case "Upgrade":
			w.protoSwitch = w.status == http.StatusSwitchingProtocols
		}
		if strings.HasPrefix(k, http.TrailerPrefix) {
			w.prefixTrailers = true
			continue
		}
		writeField(bw, k, vv)
	}
	if w.te == "chunked" {
		w.clen = -1 // a handler's chunked wins over its Content-Length, as net/http
	}
	if _, ok := w.header["Date"]; !ok {
		bw.Write(httpreq.Now().Line)
	}
}

// commit decides the framing, writes the framing and Connection lines
// and ends the head. final: the handler has returned.
func (w *response) commit(final bool) {
	bw := w.c.bw
	switch {
	case w.isHEAD || !bodyAllowed(w.status):
		w.mode = modeNone
		if w.isHEAD && bodyAllowed(w.status) {
			if w.clen < 0 && final && w.written > 0 && w.written <= preSize {
				w.clen = w.written // what a GET would say
			}
			writeLength(bw, w.clen)
		}
	case w.clen >= 0:
		w.mode = modeLength
		writeLength(bw, w.clen)
	case final && len(w.trailers) == 0 && !w.prefixTrailers && w.te == "":
		w.mode = modeLength
		w.clen = w.written
		writeLength(bw, w.clen)
	case w.is11 && w.te != "identity":
		w.mode = modeChunked
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	default:
		w.mode = modeClose
		w.closeAfter = true
	}
	if w.body != nil && !w.closeAfter && !w.fullDuplex && !w.body.beforeResponse(w.expect) {
		w.closeAfter = true
	}
	if w.c.s.inShutdown.Load() || w.status == http.StatusSwitchingProtocols {
		w.closeAfter = true
	}
	switch {
	case w.closeAfter && !w.protoSwitch:
		bw.WriteString("Connection: close\r\n")
	case w.wants10 && w.connHdr == nil:
		bw.WriteString("Connection: keep-alive\r\n")
	case w.connHdr != nil:
		writeField(bw, "Connection", w.connHdr)
	}
	bw.WriteString("\r\n")
	w.committed = true
}

// Write writes body bytes; see response for the framing.
func (w *response) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if w.handlerDone {
		return 0, errAfterHandler
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.clen >= 0 && w.written+int64(len(p)) > w.clen {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	return w.writeBody(p)
}

// WriteString is Write for strings (io.StringWriter), without a copy:
// nothing on the write path modifies the bytes it is given.
func (w *response) WriteString(s string) (int, error) {
	return w.Write(unsafe.Slice(unsafe.StringData(s), len(s)))
}

func (w *response) writeBody(p []byte) (int, error) {
	switch w.mode {
	case modeNone:
		return len(p), nil
	case modeUndecided:
		if w.isHEAD {
			return len(p), nil // counted for the Content-Length, never sent
		}
		if w.clen >= 0 {
			w.commit(false)
			return w.writeBody(p)
		}
		if w.stage(p) {
			return len(p), nil
		}
		w.commit(false)
		return w.writeBody(p)
	case modeChunked:
		if w.stage(p) {
			return len(p), nil
		}
		if err := w.flushPre(); err != nil {
			return 0, err
		}
		if w.stage(p) {
			return len(p), nil
		}
		return len(p), w.writeChunk(p)
	}
	if err := w.flushPre(); err != nil {
		return 0, err
	}
	if bw := w.c.bw; w.c.tcp != nil && bw.Buffered() > 0 && len(p) > bw.Available() {
		return w.c.writeGathered(p)
	}
	return w.c.bw.Write(p)
}

// stage appends p to pre if it fits.
func (w *response) stage(p []byte) bool {
	if w.pre == nil {
		w.pre = getPre()
	}
	buf := *w.pre
	if len(buf)+len(p) > cap(buf) {
		return false
	}
	*w.pre = append(buf, p...)
	return true
}

// flushPre moves staged bytes into the connection's buffer, as a chunk
// when chunked.
func (w *response) flushPre() error {
	if w.pre == nil || len(*w.pre) == 0 {
		return nil
	}
	buf := *w.pre
	*w.pre = buf[:0]
	if w.mode == modeChunked {
		return w.writeChunk(buf)
	}
	_, err := w.c.bw.Write(buf)
	return err
}

func (w *response) writeChunk(p []byte) error {
	bw := w.c.bw
	writeChunkHeader(bw, len(p))
	_, err := bw.Write(p)
	bw.WriteString("\r\n")
	return err
}

func (w *response) releasePre() {
	if w.pre != nil {
		putPre(w.pre)
		w.pre = nil
	}
}

// FlushError writes the head if needed and everything buffered (chunked
// framing when the length is unknown); see http.ResponseController.
func (w *response) FlushError() error {
	if w.hijacked {
		return http.ErrHijacked
	}
	if w.handlerDone {
		return errAfterHandler
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(false)
	}
	if err := w.flushPre(); err != nil {
		return err
	}
	return w.c.bw.Flush()
}

// Flush implements http.Flusher.
func (w *response) Flush() { _ = w.FlushError() }

// finish completes the response after the handler returned and flushes it.
func (w *response) finish() {
	w.handlerDone = true
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(true)
	}
	bw := w.c.bw
	_ = w.flushPre()
	w.releasePre()
	switch w.mode {
	case modeChunked:
		bw.WriteString("0\r\n")
		w.writeTrailers(bw)
		bw.WriteString("\r\n")
	case modeLength:
		if w.written != w.clen {
			w.closeAfter = true // short body: the client must not wait for more
		}
	}
	if bw.Flush() != nil {
		w.closeAfter = true
	}
}

func (w *response) declareTrailers(vv []string) {
	for _, v := range vv {
		for v != "" {
			var k string
			k, v, _ = strings.Cut(v, ",")
			if k = http.CanonicalHeaderKey(trimOWS(k)); k != "" && validTrailerKey(k) {
				w.trailers = append(w.trailers, k)
			}
		}
	}
}

func (w *response) writeTrailers(bw *bufio.Writer) {
	for _, k := range w.trailers {
		writeField(bw, k, w.header[k])
	}
	for k, vv := range w.header {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok && validTrailerKey(name) {
			writeField(bw, name, vv)
		}
	}
}

// Expect: 100-continue.

// sendContinue writes "100 Continue" on the first body read, unless a
// response has begun.
func (w *response) sendContinue() {
	if !w.expect {
		return
	}
	w.contMu.Lock()
	defer w.contMu.Unlock()
	if !w.canContinue {
		return
	}
	w.canContinue, w.continueSent = false, true
	bw := w.c.bw
	bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	_ = bw.Flush()
}

func (w *response) disableContinue() {
	if !w.expect {
		return
	}
	w.contMu.Lock()
	w.canContinue = false
	w.contMu.Unlock()
}

// continuePending reports whether the client was never told to send the
// body it announced with Expect: 100-continue.
func (w *response) continuePending() bool {
	if !w.expect {
		return false
	}
	w.contMu.Lock()
	defer w.contMu.Unlock()
	return !w.continueSent
}

// Field writing.

// writeField writes k's values; an invalid name or value (control bytes,
// CR, LF, NUL) is never written.
func writeField(bw *bufio.Writer, k string, vv []string) {
	if !validName(k) {
		return
	}
	for _, v := range vv {
		if validValue(v) {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
}

func writeLength(bw *bufio.Writer, n int64) {
	if n < 0 {
		return
	}
	bw.WriteString("Content-Length: ")
	writeInt(bw, n, 10)
	bw.WriteString("\r\n")
}

func writeChunkHeader(bw *bufio.Writer, n int) {
	writeInt(bw, int64(n), 16)
	bw.WriteString("\r\n")
}

// writeInt formats n in the writer's own buffer (no allocation).
func writeInt(bw *bufio.Writer, n int64, base int) {
	if bw.Available() < 20 {
		_ = bw.Flush()
	}
	bw.Write(strconv.AppendInt(bw.AvailableBuffer(), n, base))
}

// statusLines holds "200 OK\r\n" and so on for the codes net/http names.
var statusLines = func() (t [600]string) {
	for code := 100; code < 600; code++ {
		if text := http.StatusText(code); text != "" {
			t[code] = strconv.Itoa(code) + " " + text + "\r\n"
		}
	}
	return t
}()

func writeStatusLine(bw *bufio.Writer, is11 bool, code int) {
	if is11 {
		bw.WriteString("HTTP/1.1 ")
	} else {
		bw.WriteString("HTTP/1.0 ")
	}
	if code < len(statusLines) && statusLines[code] != "" {
		bw.WriteString(statusLines[code])
		return
	}
	writeInt(bw, int64(code), 10)
	bw.WriteString(" status code ")
	writeInt(bw, int64(code), 10)
	bw.WriteString("\r\n")
}

func bodyAllowed(status int) bool {
	return !(status >= 100 && status <= 199 || status == http.StatusNoContent || status == http.StatusNotModified)
}

func firstTrimmed(vv []string) string {
	if len(vv) == 0 {
		return ""
	}
	return trimOWS(vv[0])
}

// hasToken reports whether a comma-separated field has tok.
func hasToken(vv []string, tok string) bool {
	for _, v := range vv {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(trimOWS(t), tok) {
				return true
			}
		}
	}
	return false
}

// validTrailerKey reports whether a canonical name may be a trailer
// (httpguts.ValidTrailerHeader).
func validTrailerKey(k string) bool {
	if strings.HasPrefix(k, "If-") {
		return false
	}
	switch k {
	case "Authorization", "Cache-Control", "Connection", "Content-Encoding", "Content-Length",
		"Content-Range", "Content-Type", "Expect", "Host", "Keep-Alive", "Max-Forwards", "Pragma",
		"Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "Range", "Realm", "Te",
		"Trailer", "Transfer-Encoding", "Www-Authenticate":
		return false
	}
	return true
}
