package httpsyntax

import (
	"net/http"
	"testing"
	"time"
)

func TestHTTPDateIsReadStrictly(t *testing.T) {
	want := time.Date(2050, 8, 18, 2, 1, 18, 0, time.UTC)
	tests := []struct {
		in string
		ok bool
	}{
		{"Thu, 18 Aug 2050 02:01:18 GMT", true},
		{"THU, 18 AUG 2050 02:01:18 gmt", true},
		{"Thursday, 18-Aug-50 02:01:18 GMT", true},
		{"Thu Aug 18 02:01:18 2050", true},
		{"Thu, 18 Aug 2050 02:01:18 UTC", false},
		{"Thu, 18 Aug 50 02:01:18 GMT", false},
		{"Thu 18 Aug 2050 02:01:18 GMT", false},
		{"Thu, 18  Aug  2050 02:01:18 GMT", false},
		{"Thu, 18-Aug-2050 02:01:18 GMT", false},
		{"Thu, 18 Aug 2050 02.01.18 GMT", false},
		{"Thu, 18 Aug 2050 2:01:18 GMT", false},
		{"Thu, 18 Aug 2050 24:01:18 GMT", false},
		{"0", false},
		{"", false},
	}
	for _, tt := range tests {
		got, ok := ParseDate(tt.in)
		if ok != tt.ok || ok && !got.Equal(want) {
			t.Errorf("ParseDate(%q) = %v, %v; want ok=%v", tt.in, got, ok, tt.ok)
		}
	}
}

func FuzzParseHTTPDate(f *testing.F) {
	for _, s := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
		"THU, 18 AUG 2050 02:01:18 gMT", "Thu, 18 Aug 2050 2:01:18 GMT", "Thu, 18  Aug  2050 02:01:18 GMT", "0", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParseDate(s)
		if !ok {
			return
		}
		// Whatever was accepted has one canonical form, which reads back
		// as the same instant.
		back, ok := ParseDate(d.UTC().Format(http.TimeFormat))
		if d.Year() >= 0 && d.Year() <= 9999 && (!ok || !back.Equal(d)) {
			t.Fatalf("%q read as %v, whose IMF-fixdate reads back as %v, %v", s, d, back, ok)
		}
	})
}
