package static

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"

	"github.com/portico-proxy/portico/internal/httpsyntax"
)

// serveMultipart answers several ranges as multipart/byteranges (RFC 9110
// 14.6), with an exact Content-Length; each part's bytes go through
// sendBody, so they are sendfile too.
func serveMultipart(w http.ResponseWriter, r *http.Request, p *rep, ranges []httpsyntax.ByteRange) {
	ct, size := p.ct[0], p.size
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	boundary := hex.EncodeToString(rnd[:])
	heads := make([]string, len(ranges))
	total := int64(0)
	for i, br := range ranges {
		heads[i] = "\r\n--" + boundary + "\r\nContent-Type: " + ct + "\r\nContent-Range: " + contentRange(br, size) + "\r\n\r\n"
		total += int64(len(heads[i])) + br.Length
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
		p.src.send(w, br.Start, br.Length)
	}
	_, _ = io.WriteString(w, tail)
}
