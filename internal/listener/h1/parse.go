package h1

// This file holds the strict request head parser. The head (request line,
// fields, empty line) is located in the read buffer first (findHeadEnd),
// copied once into a string, then cut into substrings: method, target and
// every field name and value share that one allocation.

import (
	"bytes"
	"net/http"
	"strings"
	"unsafe"

	"github.com/portico-proxy/portico/internal/httpsyntax"
	"github.com/portico-proxy/portico/internal/listener/httpreq"
)

// Byte classes.
const (
	cTchar  = 1 << iota // token character (methods, field names)
	cValue              // field value byte: VCHAR, SP, HTAB, obs-text
	cTarget             // request-target byte: VCHAR, obs-text
	cPath               // origin-form path byte url.URL keeps as is (no RawPath)
	cHost               // Host header byte (as httpguts.ValidHostHeader)
)

var byteClass = buildByteClass()

func buildByteClass() (byteClass [256]uint8) {
	const pathChars = "-_.~$&+,/:;=@"
	const hostChars = "!$%&'()*+,-.:;=[]_~"
	for c := 0; c < 256; c++ {
		b := byte(c)
		var cl uint8
		alnum := b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
		if httpsyntax.IsTokenChar(b) {
			cl |= cTchar
		}
		if b == ' ' || b == '\t' || b > 0x20 && b != 0x7f {
			cl |= cValue
		}
		if b > 0x20 && b != 0x7f {
			cl |= cTarget
		}
		if alnum || strings.IndexByte(pathChars, b) >= 0 {
			cl |= cPath
		}
		if alnum || strings.IndexByte(hostChars, b) >= 0 {
			cl |= cHost
		}
		byteClass[c] = cl
	}
	return byteClass
}

// Reject reasons, written in the error response body after the status text.
const (
	reasonBareLF          = "bare LF line ending"
	reasonBareCR          = "bare CR"
	reasonRequestLine     = "malformed request line"
	reasonMethod          = "invalid method"
	reasonTarget          = "invalid request target"
	reasonVersion         = "malformed HTTP version"
	reasonUnsupportedVers = "unsupported protocol version"
	reasonObsFold         = "obsolete line folding"
	reasonNoColon         = "header line without colon"
	reasonSpaceBeforeCol  = "whitespace before colon"
	reasonEmptyName       = "empty header name"
	reasonBadName         = "invalid header name"
	reasonBadValue        = "control byte in header value"
	reasonTooLarge        = "request header too large"
	reasonTooMany         = "too many header fields"
	reasonNoHost          = "missing required Host header"
	reasonManyHosts       = "too many Host headers"
	reasonBadHost         = "malformed Host header"
	reasonBadCL           = "bad Content-Length"
	reasonConflictCL      = "conflicting Content-Length"
	reasonCLAndTE         = "Content-Length with Transfer-Encoding"
	reasonTE10            = "Transfer-Encoding in HTTP/1.0"
	reasonUnsupportedTE   = "unsupported transfer encoding"
	reasonChunkedNotLast  = "chunked is not the final transfer coding"
	reasonChunkedTwice    = "chunked applied more than once"
	reasonBadTrailerKey   = "bad trailer key"
	reasonBadExpect       = "unsupported Expect"
	reasonBadPreface      = "bad HTTP/2 preface"
)

// field is one request header field; key is canonical.
type field struct{ key, val string }

// parsedHead is a request head cut into substrings of the head string. One
// per connection, reset for every request.
type parsedHead struct {
	method, target, proto string
	minor                 int
	fields                []field
	host                  string
	hosts                 int
	contentLength         int64 // -1: no Content-Length
	clText                string
	chunked               bool
	teCount               int
	teOther               bool // a Transfer-Encoding other than exactly "chunked"
	teChunks              int  // "chunked" codings listed
	teLastChunked         bool // the last coding listed is "chunked"
	connClose, keepAlive  bool
	expectContinue        bool
	expectOther           bool
	trailers              int // "Trailer" fields seen
	preface               bool
}

func (ph *parsedHead) reset() {
	fields := ph.fields[:0]
	*ph = parsedHead{fields: fields, contentLength: -1}
}

// findHeadEnd looks for the CRLF CRLF ending a head in buf, resuming the
// scan at from (bytes before it were scanned by an earlier call). It
// returns the head length, or 0 when more bytes are needed; every LF must
// follow a CR.
func findHeadEnd(buf []byte, from int) (int, string) {
	for i := from; i < len(buf); {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			break
		}
		p := i + j
		if p == 0 || buf[p-1] != '\r' {
			return 0, reasonBareLF
		}
		if p >= 3 && buf[p-2] == '\n' && buf[p-3] == '\r' {
			return p + 1, ""
		}
		i = p + 1
	}
	return 0, ""
}

