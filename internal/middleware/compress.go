package middleware

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/httpsyntax"
)

// compressor is the compress middleware of one route: negotiation from
// Accept-Encoding, then a writer that decides per response whether
// compressing pays, and streams through a pooled encoder.
type compressor struct {
	next    http.Handler
	prefs   []httpsyntax.Coding
	minSize int
	types   typeMatcher
	enc     *encoderPools
	writers sync.Pool // *compressWriter
	bufs    sync.Pool // *[]byte of minBuf bytes: a body of unknown length, until it is big enough
	minBuf  int
}

// maxDecideBuffer bounds what is held back to decide on a body of unknown
// length: a min_size above it is treated as reached at this point.
const maxDecideBuffer = 64 << 10

// Compress compresses responses on the fly with zstd, brotli or gzip, as
// the client accepts and the route prefers. It compresses only what pays
// (listed types, at least min_size bytes) and never what is already
// encoded, a range, or marked no-transform. Encoders flush with the
// response, so streams are not delayed.
func Compress(cfg *config.Compress, next http.Handler) (http.Handler, error) {
	c := &compressor{next: next, types: newTypeMatcher(cfg.Types), minSize: int(cfg.MinSize)}
	if len(cfg.Types) == 0 {
		c.types = newTypeMatcher(config.DefaultCompressTypes)
	}
	if c.minSize <= 0 {
		c.minSize = config.DefaultCompressMinSize
	}
	names := cfg.Encodings
	if len(names) == 0 {
		names = config.DefaultCompressEncodings
	}
	for _, n := range names {
		cd, ok := httpsyntax.CodingByName(n)
		if !ok {
			return nil, fmt.Errorf("compress: unknown encoding %q", n)
		}
		c.prefs = append(c.prefs, cd)
	}
	var err error
	if c.enc, err = newEncoderPools(cfg.Levels); err != nil {
		return nil, err
	}
	c.minBuf = min(c.minSize, maxDecideBuffer)
	c.writers.New = func() any { return &compressWriter{c: c} }
	c.bufs.New = func() any { b := make([]byte, 0, c.minBuf); return &b }
	return c, nil
}

func (c *compressor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cw := c.writers.Get().(*compressWriter)
	a := httpsyntax.ParseAcceptEncoding(r.Header["Accept-Encoding"])
	cw.ResponseWriter = w
	cw.coding = a.Choose(c.prefs)
	cw.force = !a.IdentityAllowed()
	cw.head = r.Method == http.MethodHead
	cw.inm = r.Header["If-None-Match"]
	defer c.release(cw)
	c.next.ServeHTTP(cw, r)
	cw.finish()
}

func (c *compressor) release(cw *compressWriter) {
	if cw.buf != nil {
		*cw.buf = (*cw.buf)[:0]
		c.bufs.Put(cw.buf)
	}
	if cw.enc != nil {
		c.enc.put(cw.coding, cw.enc)
	}
	*cw = compressWriter{c: c}
	c.writers.Put(cw)
}

// state of a compressWriter.
type cwState uint8

const (
	undecided cwState = iota // head held back, body bytes (if any) in buf
	passing                  // identity: everything goes straight through
	encoding                 // body goes through enc
)

// compressWriter holds the head back until it knows whether to compress:
// at once when the handler declared a Content-Length, else when the body
// reaches min_size, is flushed, or ends.
type compressWriter struct {
	http.ResponseWriter
	c      *compressor
	coding httpsyntax.Coding // negotiated; Identity when none is accepted
	force  bool              // identity;q=0: compress whatever may be
	head   bool              // HEAD: headers as for GET (body bytes held to decide, then dropped), no body
	inm    []string          // the request's If-None-Match, for a 304's ETag
	state  cwState
	status int // 0 until the handler set it
	buf    *[]byte
	enc    encoder
	err    error // a failed encoder write, returned from then on
}

func (cw *compressWriter) WriteHeader(code int) {
	if cw.status != 0 {
		return
	}
	if !finalHead(code) {
		cw.ResponseWriter.WriteHeader(code) // interim: passes untouched
		return
	}
	cw.status = code
	if n, ok := declaredLength(cw.Header()); ok || !bodyAllowed(code) {
		cw.decide(n, ok)
	}
}

