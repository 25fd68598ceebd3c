package upstream

import (
	"fmt"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// hashKey says what of a request balance "hash" hashes.
type hashKey struct {
	kind byte   // 'i' client IP, 'h' header, 'c' cookie, 'u' URI
	name string // header (canonical) or cookie name
}

// parseHashKey reads hash_key: ip, header:NAME, cookie:NAME or uri.
func parseHashKey(s string) (hashKey, error) {
	switch {
	case s == "" || s == "ip":
		return hashKey{kind: 'i'}, nil
	case s == "uri":
		return hashKey{kind: 'u'}, nil
	case strings.HasPrefix(s, "header:") && len(s) > len("header:"):
		return hashKey{kind: 'h', name: textproto.CanonicalMIMEHeaderKey(s[len("header:"):])}, nil
	case strings.HasPrefix(s, "cookie:") && len(s) > len("cookie:"):
		return hashKey{kind: 'c', name: s[len("cookie:"):]}, nil
	}
	return hashKey{}, fmt.Errorf("hash_key: %q is not ip, header:NAME, cookie:NAME or uri", s)
}

// keyFor fills in the request's key for the hash and sticky policies. A
// missing header or cookie falls back to the client's IP, so such
// clients still spread instead of piling onto one backend.
func (p *Pool) keyFor(r *http.Request, in *Input) {
	switch p.balance {
	case PolicyHash:
		in.Key, in.HasKey = hashString(p.keyText(r)), true
	case PolicySticky:
		if v, ok := cookieValue(r.Header["Cookie"], p.cookieName); ok {
			if id, err := strconv.ParseUint(v, 16, 64); err == nil {
				in.Key, in.HasKey = id, true
			}
		}
	}
}

func (p *Pool) keyText(r *http.Request) string {
	switch p.hashKey.kind {
	case 'h':
		if v := r.Header[p.hashKey.name]; len(v) > 0 {
			return v[0]
		}
	case 'c':
		if v, ok := cookieValue(r.Header["Cookie"], p.hashKey.name); ok {
			return v
		}
	case 'u':
		if r.RequestURI != "" {
			return r.RequestURI
		}
		return r.URL.Path
	}
	return hostOf(r.RemoteAddr)
}

// cookieValue finds cookie name in Cookie header values without
// allocating (http.Request.Cookie parses them all). Quotes around the
// value are removed.
func cookieValue(headers []string, name string) (string, bool) {
	for _, h := range headers {
		for h != "" {
			var part string
			part, h, _ = strings.Cut(h, ";")
			part = strings.TrimSpace(part)
			k, v, ok := strings.Cut(part, "=")
			if !ok || k != name {
				continue
			}
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v, true
		}
	}
	return "", false
}

// stickyCookie is the Set-Cookie value that binds a client to b.
func (p *Pool) stickyCookie(b *Backend) string {
	return p.cookieName + "=" + b.cookie + "; Path=/; HttpOnly; SameSite=Lax"
}
