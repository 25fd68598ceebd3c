package middleware

import (
	"fmt"
	"io"
	"net/http"
	"sort"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/httpsyntax"
)

// headerOps is a compiled config.HeaderOps: canonical names, fixed order.
type headerOps struct {
	remove []string
	set    [][2]string
	add    [][2]string
}

func compileOps(o config.HeaderOps, where string) (headerOps, error) {
	var c headerOps
	for _, k := range o.Remove {
		c.remove = append(c.remove, http.CanonicalHeaderKey(k))
	}
	pairs := func(m map[string]string) ([][2]string, error) {
		var out [][2]string
		for k, v := range m {
			if !httpsyntax.ValidFieldValue(v) {
				return nil, fmt.Errorf("headers.%s: value of %s has a control character", where, k)
			}
			out = append(out, [2]string{http.CanonicalHeaderKey(k), v})
		}
		sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
		return out, nil
	}
	var err error
	if c.set, err = pairs(o.Set); err != nil {
		return c, err
	}
	if c.add, err = pairs(o.Add); err != nil {
		return c, err
	}
	return c, nil
}

func (o *headerOps) apply(h http.Header) {
	for _, k := range o.remove {
		delete(h, k)
	}
	for _, kv := range o.set {
		h[kv[0]] = []string{kv[1]}
	}
	for _, kv := range o.add {
		h[kv[0]] = append(h[kv[0]], kv[1])
	}
}

func (o *headerOps) empty() bool { return len(o.remove)+len(o.set)+len(o.add) == 0 }

// Headers edits request headers before next sees them and response
// headers just before they are sent, whoever writes the response. Use it
// to hide backend details such as Server or X-Powered-By.
func Headers(cfg *config.Headers, next http.Handler) (http.Handler, error) {
	req, err := compileOps(cfg.Request, "request")
	if err != nil {
		return nil, err
	}
	res, err := compileOps(cfg.Response, "response")
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !req.empty() {
			req.apply(r.Header)
		}
		if !res.empty() {
			w = &headerWriter{ResponseWriter: w, ops: &res}
		}
		next.ServeHTTP(w, r)
	}), nil
}

// headerWriter applies response edits once, at the moment the head is
// written.
type headerWriter struct {
	http.ResponseWriter
	ops  *headerOps
	done bool
}

func (w *headerWriter) WriteHeader(code int) {
	switch {
	case w.done:
	case finalHead(code):
		w.done = true
		w.ops.apply(w.ResponseWriter.Header())
	default:
		// An interim response (103 Early Hints) sends the header map
		// too: what the route removes must not leak through it.
		h := w.ResponseWriter.Header()
		for _, k := range w.ops.remove {
			delete(h, k)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *headerWriter) Write(b []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *headerWriter) ReadFrom(src io.Reader) (int64, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return readFromUnder(w.ResponseWriter, src)
}

func (w *headerWriter) Flush() {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *headerWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
