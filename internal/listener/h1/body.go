package h1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"github.com/portico-proxy/portico/internal/httpsyntax"
	"github.com/portico-proxy/portico/internal/listener/httpreq"
	"io"
	"net/http"
	"strings"
	"sync"
)

// maxPostHandlerReadBytes is how much of a request body the server reads
// and discards, when the handler left it unread, to keep the connection
// (as net/http).
const maxPostHandlerReadBytes = 256 << 10

// maxOverhead bounds the chunk framing a chunked body may carry beyond
// its data; see readChunkSize.
const maxOverhead = 16 << 10

var (
	errBadChunk   = errors.New("h1: malformed chunked request body")
	errBadTrailer = errors.New("h1: malformed trailer section")
	errOverhead   = fmt.Errorf("%w: too much chunk extension data", errBadChunk)
	errHijacked   = http.ErrHijacked
)

// Chunked body states.
const (
	chunkSize = iota // expecting a chunk-size line
	chunkData        // inside chunk data; remain bytes left
	chunkEnd         // expecting the CRLF after chunk data
)

// body is a request body: Content-Length or chunked framing read from the
// connection's buffer, strictly. It returns io.ErrUnexpectedEOF when the
// client closes early, an error wrapping errBadChunk on bad chunked
// framing (the connection is closed after the response), and fills
// Request.Trailer after a chunked body's trailer section. Read holds mu
// for the whole read, as net/http's body does, so the server can wait for
// a Read still blocked in a handler's goroutine before reusing the buffer.
type body struct {
	c       *conn
	w       *response
	req     *http.Request
	mu      sync.Mutex
	remain  int64 // Content-Length bytes or chunk bytes left
	excess  int64 // chunk framing beyond what the data allows; see readChunkSize
	chunked bool
	state   uint8
	sawEOF  bool
	closed  bool
	err     error
}

func (b *body) init(c *conn, w *response, r *http.Request, ph *parsedHead) {
	b.c, b.w, b.req = c, w, r
	b.chunked = ph.chunked
	b.remain = max(ph.contentLength, 0)
}

// Read reads the body; see body.
func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	return b.readLocked(p)
}

// Close marks the body closed; the server discards what is left after
// the handler (up to maxPostHandlerReadBytes, else it closes the
// connection).
func (b *body) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}

func (b *body) readLocked(p []byte) (int, error) {
	switch {
	case b.err != nil:
		return 0, b.err
	case b.sawEOF:
		return 0, io.EOF
	case len(p) == 0:
		return 0, nil
	case b.c.state.Load() == stateDetached:
		return 0, errHijacked
	}
	b.w.sendContinue()
	var n int
	var err error
	if b.chunked {
		n, err = b.readChunked(p)
	} else {
		n, err = b.readLength(p)
	}
	switch {
	case err == io.EOF:
		b.sawEOF = true
		b.c.bodyConsumed()
	case err != nil:
		b.err = err
	}
	return n, err
}

