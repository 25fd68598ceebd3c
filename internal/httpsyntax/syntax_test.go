package httpsyntax

import (
	"strings"
	"testing"
)

func TestValidToken(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"GET", true}, {"X-Request-Id", true}, {"a!#$%&'*+-.^_`|~z", true},
		{"", false}, {"X A", false}, {"X:A", false}, {"X\x00", false}, {"é", false}, {"(x)", false},
	}
	for _, tt := range tests {
		if got := ValidToken(tt.in); got != tt.want {
			t.Errorf("ValidToken(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestInvalidValueByte(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", -1}, {"plain value", -1}, {"tab\there", -1}, {"utf-8 é ok", -1},
		{"a\rb", 1}, {"a\nb", 1}, {"\x00", 0}, {"x\x7f", 1},
		{strings.Repeat("a", 17) + "\x01", 17}, {strings.Repeat("a", 8) + "\t" + strings.Repeat("b", 8), -1},
	}
	for _, tt := range tests {
		if got := InvalidValueByte([]byte(tt.in)); got != tt.want {
			t.Errorf("InvalidValueByte(%q) = %d, want %d", tt.in, got, tt.want)
		}
		if got := ValidFieldValue(tt.in); got != (tt.want < 0) {
			t.Errorf("ValidFieldValue(%q) = %v, want %v", tt.in, got, tt.want < 0)
		}
	}
}

// TestInvalidValueByteMatchesByteRule checks the word-at-a-time scan
// against the plain rule for every byte at every offset.
func TestInvalidValueByteMatchesByteRule(t *testing.T) {
	for c := 0; c < 256; c++ {
		for off := 0; off < 17; off++ {
			p := []byte(strings.Repeat("v", off) + string([]byte{byte(c)}) + "tail")
			want := -1
			if byte(c) < 0x20 && byte(c) != '\t' || c == 0x7f {
				want = off
			}
			if got := InvalidValueByte(p); got != want {
				t.Fatalf("byte %#x at %d: got %d, want %d", c, off, got, want)
			}
		}
	}
}

func TestTrimOWS(t *testing.T) {
	for in, want := range map[string]string{" a ": "a", "\ta b\t": "a b", "": "", "  ": ""} {
		if got := TrimOWS(in); got != want {
			t.Errorf("TrimOWS(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseDigits(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"0042", 42, true},
		{"9223372036854775807", 9223372036854775807, true},
		{"9223372036854775808", 0, false}, // overflows
		{"9999999999999999999", 0, false},
		{"00000000000000000001", 0, false}, // over 19 digits
		{"", 0, false},
		{"+5", 0, false},
		{"-5", 0, false},
		{" 5", 0, false},
		{"1 0", 0, false},
		{"0x10", 0, false},
	}
	for _, tc := range cases {
		got, ok := ParseDigits(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseDigits(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