// decide picks passing or encoding and sends the head. size is the body
// length when known is true.
func (cw *compressWriter) decide(size int64, known bool) {
	h := cw.Header()
	eligible, typeOK := cw.eligible(h)
	if typeOK {
		addVaryAE(h)
	}
	cw.state = passing
	if cw.status == http.StatusNotModified && cw.coding != httpsyntax.Identity {
		// The ETag the client holds says which variant the 304 confirms,
		// even when the 304 has no Content-Type to judge by.
		if et := h["Etag"]; len(et) == 1 && len(et[0]) > 0 && et[0][0] == '"' {
			switch {
			case httpsyntax.ListsETag(cw.inm, "W/"+et[0]):
				addVaryAE(h)
				weakenETag(h)
				eligible = false
			case httpsyntax.ListsETag(cw.inm, et[0]):
				eligible = false // the identity variant: its tag as it is
			}
		}
	}
	if eligible && cw.coding != httpsyntax.Identity && (!known || size >= int64(cw.c.minSize) || cw.force) {
		if cw.status == http.StatusNotModified {
			weakenETag(h) // as the 200 it confirms carried it
		} else {
			cw.state = encoding
			addVaryAE(h) // also for an unlisted type sent encoded for identity;q=0
			delete(h, "Content-Length")
			delete(h, "Accept-Ranges") // ranges of the encoded bytes are not offered
			// Digests of the bytes as the backend sent them (RFC 9530: the
			// content, and the representation, which includes its
			// content coding) do not hold for the encoded bytes.
			delete(h, "Content-Digest")
			delete(h, "Repr-Digest")
			delete(h, "Content-Md5")
			h["Content-Encoding"] = codingValues[cw.coding]
			weakenETag(h)
		}
	}
	cw.ResponseWriter.WriteHeader(cw.status)
	if cw.state == encoding && !cw.head {
		cw.enc = cw.c.enc.get(cw.coding, cw.ResponseWriter)
	}
}

// eligible reports whether the response may be compressed, and whether
// its type is one that would be (then Vary: Accept-Encoding is due).
func (cw *compressWriter) eligible(h http.Header) (ok, typeOK bool) {
	switch {
	case cw.status == http.StatusSwitchingProtocols, cw.status == http.StatusNoContent,
		cw.status == http.StatusPartialContent:
		return false, false
	case len(h["Content-Range"]) > 0:
		return false, false
	}
	if ce := h["Content-Encoding"]; len(ce) > 0 && !(len(ce) == 1 && ce[0] == "identity") {
		return false, false // already encoded: never twice
	}
	ct := h["Content-Type"]
	typeOK = len(ct) > 0 && cw.c.types.match(ct[0])
	if hasToken(h["Cache-Control"], "no-transform") {
		return false, typeOK
	}
	return typeOK || cw.force && len(ct) > 0, typeOK
}

var codingValues = [4][]string{nil, {"gzip"}, {"br"}, {"zstd"}}

var varyAE = []string{"Accept-Encoding"}

func addVaryAE(h http.Header) {
	v := h["Vary"]
	if len(v) == 0 {
		h["Vary"] = varyAE
		return
	}
	if hasToken(v, "accept-encoding") || hasToken(v, "*") {
		return
	}
	h["Vary"] = append(v[:len(v):len(v)], "Accept-Encoding")
}

// weakenETag marks a strong validator weak: the encoded bytes differ from
// the ones it was made for, but mean the same.
func weakenETag(h http.Header) {
	if et := h["Etag"]; len(et) == 1 && len(et[0]) > 0 && et[0][0] == '"' {
		h["Etag"] = []string{"W/" + et[0]}
	}
}

func declaredLength(h http.Header) (int64, bool) {
	v := h["Content-Length"]
	if len(v) != 1 {
		return 0, false
	}
	n, err := strconv.ParseInt(v[0], 10, 64)
	return n, err == nil && n >= 0
}

func bodyAllowed(code int) bool {
	return !(code >= 100 && code <= 199 || code == http.StatusNoContent || code == http.StatusNotModified)
}

func (cw *compressWriter) Write(p []byte) (int, error) {
	if cw.status == 0 {
		cw.WriteHeader(http.StatusOK)
	}
	switch cw.state {
	case passing:
		return cw.ResponseWriter.Write(p)
	case encoding:
		return cw.encode(p)
	}
	if cw.buf == nil {
		cw.buf = cw.c.bufs.Get().(*[]byte)
	}
	b := *cw.buf
	if len(b)+len(p) < cw.c.minBuf {
		*cw.buf = append(b, p...)
		return len(p), nil
	}
	// Big enough to pay: decide, then send what was held and p.
	cw.decide(0, false)
	if err := cw.drain(); err != nil {
		return 0, err
	}
	return cw.Write(p)
}

