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
			e, rest, ok := nextETag(line)
			if !ok {
				if e.broken {
					return false
				}
				break
			}
			line = rest
			switch {
			case e.star:
				return true
			case !e.quoted:
				if !strong && e.tag == opaque {
					return true
				}
			case e.tag == opaque && !(strong && (e.weak || etagWeak)):
				return true
			}
		}
	}
	return false
}

// ListsETag reports whether a field of entity tags lists etag exactly,
// W/ prefix included: W/"x" lists W/"x" but not "x". Compression uses it
// to tell which variant a client holds.
func ListsETag(lines []string, etag string) bool {
	weak := strings.HasPrefix(etag, "W/")
	opaque := strings.TrimPrefix(etag, "W/")
	for _, line := range lines {
		for {
			e, rest, ok := nextETag(line)
			if !ok {
				break
			}
			line = rest
			if e.quoted && e.weak == weak && e.tag == opaque {
				return true
			}
		}
	}
	return false
}

// listedETag is one element of an entity-tag list.
type listedETag struct {
	tag    string // the opaque tag with its quotes, or an unquoted element
	weak   bool   // it had the W/ prefix
	quoted bool
	star   bool // "*"
	broken bool // an unterminated quote (ok is false)
}

// nextETag cuts the first element off line; ok is false at the end of the
// list and at an unterminated quote, which ends it.
func nextETag(line string) (e listedETag, rest string, ok bool) {
	line = TrimOWS(line)
	for len(line) > 0 && line[0] == ',' {
		line = TrimOWS(line[1:])
	}
	if line == "" {
		return e, "", false
	}
	if line[0] == '*' {
		e.star = true
		return e, line[1:], true
	}
	if len(line) > 2 && line[0] == 'W' && line[1] == '/' {
		e.weak, line = true, line[2:]
	}
	if line[0] != '"' {
		elem, rest, _ := strings.Cut(line, ",")
		e.tag = TrimOWS(elem)
		return e, rest, true
	}
	end := 1
	for end < len(line) && line[end] != '"' {
		end++
	}
	if end == len(line) {
		e.broken = true
		return e, "", false
	}
	e.tag, e.quoted = line[:end+1], true
	return e, line[end+1:], true
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