// parseHead parses a complete head found by findHeadEnd. It returns 0, or
// the status code to reject the request with and why. Checks that need
// the method or the whole head (Host, framing) are made here too.
func parseHead(head string, ph *parsedHead, maxFields int) (int, string) {
	ph.reset()
	b := unsafe.Slice(unsafe.StringData(head), len(head)) // read only
	eol := strings.IndexByte(head, '\n') - 1
	if status, reason := ph.requestLine(head[:eol]); status != 0 {
		return status, reason
	}
	pos := eol + 2
	for n := 0; ; n++ {
		nl := pos + strings.IndexByte(head[pos:], '\n')
		if nl == pos+1 {
			break // the empty line
		}
		if n == maxFields {
			return http.StatusRequestHeaderFieldsTooLarge, reasonTooMany
		}
		if reason := ph.field(head[pos:nl-1], b[pos:nl-1]); reason != "" {
			return http.StatusBadRequest, reason
		}
		pos = nl + 1
	}
	return ph.check()
}

// requestLine checks "METHOD SP target SP HTTP/d.d".
func (ph *parsedHead) requestLine(line string) (int, string) {
	sp1 := strings.IndexByte(line, ' ')
	if sp1 <= 0 {
		return http.StatusBadRequest, reasonRequestLine
	}
	rest := line[sp1+1:]
	sp2 := strings.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return http.StatusBadRequest, reasonRequestLine
	}
	ph.method, ph.target, ph.proto = line[:sp1], rest[:sp2], rest[sp2+1:]
	if !allClass(ph.method, cTchar) {
		return http.StatusBadRequest, reasonMethod
	}
	if !allClass(ph.target, cTarget) {
		return http.StatusBadRequest, reasonTarget
	}
	switch ph.proto {
	case "HTTP/1.1":
		ph.minor = 1
		return 0, ""
	case "HTTP/1.0":
		return 0, ""
	}
	p := ph.proto
	if len(p) != 8 || p[:5] != "HTTP/" || !isDigit(p[5]) || p[6] != '.' || !isDigit(p[7]) {
		return http.StatusBadRequest, reasonVersion
	}
	switch {
	case p[5] == '1':
		ph.minor = int(p[7] - '0')
	case p == "HTTP/2.0" && ph.method == "PRI" && ph.target == "*":
		ph.preface = true
	default:
		return http.StatusHTTPVersionNotSupported, reasonUnsupportedVers
	}
	return 0, ""
}

// field parses one field line (without its CRLF); line and b hold the
// same bytes.
func (ph *parsedHead) field(line string, b []byte) string {
	if len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		return reasonObsFold
	}
	i := 0
	for i < len(b) && byteClass[b[i]]&cTchar != 0 {
		i++
	}
	switch {
	case i == len(b):
		return reasonNoColon
	case b[i] == ':' && i == 0:
		return reasonEmptyName
	case b[i] == ':':
	case b[i] == ' ' || b[i] == '\t':
		return reasonSpaceBeforeCol
	case b[i] == '\r':
		return reasonBareCR
	default:
		return reasonBadName
	}
	if j := httpsyntax.InvalidValueByte(b[i+1:]); j >= 0 {
		if b[i+1+j] == '\r' {
			return reasonBareCR
		}
		return reasonBadValue
	}
	key, val := httpreq.CanonicalKey(line[:i]), trimOWS(line[i+1:])
	switch key {
	case "Host":
		ph.hosts++
		ph.host = val
		return "" // not kept in Request.Header, as net/http
	case "Content-Length":
		return ph.contentLengthField(val)
	case "Transfer-Encoding":
		ph.teCount++
		ph.transferCodings(val)
		return "" // reflected in Request.TransferEncoding
	case "Connection":
		ph.connTokens(val)
	case "Expect":
		if strings.EqualFold(val, "100-continue") {
			ph.expectContinue = true
			return "" // handled by the server, as net/http
		}
		ph.expectOther = ph.expectOther || val != ""
	case "Trailer":
		ph.trailers++
	}
	ph.fields = append(ph.fields, field{key, val})
	return ""
}