func (b *body) readLength(p []byte) (int, error) {
	if int64(len(p)) > b.remain {
		p = p[:b.remain]
	}
	n, err := b.c.br.Read(p)
	b.remain -= int64(n)
	if b.remain == 0 {
		return n, io.EOF
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// readChunked fills p with chunk data, going on to the next chunk while
// its framing is already buffered.
func (b *body) readChunked(p []byte) (int, error) {
	br := b.c.br
	n := 0
	for n < len(p) {
		if n > 0 && !b.framingBuffered() {
			break // do not block with data in hand
		}
		switch b.state {
		case chunkSize:
			size, err := b.readChunkSize()
			if err != nil {
				return n, err
			}
			if size == 0 {
				if err := b.readTrailers(); err != nil {
					return n, err
				}
				return n, io.EOF
			}
			b.remain, b.state = size, chunkData
		case chunkData:
			q := p[n:]
			if int64(len(q)) > b.remain {
				q = q[:b.remain]
			}
			k, err := br.Read(q)
			n += k
			b.remain -= int64(k)
			if b.remain == 0 {
				b.state = chunkEnd
			}
			if err != nil {
				return n, unexpected(err)
			}
		case chunkEnd:
			crlf, err := br.Peek(2)
			if err != nil {
				return n, unexpected(err)
			}
			if crlf[0] != '\r' || crlf[1] != '\n' {
				return n, errBadChunk
			}
			_, _ = br.Discard(2)
			b.state = chunkSize
		}
	}
	return n, nil
}

// framingBuffered reports whether the next step can run without
// reading the connection.
func (b *body) framingBuffered() bool {
	br := b.c.br
	switch n := br.Buffered(); b.state {
	case chunkSize:
		buf, _ := br.Peek(n)
		return bytes.IndexByte(buf, '\n') >= 0
	case chunkEnd:
		return n >= 2
	default:
		return n > 0
	}
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readChunkSize reads "hex-size [; ext] CRLF": at most 16 hex digits, no
// whitespace, extensions made of field value bytes.
func (b *body) readChunkSize() (int64, error) {
	line, err := b.c.br.ReadSlice('\n')
	if err != nil {
		if err == bufio.ErrBufferFull {
			return 0, errBadChunk
		}
		return 0, unexpected(err)
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return 0, errBadChunk
	}
	line = line[:len(line)-2]
	var size int64
	i := 0
	for ; i < len(line); i++ {
		d := hexValue(line[i])
		if d < 0 {
			break
		}
		if i == 16 {
			return 0, errBadChunk
		}
		size = size<<4 | int64(d)
	}
	if i == 0 || size < 0 {
		return 0, errBadChunk
	}
	if i < len(line) && (line[i] != ';' || httpsyntax.InvalidValueByte(line[i:]) >= 0) {
		return 0, errBadChunk
	}
	// Extensions are bounded per line by the buffer and in total, as
	// net/http does: 16 bytes of framing per chunk and twice its data are
	// free, 16 KiB more are allowed (RFC 9112 7.1.1). Without this a body
	// of one-byte chunks could carry ~4 KiB of extension each.
	b.excess += int64(len(line)) + 2 - 16
	if size >= maxOverhead {
		b.excess = 0
	} else {
		b.excess = max(b.excess-2*size, 0)
	}
	if b.excess > maxOverhead {
		return 0, errOverhead
	}
	return size, nil
}

func hexValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// readTrailers reads the trailer section into Request.Trailer, with the
// head's limits (bytes and fields) and rules. Fields that must not be
// trailers (framing, routing and authentication fields) are dropped.
func (b *body) readTrailers() error {
	br := b.c.br
	size, count := 0, 0
	lim := &b.c.s.o
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if err == bufio.ErrBufferFull {
				return errBadTrailer
			}
			return unexpected(err)
		}
		size += len(line)
		if size > lim.MaxHeaderBytes || len(line) < 2 || line[len(line)-2] != '\r' {
			return errBadTrailer
		}
		line = line[:len(line)-2]
		if len(line) == 0 {
			return nil
		}
		if count++; count > lim.MaxHeaderCount {
			return errBadTrailer
		}
		s := string(line)
		ph := parsedHead{contentLength: -1} // a Content-Length trailer is dropped, not a conflict
		if ph.field(s, line) != "" {
			return errBadTrailer
		}
		b.addTrailer(s)
	}
}

func (b *body) addTrailer(line string) {
	name, v, _ := strings.Cut(line, ":")
	k := httpreq.CanonicalKey(name)
	if !validTrailerKey(k) {
		return
	}
	if b.req.Trailer == nil {
		b.req.Trailer = make(http.Header)
	}
	b.req.Trailer[k] = append(b.req.Trailer[k], trimOWS(v))
}

// finish is called after the handler: it reports whether the connection
// can read the next request, discarding an unread remainder of up to
// maxPostHandlerReadBytes. It waits for a Read still running.
func (b *body) finish() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return b.discardLocked()
}

// beforeResponse is called when the response head is committed
// while the body is unread (and not in full-duplex mode): net/http reads
// it first, so that clients that send the whole request before reading
// do not deadlock. It reports whether the connection can be kept.
func (b *body) beforeResponse(expect bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.sawEOF:
		return true
	case expect, b.closed:
		return false // never asked for, or closed unread by the handler
	}
	return b.discardLocked()
}

func (b *body) discardLocked() bool {
	switch {
	case b.sawEOF:
		return true
	case b.err != nil, b.w.continuePending():
		return false
	case !b.chunked && b.remain > maxPostHandlerReadBytes:
		return false
	}
	buf := getPre()
	defer putPre(buf)
	for total := 0; total <= maxPostHandlerReadBytes; {
		n, err := b.readLocked((*buf)[:cap(*buf)])
		total += n
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
	}
	return false
}
