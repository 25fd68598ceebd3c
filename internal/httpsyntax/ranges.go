package httpsyntax

import "strings"

// ByteRange is one satisfiable range, clipped to the representation.
type ByteRange struct{ Start, Length int64 }

// MaxRanges bounds a multipart answer. Browsers ask for one range; many
// small or overlapping ranges are a way to make a server work hard, so
// such a request gets the whole representation instead.
const MaxRanges = 16

// parseRange reads a Range field (RFC 9110 14.1.2) for a file of size
// bytes. ok false means the field is to be ignored (not bytes, malformed,
// too many ranges, an empty file): the whole file is sent. ok true with
// no ranges means none is satisfiable: 416.
func ParseRange(h string, size int64) (ranges []ByteRange, ok bool) {
	h = TrimOWS(h)
	if len(h) < 6 || !strings.EqualFold(h[:6], "bytes=") || size == 0 {
		return nil, false
	}
	var total int64
	count := 0
	for spec := range strings.SplitSeq(h[6:], ",") {
		spec = TrimOWS(spec)
		if spec == "" {
			continue // empty list elements are allowed
		}
		if count++; count > MaxRanges {
			return nil, false
		}
		first, last, found := strings.Cut(spec, "-")
		if !found {
			return nil, false
		}
		var br ByteRange
		if first == "" { // suffix: the last N bytes
			n, good := ParseDigits(last)
			if !good {
				return nil, false
			}
			if n == 0 {
				continue // unsatisfiable
			}
			n = min(n, size)
			br = ByteRange{Start: size - n, Length: n}
		} else {
			a, good := ParseDigits(first)
			if !good {
				return nil, false
			}
			end := size - 1
			if last != "" {
				b, good := ParseDigits(last)
				if !good || b < a {
					return nil, false
				}
				end = min(b, size-1)
			}
			if a >= size {
				continue // unsatisfiable
			}
			br = ByteRange{Start: a, Length: end - a + 1}
		}
		total += br.Length
		ranges = append(ranges, br)
	}
	if count == 0 {
		return nil, false
	}
	if total > size {
		return nil, false // overlapping ranges would send more than the file
	}
	return ranges, true
}
