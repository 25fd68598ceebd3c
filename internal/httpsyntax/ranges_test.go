package httpsyntax

import "testing"

// FuzzParseRange: accepted ranges lie inside the file and never add up
// to more than it.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-9", "bytes=-5", "bytes=10-", "bytes=0-0,-1", "bytes=5-2", "items=1-2", "bytes=,,1-1"} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			size = -size
		}
		if size < 0 {
			return // math.MinInt64
		}
		rs, ok := ParseRange(h, size)
		if !ok {
			return
		}
		var total int64
		for _, r := range rs {
			if r.Start < 0 || r.Length <= 0 || r.Start+r.Length > size {
				t.Fatalf("%q size %d: range %+v outside the file", h, size, r)
			}
			total += r.Length
		}
		if total > size || len(rs) > MaxRanges {
			t.Fatalf("%q size %d: %d ranges totalling %d", h, size, len(rs), total)
		}
	})
}
