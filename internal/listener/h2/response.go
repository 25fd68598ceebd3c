package h2

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"

	"github.com/portico-proxy/portico/internal/listener/httpreq"
)

var (
	errAfterHandler = errors.New("h2: write after the handler returned")
	errWindowStall  = errors.New("h2: client gave no flow-control window within the write idle timeout")
)

// bufSize is how much body a response holds before framing it: a
// response that fits leaves with its HEADERS in one write.
const bufSize = 16 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, bufSize); return &b }}

// response is the http.ResponseWriter of a stream.
type response struct {
	st          *stream
	header      http.Header
	status      int
	wroteHeader bool // WriteHeader called with a final status
	sentHeader  bool // HEADERS are out
	sentEnd     bool // END_STREAM or RST_STREAM is out
	handlerDone bool
	bodyless    bool  // HEAD, 204 or 304: body bytes are counted, not sent
	clen        int64 // the handler's Content-Length, or -1
	autoLength  bool  // send written as the Content-Length the handler did not give
	written     int64
	buf         *[]byte
}

func (w *response) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header, 8)
	}
	return w.header
}

func (w *response) WriteHeader(code int) {
	if w.wroteHeader || w.handlerDone {
		return
	}
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code < 200 {
		if code != http.StatusSwitchingProtocols { // no 101 in HTTP/2
			w.interim(code)
		}
		return
	}
	w.wroteHeader = true
	w.status = code
	w.clen = -1
	w.bodyless = w.st.req.Method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified
	if vv := w.header["Content-Length"]; len(vv) > 0 {
		if n, err := strconv.ParseUint(strings.TrimSpace(vv[0]), 10, 63); err == nil {
			w.clen = int64(n)
		} else {
			delete(w.header, "Content-Length")
		}
	}
}

// interim sends a 1xx response (103 Early Hints) with the current fields.
func (w *response) interim(code int) {
	c := w.st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if w.st.closed || w.sentHeader {
		return
	}
	c.w.field(":status", statusText(code))
	w.encodeFields(false)
	c.w.headers(w.st.id, false)
	c.w.flushLocked()
}

// continueLocked sends 100 Continue before the first body read.
func (w *response) continueLocked() {
	c := w.st.c
	if w.st.closed || w.sentHeader {
		return
	}
	c.w.field(":status", "100")
	c.w.headers(w.st.id, false)
	c.w.flushLocked()
}

