package httpsyntax

import (
	"strings"
	"time"
)

// MatchETags reports whether a field of entity tags ("*" or a list)
// matches etag: strong comparison needs both to be strong, weak ignores
// the W/ prefix. An unquoted element (a tag some origins send without
// quotes) matches only an identical stored tag, and only weakly; an
// unterminated quote ends the list.
func MatchETags(lines []string, etag string, strong bool) bool {
	etagWeak := strings.HasPrefix(etag, "W/")
	opaque := strings.TrimPrefix(etag, "W/")
	for _, line := range lines {
		for {
			line = TrimOWS(line)
			for len(line) > 0 && line[0] == ',' {
				line = TrimOWS(line[1:])
			}
			if line == "" {
				break
			}
			if line[0] == '*' {
				return true
			}
			weak := false
			if len(line) > 2 && line[0] == 'W' && line[1] == '/' {
				weak, line = true, line[2:]
			}
			if line[0] != '"' {
				elem, rest, _ := strings.Cut(line, ",")
				line = rest
				if !strong && TrimOWS(elem) == opaque {
					return true
				}
				continue
			}
			end := 1
			for end < len(line) && line[end] != '"' {
				end++
			}
			if end == len(line) {
				return false
			}
			tag := line[:end+1]
			line = line[end+1:]
			if tag == opaque && !(strong && (weak || etagWeak)) {
				return true
			}
		}
	}
	return false
}

// IfRangeHolds reports whether a Range may be honoured under an If-Range
// field (RFC 9110 13.1.5): no field, or one naming the representation by
// its strong entity tag or by its exact Last-Modified date. A weak tag
// never validates a range. A zero lastModified means the representation
// has none.
func IfRangeHolds(ifRange, etag string, lastModified time.Time) bool {
	v := TrimOWS(ifRange)
	switch {
	case v == "":
		return true
	case v[0] == '"':
		return etag != "" && !strings.HasPrefix(etag, "W/") && v == etag
	case strings.HasPrefix(v, "W/"):
		return false
	}
	t, ok := ParseDate(v)
	return ok && !lastModified.IsZero() && t.Equal(lastModified)
}
