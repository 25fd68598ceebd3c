// This file holds the strict HTTP/1.1 request framing guard: a streaming
// state machine that sees the raw downstream bytes before net/http does and
// rejects the ambiguous framing net/http tolerates (Content-Length with
// Transfer-Encoding, obs-fold, bare CR or LF, control bytes, and so on).

package listener

import (
	"errors"
	"github.com/portico-proxy/portico/internal/httpsyntax"
	"math"
	"strings"
	"sync/atomic"
)

// errFraming is wrapped by every error the guard makes a Read return.
var errFraming = errors.New("listener: ambiguous or malformed HTTP/1.1 request framing")

// framingError carries the reject reason; errors.Is(err, errFraming) holds.
type framingError struct{ reason string }

func (e *framingError) Error() string { return errFraming.Error() + ": " + e.reason }
func (e *framingError) Unwrap() error { return errFraming }

// Reject reasons, passed to guardOptions.OnReject. A small fixed set, so they
// can be used as a metric label.
const (
	reasonCLAndTE           = "content_length_with_transfer_encoding"
	reasonConflictingCL     = "conflicting_content_length"
	reasonBadCL             = "bad_content_length"
	reasonBadTE             = "bad_transfer_encoding"
	reasonTENotHTTP11       = "transfer_encoding_not_http11"
	reasonObsFold           = "obs_fold"
	reasonBareCR            = "bare_cr"
	reasonBareLF            = "bare_lf"
	reasonCTL               = "control_byte_in_header"
	reasonSpaceBeforeColon  = "space_before_colon"
	reasonEmptyName         = "empty_header_name"
	reasonBadName           = "bad_header_name"
	reasonNoColon           = "header_without_colon"
	reasonBadRequestLine    = "bad_request_line"
	reasonBadChunkSize      = "bad_chunk_size"
	reasonChunkSizeOverflow = "chunk_size_overflow"
	reasonBadChunkExt       = "bad_chunk_extension"
	reasonChunkLineTooLong  = "chunk_line_too_long"
	reasonBadChunkEnd       = "bad_chunk_terminator"
	reasonTrailerTooLarge   = "trailer_too_large"
	reasonBadH2Preface      = "bad_h2_preface"
)

type guardState uint8

// Head states come first: a violation in one of them is answered with 400
// (see guardedConn.Close); a violation in a body or trailer is not, because
// the handler already owns that request's response.
const (
	stReqStart    guardState = iota // before a request line; CRLFs allowed
	stLeadLF                        // after a CR before a request line
	stReqLine                       // inside the request line
	stReqLineLF                     // after the request line's CR
	stFieldStart                    // at the start of a field line or the empty line
	stName                          // inside a field name
	stValue                         // inside a field value
	stFieldLF                       // after a field line's CR
	stHeadEndLF                     // after the CR of the empty line
	stPreface                       // after "PRI * HTTP/2.0\r\n\r\n", expecting "SM\r\n\r\n"
	stBody                          // Content-Length body; remain bytes left
	stChunkSize                     // chunk-size digits
	stChunkExt                      // chunk extensions, up to CR
	stChunkSizeLF                   // after the chunk-size line's CR
	stChunkData                     // chunk data; remain bytes left
	stChunkDataCR                   // CR after chunk data
	stChunkDataLF                   // LF after chunk data
	stPass                          // no longer HTTP/1.1: pass everything
)

// Field kinds the guard interprets; every other field is only validated.
const (
	fieldOther uint8 = iota
	fieldCL
	fieldTE
	fieldUpgrade
)

// Upgrade kinds published to the write side (see sniffResponse).
const (
	upgradeNone int32 = iota
	upgradeHeader
	upgradeConnect
)

const (
	maxFramingValue = 32   // longest Content-Length or Transfer-Encoding value kept
	maxChunkLine    = 4096 // as net/http's chunked reader
	maxLeadingCRLF  = 2    // empty lines tolerated before a request line (net/http discards up to 4 bytes)
	h2PrefaceTail   = "SM\r\n\r\n"
)