func (w *response) Write(p []byte) (int, error) {
	if w.handlerDone {
		return 0, errAfterHandler
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if w.clen >= 0 && w.written+int64(len(p)) > w.clen {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if w.bodyless {
		if w.st.req.Method == http.MethodHead {
			return len(p), nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	if w.buf == nil {
		w.buf = bufPool.Get().(*[]byte)
	}
	if b := *w.buf; len(b)+len(p) <= cap(b) {
		*w.buf = append(b, p...)
		return len(p), nil
	}
	if err := w.send(p, false, false); err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteString is Write for strings, without a copy: nothing on the write
// path modifies the bytes it is given.
func (w *response) WriteString(s string) (int, error) {
	return w.Write(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// Flush sends the headers and what is buffered.
func (w *response) Flush() { _ = w.FlushError() }

// FlushError is Flush with its error (http.ResponseController).
func (w *response) FlushError() error {
	if w.handlerDone {
		return errAfterHandler
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.send(nil, false, false)
}

// EnableFullDuplex is a no-op: HTTP/2 reads and writes are independent.
func (w *response) EnableFullDuplex() error { return nil }

// finish ends the response after the handler returned.
func (w *response) finish() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	trailers := w.hasTrailers()
	isHEAD := w.st.req.Method == http.MethodHead
	// The whole body is known: its length goes with the headers, as
	// net/http does (for HEAD, what a GET would have said).
	w.autoLength = !w.sentHeader && w.clen < 0 && !trailers && (!w.bodyless || isHEAD && w.written > 0)
	if w.clen >= 0 && w.written < w.clen && !w.bodyless {
		// A short body must not look complete: what there is goes out,
		// then the stream is reset instead of ended.
		_ = w.send(nil, false, false)
		w.reset(http2.ErrCodeInternal)
	} else {
		_ = w.send(nil, true, trailers)
	}
	w.handlerDone = true
	w.release()
}

// afterPanic answers 500 if nothing was sent yet, else resets the
// stream; http.ErrAbortHandler is the quiet way to abort a response.
func (w *response) afterPanic(v any) {
	if v != http.ErrAbortHandler {
		w.st.c.s.logPanic(w.st.c.remoteAddr, v)
	}
	if w.sentHeader || v == http.ErrAbortHandler {
		w.reset(http2.ErrCodeInternal)
	} else {
		w.header, w.wroteHeader, w.written = nil, false, 0
		if w.buf != nil {
			*w.buf = (*w.buf)[:0]
		}
		w.WriteHeader(http.StatusInternalServerError)
		_ = w.send(nil, true, false)
	}
	w.handlerDone = true
	w.release()
}

func (w *response) release() {
	if w.buf != nil {
		*w.buf = (*w.buf)[:0]
		bufPool.Put(w.buf)
		w.buf = nil
	}
}

func (w *response) reset(code http2.ErrCode) {
	c := w.st.c
	c.mu.Lock()
	if !w.sentEnd && !w.st.closed {
		w.sentEnd = true
		c.rstStreamLocked(w.st.id, code)
		c.closeStreamLocked(w.st, errClientGone)
		c.w.flushLocked()
	}
	c.mu.Unlock()
}

func (w *response) hasTrailers() bool {
	if _, ok := w.header["Trailer"]; ok {
		return true
	}
	for k := range w.header {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return true
		}
	}
	return false
}

// send frames what is pending: the HEADERS if not out yet, the buffered
// body, then p; with end, the stream ends, in trailers when it has them.
func (w *response) send(p []byte, end, trailers bool) error {
	st := w.st
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if w.sentEnd {
		return nil
	}
	if st.closed || c.w.err != nil {
		return errClientGone
	}
	var pending []byte
	if w.buf != nil {
		pending = *w.buf
	}
	if !w.sentHeader {
		w.sentHeader = true
		c.w.field(":status", statusText(w.status))
		w.encodeFields(false)
		if w.autoLength {
			c.w.field("content-length", strconv.FormatInt(w.written, 10))
		}
		headersEnd := end && !trailers && (w.bodyless || len(pending)+len(p) == 0)
		c.w.headers(st.id, headersEnd)
		if headersEnd {
			w.sentEnd = true
			c.w.flushSoonLocked()
			return nil
		}
	}
	if len(pending) > 0 {
		if err := w.dataLocked(pending, end && !trailers && len(p) == 0); err != nil {
			return err
		}
		*w.buf = pending[:0]
	}
	if len(p) > 0 || end && !trailers && len(pending) == 0 {
		if err := w.dataLocked(p, end && !trailers); err != nil {
			return err
		}
	}
	if trailers {
		w.encodeFields(true)
		c.w.headers(st.id, true)
	}
	if end {
		w.sentEnd = true
		c.w.flushSoonLocked()
		return nil
	}
	c.w.flushLocked()
	return nil
}

// dataLocked frames p as DATA within the flow-control windows, waiting
// for window when there is none.
func (w *response) dataLocked(p []byte, end bool) error {
	st := w.st
	c := st.c
	var deadline time.Time
	for first := true; first || len(p) > 0; first = false {
		if err := c.w.roomLocked(); err != nil {
			return errClientGone
		}
		n := min(len(p), c.peerMaxFrame)
		for n > 0 && (st.sendWindow <= 0 || c.sendWindow <= 0) {
			if st.closed || c.w.err != nil {
				return errClientGone
			}
			if len(c.w.buf) > 0 && !c.w.flushing {
				// Writing releases mu: a window update may come in
				// meanwhile, so look again before waiting.
				c.w.flushLocked()
				continue
			}
			if deadline.IsZero() && c.s.o.WriteIdleTimeout > 0 {
				deadline = time.Now().Add(c.s.o.WriteIdleTimeout)
			}
			st.waitingWindow = true
			ok := st.waitLocked(deadline)
			st.waitingWindow = false
			if !ok && (st.sendWindow <= 0 || c.sendWindow <= 0) {
				return errWindowStall
			}
		}
		if st.closed || c.w.err != nil {
			return errClientGone
		}
		// The client's settings may have changed while we waited.
		n = min(n, c.peerMaxFrame, int(st.sendWindow), int(c.sendWindow))
		st.sendWindow -= int32(n)
		c.sendWindow -= int32(n)
		c.w.data(st.id, p[:n], end && n == len(p))
		p = p[n:]
		deadline = time.Time{}
	}
	return nil
}

// encodeFields adds the handler's fields to the header block: the
// response fields, or with trailers the trailer fields. Fields that
// HTTP/2 forbids and invalid ones are dropped.
func (w *response) encodeFields(trailers bool) {
	c := w.st.c
	if trailers {
		for _, k := range w.header["Trailer"] {
			for _, name := range strings.Split(k, ",") {
				name = http.CanonicalHeaderKey(strings.TrimSpace(name))
				for _, v := range w.header[name] {
					addField(c, name, v)
				}
			}
		}
		for k, vv := range w.header {
			if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
				for _, v := range vv {
					addField(c, name, v)
				}
			}
		}
		return
	}
	declared := w.header["Trailer"]
	for k, vv := range w.header {
		switch k {
		case "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade":
			continue
		case "Content-Length":
			if w.status == http.StatusNoContent || w.status == http.StatusNotModified && w.st.req.Method != http.MethodHead {
				continue
			}
		}
		if strings.HasPrefix(k, http.TrailerPrefix) || len(declared) > 0 && declaredTrailer(declared, k) {
			continue
		}
		for _, v := range vv {
			addField(c, k, v)
		}
	}
	if _, ok := w.header["Date"]; !ok && w.status >= 200 {
		c.w.field("date", httpreq.Now().Text)
	}
}

func declaredTrailer(declared []string, k string) bool {
	for _, v := range declared {
		for _, name := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(name), k) {
				return true
			}
		}
	}
	return false
}

func addField(c *conn, k, v string) {
	name := lowerName(k)
	if name == "" || !httpguts.ValidHeaderFieldValue(v) {
		return
	}
	switch name {
	case "te":
		if v != "trailers" {
			return
		}
	case "x-request-id", "set-cookie":
		// Different in every response: adding them to the compression
		// table would only push out the fields that do repeat (and a
		// cookie is better never kept there).
		c.w.fieldNotIndexed(name, v)
		return
	}
	c.w.field(name, v)
}

// lowerName gives a field name as HTTP/2 sends it; "" when invalid.
func lowerName(k string) string {
	if l, ok := lowerCommon[k]; ok {
		return l
	}
	if !httpguts.ValidHeaderFieldName(k) {
		return ""
	}
	return strings.ToLower(k)
}

var lowerCommon = func() map[string]string {
	names := []string{
		"Accept-Ranges", "Access-Control-Allow-Credentials", "Access-Control-Allow-Headers",
		"Access-Control-Allow-Methods", "Access-Control-Allow-Origin", "Access-Control-Expose-Headers",
		"Access-Control-Max-Age", "Age", "Allow", "Alt-Svc", "Cache-Control", "Cache-Status",
		"Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length",
		"Content-Location", "Content-Range", "Content-Security-Policy", "Content-Type", "Date", "Etag",
		"Expires", "Grpc-Encoding", "Grpc-Message", "Grpc-Status", "Last-Modified", "Link", "Location",
		"Referrer-Policy", "Retry-After", "Server", "Set-Cookie", "Strict-Transport-Security", "Trailer",
		"Vary", "Via", "Www-Authenticate", "X-Content-Type-Options", "X-Frame-Options", "X-Request-Id",
	}
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[n] = strings.ToLower(n)
	}
	return m
}()

var statusTexts = func() (t [600]string) {
	for i := 100; i < len(t); i++ {
		t[i] = strconv.Itoa(i)
	}
	return t
}()

func statusText(code int) string {
	if code < len(statusTexts) {
		return statusTexts[code]
	}
	return strconv.Itoa(code)
}
