package router

import (
	"net/http"
	"slices"
	"strings"
)

// kind says how a candidate's path is compared with the request path.
type kind uint8

const (
	kindExact   kind = iota // request path == path
	kindSegment             // path == request path, or path + "/" prefixes it ("/api")
	kindSlash               // path prefixes the request path; path ends in "/" ("/api/")
	kindRoot                // "/" as a prefix: every path
	kindImplied             // request path == path, the bare form of a kindSlash rule
)

// rank orders candidates of the same size: exact first, implied last.
func (k kind) rank() int {
	switch k {
	case kindExact:
		return 0
	case kindImplied:
		return 2
	default:
		return 1
	}
}

// class holds the candidates of one host class (one exact host, one
// wildcard suffix, or no host). A small class is a list in precedence order,
// scanned in full. A large one is indexed by candidate path: only a rule path
// that is the request path itself or ends at one of its segment boundaries
// ("/a/b/c" → "/a/b/", "/a/b", "/a/", "/a") can match, and trying those from
// the longest down visits the candidates in precedence order, whatever the
// size of the class.
type class struct {
	cands  []cand            // all candidates in precedence order; nil when indexed
	byPath map[string][]cand // candidate path → its candidates in precedence order, roots excepted
	roots  []cand            // with byPath: the "/" prefix candidates, tried last
	maxLen int               // with byPath: the longest key
}

// indexMin is the class size from which a few map lookups cost less than
// scanning every candidate.
const indexMin = 16

func newClass(cs []cand) *class {
	sortCands(cs)
	if len(cs) < indexMin {
		return &class{cands: cs}
	}
	c := &class{byPath: make(map[string][]cand)}
	for _, cd := range cs { // in precedence order, so each list is too
		if cd.kind == kindRoot {
			c.roots = append(c.roots, cd)
			continue
		}
		c.byPath[cd.path] = append(c.byPath[cd.path], cd)
		c.maxLen = max(c.maxLen, len(cd.path))
	}
	return c
}

// find returns the rule of the first candidate, in precedence order, whose
// path matches and whose filters admit the request; -1 if none.
func (c *class) find(t *Table, listener, path string, r *http.Request) int {
	if c.byPath == nil {
		return t.first(c.cands, listener, path, r)
	}
	n := len(path)
	if n <= c.maxLen {
		if i := t.first(c.byPath[path], listener, path, r); i >= 0 {
			return i
		}
	}
	// Segment boundaries from the right; k = 0 (the leading "/") is left to
	// the roots, as an exact "/" can only match the whole path "/".
	for k := min(n-1, c.maxLen); k > 0; k-- {
		if path[k] != '/' {
			continue
		}
		if k+1 < n && k+1 <= c.maxLen {
			if i := t.first(c.byPath[path[:k+1]], listener, path, r); i >= 0 {
				return i
			}
		}
		if i := t.first(c.byPath[path[:k]], listener, path, r); i >= 0 {
			return i
		}
	}
	return t.first(c.roots, listener, path, r)
}

// sortCands puts candidates in path precedence order: longest matching path
// first, then by kind (exact, prefix, implied), then file order.
func sortCands(cs []cand) {
	slices.SortFunc(cs, func(a, b cand) int {
		if a.size != b.size {
			return int(b.size) - int(a.size)
		}
		if ra, rb := a.kind.rank(), b.kind.rank(); ra != rb {
			return ra - rb
		}
		return int(a.rule) - int(b.rule)
	})
}

// cand is one way a rule's path can match, filed under one host class.
type cand struct {
	path string
	size int32 // precedence length: len(path), the bare length for kindImplied
	rule int32
	kind kind
}

// matches reports whether the request path p matches the candidate's path.
func (c *cand) matches(p string) bool {
	switch c.kind {
	case kindExact, kindImplied:
		return p == c.path
	case kindSegment:
		n := len(c.path)
		return len(p) >= n && p[:n] == c.path && (len(p) == n || p[n] == '/')
	case kindSlash:
		return strings.HasPrefix(p, c.path)
	default: // kindRoot
		return true
	}
}

// admits reports whether the request passes the rule's filters.
func (c *compiled) admits(listener string, r *http.Request) bool {
	if len(c.listeners) > 0 && !contains(c.listeners, listener) {
		return false
	}
	if len(c.methods) == 0 && len(c.headers) == 0 {
		return true
	}
	if r == nil {
		return false
	}
	if len(c.methods) > 0 && !contains(c.methods, r.Method) {
		return false
	}
	for _, h := range c.headers {
		if !contains(r.Header[h[0]], h[1]) {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// requestHost strips the port, IPv6 brackets and one trailing dot from a
// Host header value, without changing case: "[::1]:8080" → "::1",
// "Example.COM.:80" → "Example.COM". A bracketed host without its closing
// bracket is returned unchanged; a bare IPv6 address (two or more colons)
// keeps its colons.
func requestHost(h string) string {
	if len(h) > 0 && h[0] == '[' {
		if i := strings.IndexByte(h, ']'); i >= 0 {
			return h[1:i]
		}
		return h
	}
	if i := strings.IndexByte(h, ':'); i >= 0 && strings.IndexByte(h[i+1:], ':') < 0 {
		h = h[:i]
	}
	if n := len(h); n > 0 && h[n-1] == '.' {
		h = h[:n-1]
	}
	return h
}

// hostBufLen bounds the lowercased host kept on the stack. Rule hosts are at
// most 254 bytes, so a longer request host can match only a wildcard, by its
// tail.
const hostBufLen = 256

// hostKeyOf normalises a Host header value with requestHost and lowercases
// it into buf. It returns the key, a slice of buf, and the offset in the
// normalised host at which the key starts: 0 unless the host is too long for
// buf, in which case the key is its tail.
func hostKeyOf(buf *[hostBufLen]byte, host string) (key []byte, off int) {
	h := requestHost(host)
	off = max(len(h)-len(buf), 0)
	b := buf[:copy(buf[:], h[off:])]
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return b, off
}

// asciiLower lowercases ASCII letters only, as host comparison does.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + ('a' - 'A')
				}
			}
			return string(b)
		}
	}
	return s
}
