package static

import (
	"io"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/portico-proxy/portico/internal/httpsyntax"
)

// rep is one representation to answer with: its metadata, ready to be
// put in the header, and where its bytes come from.
type rep struct {
	ct     []string
	etag   string
	etagV  []string
	lm     time.Time
	lmV    []string
	size   int64
	sizeV  []string // Content-Length of the whole body
	coding httpsyntax.Coding
	src    source
}

// source sends bytes of a representation's body.
type source interface {
	send(w http.ResponseWriter, start, n int64)
}

// fileSource sends from an open file through the writer's ReadFrom
// (sendfile on plain HTTP/1.1, which reads from the file's offset).
type fileSource struct {
	f   statted
	pos int64 // the file's offset: a fresh file is at 0, so needs no seek
}

func (s *fileSource) send(w http.ResponseWriter, start, n int64) {
	if start != s.pos {
		if _, err := s.f.Seek(start, io.SeekStart); err != nil {
			return
		}
	}
	s.pos = start + n
	sendBody(w, &io.LimitedReader{R: s.f, N: n})
}

// memSource sends from memory (a cached small file).
type memSource []byte

func (s memSource) send(w http.ResponseWriter, start, n int64) {
	_, _ = w.Write(s[start : start+n])
}

func fileRep(f *os.File, fi fs.FileInfo, ct []string, coding httpsyntax.Coding) *rep {
	etag := makeETag(fi, coding)
	lm := modTime(fi)
	return &rep{
		ct: ct, etag: etag, etagV: []string{etag}, lm: lm,
		lmV:  []string{lm.UTC().Format(http.TimeFormat)},
		size: fi.Size(), sizeV: []string{strconv.FormatInt(fi.Size(), 10)},
		coding: coding, src: &fileSource{f: statted{f, fi}},
	}
}

// serveFile answers with f (or a precompressed sidecar of it), keeping a
// small file in the cache for the next requests.
func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, f *os.File, fi fs.FileInfo, rel string, or *openRoot) {
	ct := contentType(rel)
	if h.precomp && compressible(ct[0]) {
		if p, sf := h.sidecar(r, or, rel, ct); p != nil {
			// Closed after the answer: a sidecar too large for memory is
			// sent from sf.
			defer closeFile(sf)
			h.respond(w, r, p)
			return
		}
	}
	if or != nil && fi.Size() <= maxCachedFile {
		var e *cacheEntry
		if e, fi = or.cache.fillStable(rel, f, fi, ct, httpsyntax.Identity, h.now()); e != nil {
			h.respond(w, r, &e.rep)
			return
		}
	}
	h.respond(w, r, fileRep(f, fi, ct, httpsyntax.Identity))
}

// respond answers with a representation: validators, conditionals,
// ranges, then the body.
func (h *Handler) respond(w http.ResponseWriter, r *http.Request, p *rep) {
	hd := w.Header()
	if h.precomp && compressible(p.ct[0]) {
		addVary(hd)
	}
	if p.coding != httpsyntax.Identity {
		hd["Content-Encoding"] = sidecars[sidecarIndex(p.coding)].enc
	}
	hd["Content-Type"] = p.ct
	hd["Accept-Ranges"] = acceptRanges
	hd["Etag"] = p.etagV
	hd["Last-Modified"] = p.lmV
	if cc := h.cacheControl(r.URL.Path); cc != nil {
		hd["Cache-Control"] = cc
	}
	switch evalConditions(r, p.etag, p.lm) {
	case condFailed:
		delete(hd, "Content-Type")
		delete(hd, "Content-Encoding")
		writeStatus(w, http.StatusPreconditionFailed)
		return
	case condNotModified:
		// Content-Type stays for the middleware (compress weakens the ETag
		// of a type it would have compressed); the engine does not send it.
		delete(hd, "Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if rh := r.Header["Range"]; len(rh) == 1 && httpsyntax.IfRangeHolds(r.Header.Get("If-Range"), p.etag, p.lm) {
		ranges, ok := httpsyntax.ParseRange(rh[0], p.size)
		switch {
		case ok && len(ranges) == 0:
			delete(hd, "Content-Type")
			delete(hd, "Content-Encoding")
			hd["Content-Range"] = []string{"bytes */" + strconv.FormatInt(p.size, 10)}
			writeStatus(w, http.StatusRequestedRangeNotSatisfiable)
			return
		case ok && len(ranges) == 1:
			serveRange(w, r, p, ranges[0])
			return
		case ok:
			serveMultipart(w, r, p, ranges)
			return
		}
	}
	hd["Content-Length"] = p.sizeV
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		p.src.send(w, 0, p.size)
	}
}

// statted is an open file whose Stat answers from the FileInfo already
// read: the engine checks for a regular file before it uses sendfile,
// and that check then costs no second fstat. Sending it inside an
// io.LimitedReader of the file's size also tells the engine where the
// body ends, so it does not read once more to look for extra bytes.
type statted struct {
	*os.File
	fi fs.FileInfo
}

func (s statted) Stat() (fs.FileInfo, error) { return s.fi, nil }

func sidecarIndex(c httpsyntax.Coding) int {
	for i, s := range sidecars {
		if s.coding == c {
			return i
		}
	}
	return 0
}

// addVary adds Accept-Encoding to Vary: the answer depends on it.
func addVary(hd http.Header) {
	v := hd["Vary"]
	if len(v) == 0 {
		hd["Vary"] = varyAE
		return
	}
	for _, x := range v {
		if x == "Accept-Encoding" {
			return
		}
	}
	hd["Vary"] = append(v[:len(v):len(v)], "Accept-Encoding")
}

