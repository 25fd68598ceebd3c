package middleware

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// recorder remembers the status and size of a response for the access
// log. It keeps the fast paths of the writer it wraps: ReadFrom (so
// sendfile/splice still happen), Flush and Hijack through Unwrap.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

// finalHead reports whether code is the head a response's interim
// answers (100 Continue, 103 Early Hints) lead up to: 2xx to 5xx, or 101,
// after which the connection is a tunnel. Every wrapper that edits or
// records the head judges it so.
func finalHead(code int) bool { return code >= 200 || code == http.StatusSwitchingProtocols }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && finalHead(code) {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := readFromUnder(r.ResponseWriter, src)
	r.bytes += n
	return n, err
}

// readFromUnder hands src to w's own ReadFrom when it has one, so that a
// wrapper keeps sendfile/splice for the writer underneath.
func readFromUnder(w http.ResponseWriter, src io.Reader) (int64, error) {
	if rf, ok := w.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{w}, src)
}

func (r *recorder) Flush() {
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err == nil {
		r.status = http.StatusSwitchingProtocols
	}
	return c, brw, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// writerOnly hides a ReadFrom method so io.Copy cannot recurse into it.
type writerOnly struct{ io.Writer }