// Byte classes.
const (
	cTchar  = 1 << iota // token character (field names)
	cValue              // field value / chunk extension byte: VCHAR, SP, HTAB, obs-text
	cTarget             // request-line part byte: VCHAR, obs-text
)

var (
	byteClass [256]uint8
	lowerByte [256]byte
	hexVal    [256]uint8 // 0xff: not a hex digit
)

func init() {
	const tchars = "!#$%&'*+-.^_`|~"
	for c := 0; c < 256; c++ {
		b := byte(c)
		var cl uint8
		isAlnum := b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
		if isAlnum || strings.IndexByte(tchars, b) >= 0 {
			cl |= cTchar
		}
		if b == ' ' || b == '\t' || b > 0x20 && b != 0x7f {
			cl |= cValue
		}
		if b > 0x20 && b != 0x7f {
			cl |= cTarget
		}
		byteClass[c] = cl
		lowerByte[c] = b
		if b >= 'A' && b <= 'Z' {
			lowerByte[c] = b + 'a' - 'A'
		}
		hexVal[c] = 0xff
		switch {
		case b >= '0' && b <= '9':
			hexVal[c] = b - '0'
		case b >= 'a' && b <= 'f':
			hexVal[c] = b - 'a' + 10
		case b >= 'A' && b <= 'F':
			hexVal[c] = b - 'A' + 10
		}
	}
}

// framingGuard follows the request framing of one downstream connection,
// byte for byte, as net/http will read it, and says stop at the first
// ambiguity. It never buffers input: all it keeps is a fixed-size state
// (the first 17 bytes of the current field name and up to 32 bytes of a
// Content-Length or Transfer-Encoding value), so its verdict is the same
// whatever the read boundaries are.
//
// A request head is validated in full; a body is skipped by Content-Length
// or followed through its chunked framing and trailer section. Heads larger
// than net/http's limit are still checked (nothing is buffered, so there is
// no cost in doing so); net/http answers them with 431.
//
// Connections that stop speaking HTTP/1.1:
//   - "PRI * HTTP/2.0" followed by the rest of the HTTP/2 preface switches to
//     passthrough (h2c with prior knowledge; the HTTP/2 server frames strictly).
//   - A request with an Upgrade header, or a CONNECT, switches to passthrough
//     only once the server's response confirms the switch (101, or 2xx to
//     CONNECT; see sniffResponse). Until then the bytes that follow are
//     guarded as HTTP/1.1, so "Upgrade: x" cannot be used to switch the guard
//     off on a connection net/http keeps parsing. A client that sends
//     upgraded-protocol bytes before it has seen the 101 (RFC 6455 forbids
//     it) is rejected.
//
// feed is called by one reader at a time; the upgrade fields are shared with
// the write side and are atomic.
type framingGuard struct {
	state     guardState
	inTrailer bool
	field     uint8 // kind of the current field

	// request line
	parts      uint8 // SPs seen
	partLen    int
	method     [8]byte
	methodLen  int
	targetLen  int
	targetStar bool
	version    [8]byte
	leadCRLF   uint8

	// current request
	http11, connect, pri, upgrade bool
	sawCL, sawTE                  bool
	clFirst                       [maxFramingValue]byte
	clFirstLen                    int
	cl                            int64

	// current field
	nameLen int
	name    [len("transfer-encoding")]byte
	valLen  int
	val     [maxFramingValue]byte

	// body
	remain       int64 // Content-Length bytes, or chunk size, left
	hexDigits    int
	lineLen      int // chunk-size line length so far
	trailerBytes int
	maxTrailer   int
	prefaceIdx   int

	// outcome
	total  int64 // bytes accepted by earlier feeds
	err    error
	reason string
	failAt int64 // stream offset of the offending byte
	reply  bool  // the violation was in a request head: answer 400

	upgradeWanted atomic.Int32 // upgradeHeader or upgradeConnect after such a head
	passthrough   atomic.Bool  // set by the write side when an upgrade is confirmed
}