// sidecar finds the precompressed file the client weighs highest, if
// one exists: FILE.zst, FILE.br or FILE.gz. Small sidecars come from the
// memory cache, and so does the knowledge that one is missing, so a site
// with few sidecars pays no failed open per request. The returned file,
// if any, is the caller's to close.
func (h *Handler) sidecar(r *http.Request, or *openRoot, rel string, ct []string) (*rep, *os.File) {
	ae := r.Header["Accept-Encoding"]
	if len(ae) == 0 {
		return nil, nil
	}
	a := httpsyntax.ParseAcceptEncoding(ae)
	// At most three candidates: try them by weight, the sidecar order on
	// a tie.
	var tried [3]bool // one per sidecar
	for range sidecars {
		best, bestQ := -1, 0
		for i, s := range sidecars {
			if q := a.Q(s.coding); !tried[i] && q > bestQ {
				best, bestQ = i, q
			}
		}
		if best < 0 {
			break
		}
		tried[best] = true
		// One allocation for both: the key is the name and a NUL (see
		// sidecarKey).
		key := rel + sidecars[best].ext + "\x00"
		if p, f := h.openSidecar(or, key, ct, sidecars[best].coding); p != nil {
			return p, f
		}
	}
	return nil, nil
}

func (h *Handler) openSidecar(or *openRoot, key string, ct []string, c httpsyntax.Coding) (*rep, *os.File) {
	name := key[:len(key)-1]
	if or != nil {
		if e := or.cache.get(key, name, or.dir, h.now()); e != nil {
			if e.missing {
				return nil, nil
			}
			return &e.rep, nil
		}
	}
	f, fi, err := h.openStat(or, name)
	switch {
	case err != nil:
		if or != nil && notFound(err) {
			or.cache.fillMissing(key, h.now())
		}
		return nil, nil
	case !fi.Mode().IsRegular():
		f.Close()
		return nil, nil
	case or != nil && fi.Size() <= maxCachedFile:
		var e *cacheEntry
		if e, fi = or.cache.fillStable(key, f, fi, ct, c, h.now()); e != nil {
			f.Close()
			return &e.rep, nil
		}
	}
	return fileRep(f, fi, ct, c), f
}

// makeETag is a strong validator from the modification time and size,
// with the coding for a sidecar so each representation has its own.
func makeETag(fi fs.FileInfo, c httpsyntax.Coding) string {
	var b [64]byte
	e := append(b[:0], '"')
	e = strconv.AppendInt(e, fi.ModTime().UnixNano(), 16)
	e = append(e, '-')
	e = strconv.AppendInt(e, fi.Size(), 16)
	if c != httpsyntax.Identity {
		e = append(e, '-')
		e = append(e, c.Token()...)
	}
	e = append(e, '"')
	return string(e)
}

func (h *Handler) cacheControl(urlPath string) []string {
	for i := range h.rules {
		r := &h.rules[i]
		switch {
		case r.prefix != "":
			if hasPathPrefix(urlPath, r.prefix) {
				return r.value
			}
		case r.suffix != "":
			if len(urlPath) >= len(r.suffix) && urlPath[len(urlPath)-len(r.suffix):] == r.suffix {
				return r.value
			}
		default:
			return r.value
		}
	}
	return nil
}

func hasPathPrefix(p, prefix string) bool {
	if len(p) < len(prefix) || p[:len(prefix)] != prefix {
		return false
	}
	return prefix[len(prefix)-1] == '/' || len(p) == len(prefix) || p[len(prefix)] == '/'
}

func serveRange(w http.ResponseWriter, r *http.Request, p *rep, br httpsyntax.ByteRange) {
	hd := w.Header()
	hd["Content-Range"] = []string{contentRange(br, p.size)}
	hd["Content-Length"] = []string{strconv.FormatInt(br.Length, 10)}
	w.WriteHeader(http.StatusPartialContent)
	if r.Method != http.MethodHead {
		p.src.send(w, br.Start, br.Length)
	}
}

func contentRange(br httpsyntax.ByteRange, size int64) string {
	var b [64]byte
	e := append(b[:0], "bytes "...)
	e = strconv.AppendInt(e, br.Start, 10)
	e = append(e, '-')
	e = strconv.AppendInt(e, br.Start+br.Length-1, 10)
	e = append(e, '/')
	e = strconv.AppendInt(e, size, 10)
	return string(e)
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// sendBody writes src through the writer's ReadFrom when it has one: on
// Portico's HTTP/1.1 engine over plain TCP that is sendfile. A write error
// means the client went away; the response cannot be repaired then.
func sendBody(w http.ResponseWriter, src io.Reader) {
	if rf, ok := w.(io.ReaderFrom); ok {
		_, _ = rf.ReadFrom(src)
		return
	}
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// condition is the outcome of the request's preconditions.
type condition uint8

const (
	condNone condition = iota
	condNotModified
	condFailed
)

// evalConditions applies RFC 9110 13.2.2 in its order: If-Match, else
// If-Unmodified-Since; then If-None-Match, else If-Modified-Since.
func evalConditions(r *http.Request, etag string, lm time.Time) condition {
	if im := r.Header["If-Match"]; len(im) > 0 {
		if !httpsyntax.MatchETags(im, etag, true) {
			return condFailed
		}
	} else if ius := r.Header["If-Unmodified-Since"]; len(ius) > 0 {
		if t, ok := httpsyntax.ParseDate(ius[0]); ok && lm.After(t) {
			return condFailed
		}
	}
	if inm := r.Header["If-None-Match"]; len(inm) > 0 {
		if httpsyntax.MatchETags(inm, etag, false) {
			return condNotModified
		}
	} else if ims := r.Header["If-Modified-Since"]; len(ims) > 0 {
		if t, ok := httpsyntax.ParseDate(ims[0]); ok && !lm.After(t) {
			return condNotModified
		}
	}
	return condNone
}
