package cache

import (
	"net/http"
	"strings"
)

// Directive flags of Cache-Control (RFC 9111 section 5.2), request and
// response side in one set: a directive that does not apply to one side is
// simply never consulted there.
const (
	ccNoStore uint32 = 1 << iota
	ccNoCache
	ccPrivate
	ccPublic
	ccMustRevalidate
	ccProxyRevalidate
	ccOnlyIfCached
	ccMaxStaleAny // max-stale without a value: any staleness
	ccNoCacheFields
	ccPrivateFields
)

// unset marks a delta-seconds directive that was not present.
const unset = -1

// maxDelta is the saturation value of RFC 9111 section 1.2.2: a larger
// delta-seconds is taken as 2^31.
const maxDelta = 1 << 31

// directives is one message's Cache-Control, parsed once. Numbers are
// seconds; unset (-1) means absent. The first occurrence of a repeated
// directive wins (RFC 9111 section 4.2.1).
type directives struct {
	flags    uint32
	maxAge   int64
	sMaxAge  int64
	maxStale int64
	minFresh int64
	swr      int64 // stale-while-revalidate
	sie      int64 // stale-if-error
	// fields named by no-cache="..." and private="...", lowercased.
	noCacheFields []string
	privateFields []string
}

func (d *directives) has(f uint32) bool { return d.flags&f != 0 }

// parseCacheControl reads every Cache-Control field line of h as one list
// (RFC 9110 section 5.3). Unknown directives are ignored, as the RFC asks.
func parseCacheControl(h http.Header) directives {
	d := directives{maxAge: unset, sMaxAge: unset, maxStale: unset, minFresh: unset, swr: unset, sie: unset}
	for _, line := range h["Cache-Control"] {
		for line != "" {
			var name, val string
			var quoted bool
			name, val, quoted, line = nextDirective(line)
			d.apply(name, val, quoted)
		}
	}
	return d
}

// nextDirective splits off the first directive of a comma separated list.
// Commas inside a quoted string do not split.
func nextDirective(s string) (name, val string, quoted bool, rest string) {
	s = strings.TrimLeft(s, " \t,")
	i := 0
	for i < len(s) && s[i] != '=' && s[i] != ',' {
		i++
	}
	name = strings.ToLower(strings.TrimSpace(s[:i]))
	if i == len(s) || s[i] == ',' {
		return name, "", false, s[i:]
	}
	// RFC 9111 section 5.2 allows no whitespace around "=": "max-age =1"
	// and "max-age= 1" are not max-age, and are ignored whole.
	if i > 0 && (s[i-1] == ' ' || s[i-1] == '\t') || i+1 < len(s) && (s[i+1] == ' ' || s[i+1] == '\t') {
		name = ""
	}
	s = strings.TrimLeft(s[i+1:], " \t")
	if strings.HasPrefix(s, `"`) {
		var b strings.Builder
		j := 1
		for ; j < len(s) && s[j] != '"'; j++ {
			if s[j] == '\\' && j+1 < len(s) {
				j++
			}
			b.WriteByte(s[j])
		}
		rest = ""
		if j < len(s) {
			rest = s[j+1:]
		}
		if k := strings.IndexByte(rest, ','); k >= 0 {
			rest = rest[k:]
		} else {
			rest = ""
		}
		return name, b.String(), true, rest
	}
	j := strings.IndexByte(s, ',')
	if j < 0 {
		j = len(s)
	}
	return name, strings.TrimSpace(s[:j]), false, s[j:]
}

func (d *directives) apply(name, val string, quoted bool) {
	switch name {
	case "no-store":
		d.flags |= ccNoStore
	case "no-cache":
		if val != "" || quoted {
			// A qualified no-cache forbids reusing only the named fields:
			// the response is stored without them (RFC 9111 5.2.2.4).
			d.flags |= ccNoCacheFields
			d.noCacheFields = append(d.noCacheFields, fieldList(val)...)
			return
		}
		d.flags |= ccNoCache
	case "private":
		if val != "" || quoted {
			d.flags |= ccPrivateFields
			d.privateFields = append(d.privateFields, fieldList(val)...)
			return
		}
		d.flags |= ccPrivate
	case "public":
		d.flags |= ccPublic
	case "must-revalidate":
		d.flags |= ccMustRevalidate
	case "proxy-revalidate":
		d.flags |= ccProxyRevalidate
	case "only-if-cached":
		d.flags |= ccOnlyIfCached
	case "max-age":
		setDelta(&d.maxAge, val)
	case "s-maxage":
		setDelta(&d.sMaxAge, val)
	case "min-fresh":
		setDelta(&d.minFresh, val)
	case "stale-while-revalidate":
		setDelta(&d.swr, val)
	case "stale-if-error":
		setDelta(&d.sie, val)
	case "max-stale":
		if val == "" {
			d.flags |= ccMaxStaleAny
			return
		}
		setDelta(&d.maxStale, val)
	}
}

// setDelta stores a delta-seconds value unless one was seen already. A
// value that is not a number counts as 0: the message is then stale, the
// safe reading of RFC 9111 section 4.2.1.
func setDelta(dst *int64, val string) {
	if *dst != unset {
		return
	}
	*dst = parseDelta(val)
}

// parseDelta parses delta-seconds (RFC 9111 section 1.2.2), saturating at
// 2^31. Anything but digits gives 0.
func parseDelta(s string) int64 {
	if s == "" {
		return 0
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0
		}
		if n < maxDelta {
			n = n*10 + int64(c-'0')
		}
	}
	return min(n, maxDelta)
}

// fieldList splits a quoted list of field names, lowercased.
func fieldList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, strings.ToLower(f))
		}
	}
	return out
}
