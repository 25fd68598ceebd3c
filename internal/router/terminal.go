package router

import (
	"net/http"
	"strings"

	"github.com/portico-proxy/portico/internal/config"
)

// redirect answers with a Location built from a template. Placeholders
// {uri}, {path} and {host} are resolved per request; the template is split
// once at build time.
type redirect struct {
	parts  []string // literal, placeholder, literal, ...
	status int
}

func newRedirect(c *config.Redirect) *redirect {
	rd := &redirect{status: c.Status}
	s := c.To
	for {
		i := strings.IndexByte(s, '{')
		j := strings.IndexByte(s[max(i, 0):], '}')
		if i < 0 || j < 0 {
			break
		}
		name := s[i : i+j+1]
		if name != "{uri}" && name != "{path}" && name != "{host}" {
			rd.parts = append(rd.parts, s[:i+j+1], "")
			s = s[i+j+1:]
			continue
		}
		rd.parts = append(rd.parts, s[:i], name)
		s = s[i+j+1:]
	}
	rd.parts = append(rd.parts, s)
	return rd
}

func (rd *redirect) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	for i, p := range rd.parts {
		if i%2 == 0 {
			b.WriteString(p)
			continue
		}
		switch p {
		case "{uri}":
			b.WriteString(r.URL.RequestURI())
		case "{path}":
			b.WriteString(r.URL.EscapedPath())
		case "{host}":
			b.WriteString(hostWithoutPort(r.Host))
		}
	}
	w.Header().Set("Location", b.String())
	w.WriteHeader(rd.status)
}

// hostWithoutPort drops a port, so "https://{host}{uri}" sent from a
// listener on :8080 does not point at port 8080 over TLS.
func hostWithoutPort(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		return h[:i]
	}
	return h
}

// respond answers with a fixed status, headers and body.
type respond struct {
	status  int
	headers http.Header
	body    []byte
}

func newRespond(c *config.Respond) *respond {
	rs := &respond{status: c.Status, headers: http.Header{}, body: []byte(c.Body)}
	for k, v := range c.Headers {
		rs.headers.Set(k, v)
	}
	if rs.headers.Get("Content-Type") == "" && len(rs.body) > 0 {
		rs.headers.Set("Content-Type", "text/plain; charset=utf-8")
	}
	return rs
}

func (rs *respond) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	for k, v := range rs.headers {
		h[k] = v
	}
	w.WriteHeader(rs.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(rs.body)
	}
}
