package cache

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// serveUnsafe forwards a request with an unsafe method and, when it
// succeeds, invalidates the target URI and the same-origin Location and
// Content-Location (RFC 9111 section 4.4).
func (rt *Route) serveUnsafe(w http.ResponseWriter, r *http.Request) {
	w.Header()["Cache-Status"] = statusMethod
	rt.c.counters.bypassed.Add(1)
	sw := &statusWriter{ResponseWriter: w}
	rt.next.ServeHTTP(sw, r)
	if sw.status < 200 || sw.status >= 400 {
		return
	}
	ctx := context.WithoutCancel(r.Context())
	u, _ := rt.keys(r)
	_, _ = rt.c.Purge(ctx, Purge{URL: u})
	for _, name := range []string{"Location", "Content-Location"} {
		if t := sameOrigin(r, w.Header().Get(name)); t != "" && t != u {
			_, _ = rt.c.Purge(ctx, Purge{URL: t})
		}
	}
}

// sameOrigin resolves ref against r and returns it in key form (host and
// URI) if it has r's host; an invalidation must not reach other sites.
func sameOrigin(r *http.Request, ref string) string {
	if ref == "" {
		return ""
	}
	u, err := url.Parse(ref)
	if err != nil {
		return ""
	}
	if u.Host != "" && !strings.EqualFold(u.Host, r.Host) {
		return ""
	}
	if !strings.HasPrefix(u.Path, "/") {
		base := *r.URL
		u = base.ResolveReference(u)
	}
	s := strings.ToLower(r.Host) + u.EscapedPath()
	if u.RawQuery != "" {
		s += "?" + u.RawQuery
	}
	return s
}

// servePurge handles the PURGE method: from an allowed network it removes
// the request's URL, or with a Cache-Tag or Surrogate-Key request header,
// that tag. On a route without purge, PURGE is just another method.
func (rt *Route) servePurge(w http.ResponseWriter, r *http.Request) {
	if !rt.purge {
		rt.serveUnsafe(w, r)
		return
	}
	if !rt.purgeAllowed(r.RemoteAddr) {
		http.Error(w, "purge not allowed", http.StatusForbidden)
		return
	}
	p := Purge{Tag: r.Header.Get("Cache-Tag")}
	if p.Tag == "" {
		p.Tag = r.Header.Get("Surrogate-Key")
	}
	if p.Tag == "" {
		p.URL, _ = rt.keys(r)
	}
	n, err := rt.c.Purge(context.WithoutCancel(r.Context()), p)
	w.Header().Set("Content-Type", "application/json")
	body := `{"removed":` + strconv.Itoa(n)
	if err != nil {
		body += `,"error":` + strconv.Quote(err.Error())
	}
	_, _ = io.WriteString(w, body+"}\n")
}

func (rt *Route) purgeAllowed(remote string) bool {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	for _, p := range rt.purgeAllow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// statusWriter remembers the status of a response it passes through.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) ReadFrom(src io.Reader) (int64, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	if rf, ok := s.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{s.ResponseWriter}, src)
}

func (s *statusWriter) FlushError() error {
	return http.NewResponseController(s.ResponseWriter).Flush()
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