// newFramingGuard returns a guard whose trailer sections may be at most
// maxHeaderBytes long (net/http's default of 1 MiB when zero or less).
func newFramingGuard(maxHeaderBytes int) *framingGuard {
	if maxHeaderBytes <= 0 {
		maxHeaderBytes = 1 << 20
	}
	return &framingGuard{maxTrailer: maxHeaderBytes}
}

// feed checks the next bytes of the stream. It returns how many leading
// bytes of p may be handed to the HTTP parser and, at the first violation, an
// error (sticky: every later call returns it with 0). On a violation the
// count stops before the violating request's head when that head began in p,
// before the violating byte otherwise, so that a request's head never reaches
// net/http whole once it is known to be bad.
func (g *framingGuard) feed(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	headStart := 0 // where the current request head began in p (0: in an earlier p)
	i := 0
	for i < len(p) {
		var reason string
		start, wasTrailer, from := i, g.inTrailer, g.state
		switch g.state {
		case stReqStart:
			i, reason = g.reqStart(p, i)
			if g.state == stReqLine {
				headStart = i
			}
		case stLeadLF:
			if p[i] != '\n' {
				reason = reasonBareCR
				break
			}
			i++
			g.state = stReqStart
		case stReqLine:
			i, reason = g.requestLine(p, i)
		case stReqLineLF, stFieldStart, stName, stValue, stFieldLF, stHeadEndLF:
			i, reason = g.fields(p, i)
		case stPreface:
			i, reason = g.preface(p, i)
		case stBody, stChunkData:
			i = g.skipData(p, i)
		case stChunkSize:
			i, reason = g.chunkSize(p, i)
		case stChunkExt:
			i, reason = g.chunkExt(p, i)
		case stChunkSizeLF, stChunkDataCR, stChunkDataLF:
			i, reason = g.chunkDelim(p, i)
		case stPass:
			i = len(p)
		}
		if wasTrailer {
			// Byte-exact, so that the verdict does not depend on where
			// the reads end: too large when the byte at offset
			// maxTrailer was consumed or is the offending one.
			n := g.trailerBytes + i - start
			if n > g.maxTrailer || reason != "" && n >= g.maxTrailer {
				reason = reasonTrailerTooLarge
			}
			g.trailerBytes = n
		}
		if reason != "" {
			return g.fail(reason, i, headStart, from, wasTrailer)
		}
	}
	g.total += int64(len(p))
	return len(p), nil
}

// fail records a violation found at p[i] by a step that began in state
// from, and returns what feed returns.
func (g *framingGuard) fail(reason string, i, headStart int, from guardState, trailer bool) (int, error) {
	g.reason = reason
	g.err = &framingError{reason: reason}
	g.failAt = g.total + int64(i)
	g.reply = !trailer && from <= stPreface
	if g.reply && from >= stReqLine {
		return headStart, g.err
	}
	return i, g.err
}

func (g *framingGuard) reqStart(p []byte, i int) (int, string) {
	switch p[i] {
	case '\r':
		if g.leadCRLF == maxLeadingCRLF {
			return i, reasonBadRequestLine
		}
		g.leadCRLF++
		g.state = stLeadLF
		return i + 1, ""
	case '\n':
		return i, reasonBareLF
	}
	// A new request: reset what the previous one left.
	g.parts, g.partLen = 0, 0
	g.methodLen, g.targetLen, g.targetStar = 0, 0, false
	g.http11, g.connect, g.pri, g.upgrade = false, false, false, false
	g.sawCL, g.sawTE, g.clFirstLen, g.cl = false, false, 0, 0
	g.leadCRLF = 0
	g.state = stReqLine
	return i, ""
}

// requestLine checks for exactly three non-empty SP-separated parts made of
// visible bytes, keeping what it needs of the method, target and version.
func (g *framingGuard) requestLine(p []byte, i int) (int, string) {
	for i < len(p) {
		j := i
		for j < len(p) && byteClass[p[j]]&cTarget != 0 {
			j++
		}
		if j > i {
			g.keepPart(p[i:j])
			i = j
			if i == len(p) {
				break
			}
		}
		switch p[i] {
		case ' ':
			if g.partLen == 0 || g.parts == 2 {
				return i, reasonBadRequestLine
			}
			if g.parts == 0 {
				g.methodLen = g.partLen
			} else {
				g.targetLen = g.partLen
			}
			g.parts++
			g.partLen = 0
			i++
		case '\r':
			g.state = stReqLineLF // the part count is checked at the LF
			return i + 1, ""
		case '\n':
			return i, reasonBareLF
		default:
			return i, reasonBadRequestLine
		}
	}
	return i, ""
}

