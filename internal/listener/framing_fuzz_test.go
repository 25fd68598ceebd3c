package listener

import "testing"

// FuzzFramingGuard: no input makes the guard panic, and the verdict (the
// reject reason, or acceptance) does not depend on how the input is split
// into reads.
func FuzzFramingGuard(f *testing.F) {
	for _, tc := range framingCases {
		f.Add([]byte(tc.input), uint16(len(tc.input)/2))
	}
	f.Add(benchGet, uint16(100))
	f.Add(benchChunked, uint16(150))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		g, delivered, whole := runGuard(data)
		if whole == "" && delivered != len(data) {
			t.Fatalf("accepted but delivered %d of %d bytes", delivered, len(data))
		}
		if whole != "" && int64(delivered) > g.failAt {
			t.Fatalf("delivered %d bytes, past the violation at %d", delivered, g.failAt)
		}
		at := 0
		if len(data) > 0 {
			at = int(cut) % (len(data) + 1)
		}
		if _, _, split := runGuard(data, at); split != whole {
			t.Fatalf("cut at %d: got %q, want %q", at, split, whole)
		}
		if _, _, split := runGuard(data, at/2, at); split != whole {
			t.Fatalf("cuts at %d,%d: got %q, want %q", at/2, at, split, whole)
		}
		if _, bytewise := runGuardBytewise(data); bytewise != whole {
			t.Fatalf("byte by byte: got %q, want %q", bytewise, whole)
		}
	})
}
