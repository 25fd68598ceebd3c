package upstream

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/portico-proxy/portico/internal/httpsyntax"
)

// This file is the wire side of the lean HTTP/1.1 client: the request
// head written straight into the connection's buffer, and a strict parser
// for the response head that copies its bytes once into one string.

var errMalformed = errors.New("malformed response from backend")

// bodyFraming says how a request body is sent upstream.
type bodyFraming uint8

const (
	bodyNone    bodyFraming = iota // no body, no Content-Length
	bodyZero                       // "Content-Length: 0" for POST-like methods
	bodyLength                     // Content-Length: n
	bodyChunked                    // Transfer-Encoding: chunked
)

func framingOf(r *http.Request) bodyFraming {
	switch {
	case r.ContentLength > 0:
		return bodyLength
	case r.ContentLength < 0:
		return bodyChunked
	}
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		return bodyZero
	}
	return bodyNone
}

// requestHead is what writeRequestHead needs beyond the request itself.
type requestHead struct {
	method    string // "" means r.Method
	uri       string
	host      string
	fwd       forwarded
	framing   bodyFraming
	upgrade   string // Upgrade value to send, "" for none
	expect100 bool

	// Per-request retry state, see retry.go.
	body        []byte    // the buffered request body when it may be replayed; nil streams r.Body
	retryStatus bool      // hand a retryable status back instead of relaying it
	tryDeadline time.Time // zero: no per-try timeout
	status      int       // the status the backend answered, 0 before a head
	start       time.Time // when the attempt started, by the real clock
	sent        int64     // the same in the pool's clock (unix nanoseconds), for the latency
	backend     *Backend  // of this attempt
}

// writeRequestHead writes the request line and headers. Incoming headers
// were validated by the downstream server; hop-by-hop headers, those named
// in Connection and the forwarding headers are dropped here and the
// forwarding ones are written fresh.
func writeRequestHead(bw *bufio.Writer, r *http.Request, h *requestHead) {
	if h.method != "" {
		bw.WriteString(h.method)
	} else {
		bw.WriteString(r.Method)
	}
	bw.WriteByte(' ')
	bw.WriteString(h.uri)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(h.host)
	bw.WriteString("\r\n")
	connection := r.Header["Connection"]
	for k, vv := range r.Header {
		if k == "" || k[0] == ':' || isHopHeader(k) || isForwardingHeader(k) ||
			k == "Content-Length" || k == "Expect" || k == "Host" {
			continue
		}
		if len(connection) > 0 && hasToken(connection, k) {
			continue
		}
		for _, v := range vv {
			writeField(bw, k, v)
		}
	}
	if te := r.Header["Te"]; len(te) > 0 && hasToken(te, "trailers") {
		writeField(bw, "Te", "trailers")
	}
	if h.fwd.send.xForwarded() {
		writeField(bw, "X-Forwarded-For", h.fwd.xff)
		writeField(bw, "X-Forwarded-Proto", h.fwd.proto)
		writeField(bw, "X-Forwarded-Host", h.fwd.host)
	}
	if h.fwd.send.rfc7239() {
		bw.WriteString("Forwarded: ")
		h.fwd.writeRFC7239(bw)
		bw.WriteString("\r\n")
	}
	switch h.framing {
	case bodyZero:
		bw.WriteString("Content-Length: 0\r\n")
	case bodyLength:
		bw.WriteString("Content-Length: ")
		var num [20]byte
		bw.Write(strconv.AppendInt(num[:0], r.ContentLength, 10))
		bw.WriteString("\r\n")
	case bodyChunked:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if h.expect100 {
		bw.WriteString("Expect: 100-continue\r\n")
	}
	if h.upgrade != "" {
		bw.WriteString("Connection: Upgrade\r\n")
		writeField(bw, "Upgrade", h.upgrade)
	}
	bw.WriteString("\r\n")
}

func writeField(bw *bufio.Writer, k, v string) {
	bw.WriteString(k)
	bw.WriteString(": ")
	bw.WriteString(v)
	bw.WriteString("\r\n")
}

// hasToken reports whether a comma-separated header contains tok.
func hasToken(values []string, tok string) bool {
	for _, v := range values {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(t), tok) {
				return true
			}
		}
	}
	return false
}

// responseHead is a parsed response status line and header block. Every
// string in it is a substring of one copy of the head's bytes.
type responseHead struct {
	status        int
	minor         int // HTTP/1.minor
	fields        []field
	contentLength int64 // -1 when unknown
	lengthText    string
	chunked       bool
	close         bool // Connection: close, or HTTP/1.0 without keep-alive
	upgrade       string
}

type field struct{ k, v string }

// readResponseHead reads one response head. A head that does not fit the
// connection's read buffer is refused rather than grown without bound.
func readResponseHead(br *bufio.Reader, h *responseHead) error {
	n := 0
	var buf []byte
	for {
		var err error
		buf, err = br.Peek(n + 1)
		if err != nil && len(buf) <= n {
			if errors.Is(err, bufio.ErrBufferFull) {
				return errMalformed
			}
			return err
		}
		buf = buf[:br.Buffered()]
		if i := bytes.Index(buf, []byte("\r\n\r\n")); i >= 0 {
			buf = buf[:i+4]
			break
		}
		n = len(buf)
	}
	head := string(buf)
	_, _ = br.Discard(len(buf))
	return parseResponseHead(head, h)
}