func (g *framingGuard) keepPart(run []byte) {
	switch g.parts {
	case 0:
		if g.partLen < len(g.method) {
			copy(g.method[g.partLen:], run)
		}
	case 1:
		if g.partLen == 0 {
			g.targetStar = run[0] == '*'
		}
	case 2:
		if g.partLen < len(g.version) {
			copy(g.version[g.partLen:], run)
		}
	}
	g.partLen += len(run)
}

func (g *framingGuard) endRequestLine() {
	versionLen := g.partLen
	g.http11 = versionLen == 8 && string(g.version[:]) == "HTTP/1.1"
	g.connect = g.methodLen == 7 && string(g.method[:7]) == "CONNECT"
	g.pri = g.methodLen == 3 && string(g.method[:3]) == "PRI" &&
		g.targetLen == 1 && g.targetStar &&
		versionLen == 8 && string(g.version[:]) == "HTTP/2.0"
}

// fields runs the field-line states (of a head, or of a trailer section one
// step at a time, for its size accounting) until the section ends, p ends or
// a violation.
func (g *framingGuard) fields(p []byte, i int) (int, string) {
	for i < len(p) {
		var reason string
		switch g.state {
		case stReqLineLF, stFieldLF, stHeadEndLF:
			i, reason = g.lineEnd(p, i)
		case stFieldStart:
			i, reason = g.fieldStart(p, i)
		case stName:
			i, reason = g.fieldName(p, i)
		case stValue:
			i, reason = g.fieldValue(p, i)
		default:
			return i, ""
		}
		if reason != "" || g.inTrailer {
			return i, reason
		}
	}
	return i, ""
}

// lineEnd expects the LF of a CRLF and acts on the line it ends.
func (g *framingGuard) lineEnd(p []byte, i int) (int, string) {
	if p[i] != '\n' {
		return i, reasonBareCR
	}
	switch g.state {
	case stReqLineLF:
		if g.parts != 2 || g.partLen == 0 {
			return i, reasonBadRequestLine
		}
		g.endRequestLine()
		g.state = stFieldStart
	case stFieldLF:
		if r := g.endField(); r != "" {
			return i, r
		}
		g.state = stFieldStart
	case stHeadEndLF:
		g.endHead()
	}
	return i + 1, ""
}

func (g *framingGuard) fieldStart(p []byte, i int) (int, string) {
	b := p[i]
	switch {
	case b == '\r':
		g.state = stHeadEndLF
		return i + 1, ""
	case b == ' ' || b == '\t':
		return i, reasonObsFold
	case b == ':':
		return i, reasonEmptyName
	case b == '\n':
		return i, reasonBareLF
	case byteClass[b]&cTchar != 0:
		g.nameLen = 0
		g.state = stName
		return i, ""
	case byteClass[b]&cValue == 0:
		return i, reasonCTL
	}
	return i, reasonBadName
}

func (g *framingGuard) fieldName(p []byte, i int) (int, string) {
	j := i
	for j < len(p) && byteClass[p[j]]&cTchar != 0 {
		j++
	}
	run := p[i:j]
	if j == len(p) { // the name goes on in the next read
		g.keepName(run)
		return j, ""
	}
	switch b := p[j]; {
	case b == ':':
		// Usually the whole name is in p; otherwise its start was kept.
		total, name := g.nameLen+len(run), run
		if g.nameLen > 0 {
			g.keepName(run)
			name = g.name[:min(total, len(g.name))]
		}
		g.field = g.classifyName(name, total)
		g.valLen = 0
		g.state = stValue
		return j + 1, ""
	case b == ' ' || b == '\t':
		return j, reasonSpaceBeforeColon
	case b == '\r' || b == '\n':
		return j, reasonNoColon
	case byteClass[b]&cValue == 0:
		return j, reasonCTL
	}
	return j, reasonBadName
}