// transferCodings notes the codings a Transfer-Encoding field lists; the
// fields of a head make one list. Only a lone "chunked" is accepted: see
// check.
func (ph *parsedHead) transferCodings(v string) {
	if ph.teCount == 1 && strings.EqualFold(v, "chunked") {
		ph.chunked, ph.teChunks, ph.teLastChunked = true, 1, true
		return
	}
	ph.chunked, ph.teOther = false, true
	for {
		t, rest, more := strings.Cut(v, ",")
		if t = trimOWS(t); t != "" {
			ph.teLastChunked = strings.EqualFold(t, "chunked")
			if ph.teLastChunked {
				ph.teChunks++
			}
		}
		if !more {
			return
		}
		v = rest
	}
}

func (ph *parsedHead) contentLengthField(v string) string {
	if ph.contentLength >= 0 {
		if v != ph.clText {
			return reasonConflictCL
		}
		return "" // an identical repeat is kept once, as net/http
	}
	n, ok := httpsyntax.ParseDigits(v)
	if !ok {
		return reasonBadCL
	}
	ph.contentLength, ph.clText = n, v
	ph.fields = append(ph.fields, field{"Content-Length", v})
	return ""
}

func (ph *parsedHead) connTokens(v string) {
	for v != "" {
		var t string
		t, v, _ = strings.Cut(v, ",")
		t = trimOWS(t)
		if strings.EqualFold(t, "close") {
			ph.connClose = true
		} else if strings.EqualFold(t, "keep-alive") {
			ph.keepAlive = true
		}
	}
}

// check applies the rules that need the whole head.
func (ph *parsedHead) check() (int, string) {
	switch {
	case ph.preface:
		if ph.hosts > 0 || len(ph.fields) > 0 || ph.teCount > 0 {
			return http.StatusBadRequest, reasonBadPreface
		}
		return 0, ""
	case ph.hosts > 1:
		return http.StatusBadRequest, reasonManyHosts
	case ph.hosts == 0 && ph.minor >= 1 && ph.method != http.MethodConnect:
		return http.StatusBadRequest, reasonNoHost
	case !allClass(ph.host, cHost):
		return http.StatusBadRequest, reasonBadHost
	case ph.teCount > 0 && ph.contentLength >= 0:
		return http.StatusBadRequest, reasonCLAndTE
	case ph.teCount > 0 && ph.minor == 0:
		return http.StatusBadRequest, reasonTE10
	case ph.teCount > 0 && !ph.teLastChunked:
		// RFC 9112 6.3: the length cannot be known; 400, not 501.
		return http.StatusBadRequest, reasonChunkedNotLast
	case ph.teChunks > 1:
		return http.StatusBadRequest, reasonChunkedTwice // RFC 9112 7
	case ph.teOther:
		return http.StatusNotImplemented, reasonUnsupportedTE
	case ph.expectOther && ph.minor >= 1:
		return http.StatusExpectationFailed, reasonBadExpect
	}
	if ph.chunked && ph.trailers > 0 {
		for _, f := range ph.fields {
			if f.key == "Trailer" && !validTrailerList(f.val) {
				return http.StatusBadRequest, reasonBadTrailerKey
			}
		}
	}
	return checkTarget(ph.method, ph.target)
}

// checkTarget accepts origin-form, absolute-form, "*" for OPTIONS and
// authority-form for CONNECT only.
func checkTarget(method, target string) (int, string) {
	switch {
	case target[0] == '/':
		return 0, ""
	case target == "*":
		if method == http.MethodOptions {
			return 0, ""
		}
	case method == http.MethodConnect:
		return 0, ""
	case isAbsoluteForm(target):
		return 0, ""
	}
	return http.StatusBadRequest, reasonTarget
}

// isAbsoluteForm reports whether t starts with a URI scheme and "://".
func isAbsoluteForm(t string) bool {
	i := strings.Index(t, "://")
	if i <= 0 || !isAlpha(t[0]) {
		return false
	}
	for j := 1; j < i; j++ {
		c := t[j]
		if !isAlpha(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func validTrailerList(v string) bool {
	for v != "" {
		var t string
		t, v, _ = strings.Cut(v, ",")
		switch http.CanonicalHeaderKey(trimOWS(t)) {
		case "Transfer-Encoding", "Trailer", "Content-Length":
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func allClass(s string, class uint8) bool {
	for i := 0; i < len(s); i++ {
		if byteClass[s[i]]&class == 0 {
			return false
		}
	}
	return true
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// validValue reports whether a response field value may be written.
func validValue(v string) bool {
	return httpsyntax.ValidFieldValue(v)
}

// validName reports whether k is a non-empty token.
func validName(k string) bool { return k != "" && allClass(k, cTchar) }
