// Package httpsyntax holds the byte-level rules of HTTP/1.1 message syntax
// (RFC 9110 section 5, RFC 9112) that every parser and writer in Portico
// shares: which bytes make a token, which may appear in a field value, and
// a fast scan for the first byte that may not, and the Accept-Encoding
// list that the compressor and the static files both negotiate with. It
// owns nothing else: no parsing state, no framing, no I/O.
package httpsyntax

import (
	"encoding/binary"
	"math"
	"unsafe"
)

// tokenChar marks tchar: ALPHA, DIGIT and !#$%&'*+-.^_`|~.
var tokenChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// IsTokenChar reports whether b may appear in a token (a method or a
// field name).
func IsTokenChar(b byte) bool { return tokenChar[b] }

// ValidToken reports whether s is a non-empty token.
func ValidToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenChar[s[i]] {
			return false
		}
	}
	return true
}

// ValidFieldValue reports whether v holds no control byte other than
// HTAB (and no DEL), so it cannot split or smuggle a message.
func ValidFieldValue(v string) bool {
	return InvalidValueByte(unsafe.Slice(unsafe.StringData(v), len(v))) < 0
}

// InvalidValueByte returns the index of the first byte of p that may not
// appear in a field value (below 0x20 except HTAB, or 0x7f), or -1. It
// checks eight bytes at a time while none is suspicious.
func InvalidValueByte(p []byte) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	i := 0
	for {
		for i+8 <= len(p) {
			x := binary.LittleEndian.Uint64(p[i:])
			y := x ^ (lo * 0x7f)
			if ((x-lo*0x20)&^x|(y-lo)&^y)&hi != 0 {
				break
			}
			i += 8
		}
		end := min(i+8, len(p))
		for ; i < end; i++ {
			if c := p[i]; c < 0x20 && c != '\t' || c == 0x7f {
				return i
			}
		}
		if i == len(p) {
			return -1
		}
	}
}

// TrimOWS removes optional whitespace (SP and HTAB) at both ends.
func TrimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// EqualFoldASCII compares a and b ignoring ASCII case only: HTTP's
// case-insensitive tokens are ASCII, and strings.EqualFold would also
// fold Unicode (the Kelvin sign equals "k").
func EqualFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// ParseDigits reads 1*DIGIT (a Content-Length, a range bound) as an
// int64: no sign, no space, at most 19 digits, and no value that
// overflows.
func ParseDigits(s string) (int64, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}
