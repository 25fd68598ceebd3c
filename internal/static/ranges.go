package static

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/portico-proxy/portico/internal/httpsyntax"
)

// byteRange is one satisfiable range, clipped to the file.
type byteRange struct{ start, length int64 }

// maxRanges bounds a multipart answer. Browsers ask for one range; many
// small or overlapping ranges are a way to make a server work hard, so
// such a request gets the whole file instead.
const maxRanges = 16

// parseRange reads a Range field (RFC 9110 14.1.2) for a file of size
// bytes. ok false means the field is to be ignored (not bytes, malformed,
// too many ranges, an empty file): the whole file is sent. ok true with
// no ranges means none is satisfiable: 416.
func parseRange(h string, size int64) (ranges []byteRange, ok bool) {
	h = httpsyntax.TrimOWS(h)
	if len(h) < 6 || !strings.EqualFold(h[:6], "bytes=") || size == 0 {
		return nil, false
	}
	var total int64
	count := 0
	for spec := range strings.SplitSeq(h[6:], ",") {
		spec = httpsyntax.TrimOWS(spec)
		if spec == "" {
			continue // empty list elements are allowed
		}
		if count++; count > maxRanges {
			return nil, false
		}
		first, last, found := strings.Cut(spec, "-")
		if !found {
			return nil, false
		}
		var br byteRange
		if first == "" { // suffix: the last N bytes
			n, good := parseDigits(last)
			if !good {
				return nil, false
			}
			if n == 0 {
				continue // unsatisfiable
			}
			n = min(n, size)
			br = byteRange{start: size - n, length: n}
		} else {
			a, good := parseDigits(first)
			if !good {
				return nil, false
			}
			end := size - 1
			if last != "" {
				b, good := parseDigits(last)
				if !good || b < a {
					return nil, false
				}
				end = min(b, size-1)
			}
			if a >= size {
				continue // unsatisfiable
			}
			br = byteRange{start: a, length: end - a + 1}
		}
		total += br.length
		ranges = append(ranges, br)
	}
	if count == 0 {
		return nil, false
	}
	if total > size {
		return nil, false // overlapping ranges would send more than the file
	}
	return ranges, true
}

// parseDigits reads 1*DIGIT, refusing values that overflow int64.
func parseDigits(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// serveMultipart answers several ranges as multipart/byteranges (RFC 9110
// 14.6), with an exact Content-Length; each part's bytes go through
// sendBody, so they are sendfile too.
func serveMultipart(w http.ResponseWriter, r *http.Request, p *rep, ranges []byteRange) {
	ct, size := p.ct[0], p.size
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	boundary := hex.EncodeToString(rnd[:])
	heads := make([]string, len(ranges))
	total := int64(0)
	for i, br := range ranges {
		heads[i] = "\r\n--" + boundary + "\r\nContent-Type: " + ct + "\r\nContent-Range: " + contentRange(br, size) + "\r\n\r\n"
		total += int64(len(heads[i])) + br.length
	}
	tail := "\r\n--" + boundary + "--\r\n"
	total += int64(len(tail))
	hd := w.Header()
	hd["Content-Type"] = []string{"multipart/byteranges; boundary=" + boundary}
	hd["Content-Length"] = []string{strconv.FormatInt(total, 10)}
	w.WriteHeader(http.StatusPartialContent)
	if r.Method == http.MethodHead {
		return
	}
	for i, br := range ranges {
		if _, err := io.WriteString(w, heads[i]); err != nil {
			return
		}
		p.src.send(w, br.start, br.length)
	}
	_, _ = io.WriteString(w, tail)
}