func (cw *compressWriter) encode(p []byte) (int, error) {
	if cw.head {
		return len(p), nil
	}
	if cw.err != nil {
		return 0, cw.err
	}
	n, err := cw.enc.Write(p)
	cw.err = err
	return n, err
}

// drain sends the bytes held while undecided.
func (cw *compressWriter) drain() error {
	if cw.buf == nil || len(*cw.buf) == 0 {
		return nil
	}
	b := *cw.buf
	*cw.buf = b[:0]
	var err error
	if cw.state == encoding {
		_, err = cw.encode(b)
	} else {
		_, err = cw.ResponseWriter.Write(b)
	}
	return err
}

// ReadFrom keeps the kernel copy (sendfile, splice) of the writer
// underneath for a response that is not compressed; a compressed one is
// read through a pooled buffer into the encoder.
func (cw *compressWriter) ReadFrom(src io.Reader) (int64, error) {
	if cw.status == 0 {
		cw.WriteHeader(http.StatusOK)
	}
	var held int64
	if cw.state == undecided {
		if ok, _ := cw.eligible(cw.Header()); ok && cw.coding != httpsyntax.Identity && !cw.force {
			// Only the size is left to decide: read up to min_size, as
			// Write would hold it, so a small body stays identity.
			n, err := cw.hold(src)
			if err != nil || cw.state == undecided {
				return n, err // the end came first: finish decides
			}
			held = n
		} else {
			cw.decide(0, false) // identity either way, or forced
			if err := cw.drain(); err != nil {
				return 0, err
			}
		}
	}
	if cw.state == passing {
		n, err := readFromUnder(cw.ResponseWriter, src)
		return held + n, err
	}
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	n, err := io.CopyBuffer(encoderInput{cw}, src, *bp)
	return held + n, err
}

// hold reads src into the held-back buffer until it reaches min_size,
// then decides and sends it, or until src ends (still undecided).
func (cw *compressWriter) hold(src io.Reader) (int64, error) {
	if cw.buf == nil {
		cw.buf = cw.c.bufs.Get().(*[]byte)
	}
	var total int64
	for {
		b := *cw.buf
		if len(b) >= cw.c.minBuf {
			cw.decide(0, false)
			return total, cw.drain()
		}
		n, err := src.Read(b[len(b):cw.c.minBuf])
		*cw.buf = b[:len(b)+n]
		total += int64(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// encoderInput is the compressWriter's encoder as a plain io.Writer, so
// io.CopyBuffer neither recurses into ReadFrom nor skips the encoder.
type encoderInput struct{ cw *compressWriter }

func (e encoderInput) Write(p []byte) (int, error) { return e.cw.encode(p) }

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// FlushError sends everything so far: a stream (server-sent events, a
// chunked upstream) is compressed without being delayed.
func (cw *compressWriter) FlushError() error {
	if cw.status == 0 {
		cw.WriteHeader(http.StatusOK)
	}
	if cw.state == undecided {
		cw.decide(0, false)
		if err := cw.drain(); err != nil {
			return err
		}
	}
	if cw.enc != nil {
		if err := cw.enc.Flush(); err != nil {
			return err
		}
	}
	if f, ok := cw.ResponseWriter.(interface{ FlushError() error }); ok {
		return f.FlushError() // the common case, without an allocation
	}
	return http.NewResponseController(cw.ResponseWriter).Flush()
}

func (cw *compressWriter) Flush() { _ = cw.FlushError() }

// finish completes the response after the handler returned: a body held
// back is now known to be small (or empty), and an encoder writes its end.
func (cw *compressWriter) finish() {
	if cw.status == 0 {
		return // nothing written; the server sends its default
	}
	if cw.state == undecided {
		if cw.buf == nil && cw.head {
			// A HEAD handler that wrote no body: its length is as unknown
			// as a stream's, and decided the same way.
			cw.decide(0, false)
			return
		}
		n := 0
		if cw.buf != nil {
			n = len(*cw.buf)
			// Known now: say so, so the decision and the framing agree
			// (and a HEAD says what its GET would).
			cw.Header()["Content-Length"] = []string{strconv.Itoa(n)}
		}
		cw.decide(int64(n), true)
		_ = cw.drain()
	}
	if cw.enc != nil && cw.err == nil {
		_ = cw.enc.Close()
	}
}

func (cw *compressWriter) Unwrap() http.ResponseWriter { return cw.ResponseWriter }