// keepName keeps the start of a field name split across reads, lower-cased.
func (g *framingGuard) keepName(run []byte) {
	n := g.nameLen
	for k := 0; k < len(run) && n < len(g.name); k++ {
		g.name[n] = lowerByte[run[k]]
		n++
	}
	g.nameLen += len(run)
}

// classifyName says which framing field a name of total bytes is; name holds
// its first bytes (all of them when total <= 17).
func (g *framingGuard) classifyName(name []byte, total int) uint8 {
	if g.inTrailer || total != len(name) {
		return fieldOther
	}
	switch {
	case total == len("content-length") && equalLower(name, "content-length"):
		return fieldCL
	case total == len("transfer-encoding") && equalLower(name, "transfer-encoding"):
		return fieldTE
	case total == len("upgrade") && equalLower(name, "upgrade"):
		return fieldUpgrade
	}
	return fieldOther
}

// equalLower reports whether b, lower-cased, is s (which is lower case).
func equalLower(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lowerByte[b[i]] != s[i] {
			return false
		}
	}
	return true
}

func (g *framingGuard) fieldValue(p []byte, i int) (int, string) {
	j := scanValue(p, i)
	if g.field == fieldCL || g.field == fieldTE {
		for _, b := range p[i:j] {
			if g.valLen == 0 && (b == ' ' || b == '\t') {
				continue // leading OWS
			}
			if g.valLen < len(g.val) {
				g.val[g.valLen] = b
			}
			g.valLen++
		}
	}
	i = j
	if i == len(p) {
		return i, ""
	}
	switch p[i] {
	case '\r':
		g.state = stFieldLF
		return i + 1, ""
	case '\n':
		return i, reasonBareLF
	}
	return i, reasonCTL
}

// scanValue returns the index of the first byte at or after i that may not
// appear in a field value, or len(p).
func scanValue(p []byte, i int) int {
	if k := httpsyntax.InvalidValueByte(p[i:]); k >= 0 {
		return i + k
	}
	return len(p)
}

// endField applies the framing rules to a complete field line.
func (g *framingGuard) endField() string {
	if g.inTrailer {
		return ""
	}
	if g.pri {
		return reasonBadH2Preface
	}
	switch g.field {
	case fieldCL:
		return g.contentLength()
	case fieldTE:
		switch {
		case g.sawCL:
			return reasonCLAndTE
		case g.sawTE:
			return reasonBadTE // a second field is a second coding
		case !g.http11:
			return reasonTENotHTTP11
		}
		v, ok := g.trimmedValue()
		if !ok || !equalLower(v, "chunked") {
			return reasonBadTE
		}
		g.sawTE = true
	case fieldUpgrade:
		g.upgrade = true
	}
	return ""
}

func (g *framingGuard) contentLength() string {
	if g.sawTE {
		return reasonCLAndTE
	}
	v, ok := g.trimmedValue()
	if !ok || len(v) == 0 {
		return reasonBadCL
	}
	if g.sawCL {
		// Like net/http: repeated values must be the same text.
		if string(v) != string(g.clFirst[:g.clFirstLen]) {
			return reasonConflictingCL
		}
		return ""
	}
	var n int64
	for _, b := range v {
		if b < '0' || b > '9' {
			return reasonBadCL
		}
		d := int64(b - '0')
		if n > (math.MaxInt64-d)/10 {
			return reasonBadCL
		}
		n = n*10 + d
	}
	g.sawCL = true
	g.clFirstLen = copy(g.clFirst[:], v)
	g.cl = n
	return ""
}

// trimmedValue returns the kept value without trailing OWS; false when the
// value was longer than what is kept.
func (g *framingGuard) trimmedValue() ([]byte, bool) {
	if g.valLen > len(g.val) {
		return nil, false
	}
	v := g.val[:g.valLen]
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v, true
}