func parseResponseHead(head string, h *responseHead) error {
	line, rest, _ := strings.Cut(head, "\r\n")
	if len(line) < 12 || !strings.HasPrefix(line, "HTTP/1.") || line[8] != ' ' || line[7] < '0' || line[7] > '9' {
		return errMalformed
	}
	h.minor = int(line[7] - '0')
	code := line[9:12]
	if code[0] < '1' || code[0] > '5' || code[1] < '0' || code[1] > '9' || code[2] < '0' || code[2] > '9' {
		return errMalformed
	}
	if len(line) > 12 && line[12] != ' ' {
		return errMalformed
	}
	h.status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	h.fields = h.fields[:0]
	h.contentLength = -1
	h.chunked, h.close, h.upgrade = false, h.minor == 0, ""
	sawLength, sawTE := false, false
	for {
		line, rest, _ = strings.Cut(rest, "\r\n")
		if line == "" {
			break
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			return errMalformed
		}
		k, v := line[:colon], httpsyntax.TrimOWS(line[colon+1:])
		if !httpsyntax.ValidToken(k) || !httpsyntax.ValidFieldValue(v) {
			return errMalformed
		}
		k = canonicalKey(k)
		switch k {
		case "Content-Length":
			// 1*DIGIT (RFC 9112 section 6.2): no sign, which
			// strconv.ParseInt would take and relay as "+5".
			cl, ok := httpsyntax.ParseDigits(v)
			if !ok || (sawLength && cl != h.contentLength) {
				return errMalformed
			}
			h.contentLength, h.lengthText, sawLength = cl, v, true
			continue
		case "Transfer-Encoding":
			if sawTE || !strings.EqualFold(v, "chunked") {
				return errMalformed
			}
			h.chunked, sawTE = true, true
			continue
		case "Connection":
			if hasToken([]string{v}, "close") {
				h.close = true
			} else if hasToken([]string{v}, "keep-alive") && h.minor == 0 {
				h.close = false
			}
		case "Upgrade":
			h.upgrade = v
		}
		h.fields = append(h.fields, field{k, v})
	}
	// Both lengths, or chunked in HTTP/1.0 (which has no chunked coding,
	// RFC 9112 section 6.1), is faulty framing: a proxy must refuse it.
	if sawLength && sawTE || sawTE && h.minor == 0 {
		return errMalformed
	}
	if h.chunked {
		h.contentLength = -1
	}
	return nil
}

// commonKeys are canonical names looked up case-insensitively, so that the
// usual lower-case names from backends cost no allocation.
var commonKeys = [...]string{
	"Accept-Ranges", "Age", "Cache-Control", "Connection", "Content-Disposition",
	"Content-Encoding", "Content-Language", "Content-Length", "Content-Location",
	"Content-Range", "Content-Type", "Date", "Etag", "Expires", "Keep-Alive",
	"Last-Modified", "Link", "Location", "Retry-After", "Server", "Set-Cookie",
	"Strict-Transport-Security", "Trailer", "Transfer-Encoding", "Upgrade", "Vary",
	"Via", "Www-Authenticate", "X-Content-Type-Options", "X-Frame-Options",
	"X-Request-Id", "Grpc-Status", "Grpc-Message", "Sec-Websocket-Accept",
	"Sec-Websocket-Protocol", "Sec-Websocket-Extensions", "Access-Control-Allow-Origin",
}

func canonicalKey(k string) string {
	if isCanonical(k) {
		return k
	}
	for _, c := range commonKeys {
		if len(c) == len(k) && strings.EqualFold(c, k) {
			return c
		}
	}
	return http.CanonicalHeaderKey(k)
}

func isCanonical(k string) bool {
	upper := true
	for i := 0; i < len(k); i++ {
		c := k[i]
		if upper && c >= 'a' && c <= 'z' || !upper && c >= 'A' && c <= 'Z' {
			return false
		}
		upper = c == '-'
	}
	return true
}

// readTrailers reads the trailer section after a chunked body's last
// chunk, up to and including the empty line.
func readTrailers(br *bufio.Reader, dst http.Header) error {
	for size := 0; ; {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		size += len(line)
		if size > readBufSize {
			return errMalformed
		}
		if len(line) < 2 || line[len(line)-2] != '\r' {
			return errMalformed
		}
		s := line[:len(line)-2]
		if len(s) == 0 {
			return nil
		}
		colon := bytes.IndexByte(s, ':')
		if colon <= 0 {
			return errMalformed
		}
		k, v := string(s[:colon]), httpsyntax.TrimOWS(string(s[colon+1:]))
		if !httpsyntax.ValidToken(k) || !httpsyntax.ValidFieldValue(v) {
			return errMalformed
		}
		k = http.CanonicalHeaderKey(k)
		// Framing, routing and hop-by-hop fields have no place in a
		// trailer (RFC 9110 section 6.5.1); an HTTP/2 client would
		// take a connection-specific one as a malformed response.
		if k == "Content-Length" || k == "Host" || isHopHeader(k) {
			continue
		}
		dst.Add(http.TrailerPrefix+k, v)
	}
}
