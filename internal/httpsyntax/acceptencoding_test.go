package httpsyntax

import "testing"

var prefs = []Coding{Zstd, Brotli, Gzip}

func TestAcceptEncodingChoose(t *testing.T) {
	tests := []struct {
		name     string
		lines    []string
		want     Coding
		identity bool
	}{
		{"absent: identity", nil, Identity, true},
		{"empty value: identity", []string{""}, Identity, true},
		{"gzip", []string{"gzip"}, Gzip, true},
		{"browser list: server preference", []string{"gzip, deflate, br, zstd"}, Zstd, true},
		{"higher q wins over preference", []string{"zstd;q=0.5, gzip;q=0.8"}, Gzip, true},
		{"equal q: server preference", []string{"gzip;q=0.5, br;q=0.5"}, Brotli, true},
		{"q=0 refuses", []string{"zstd;q=0, br;q=0, gzip"}, Gzip, true},
		{"star gives every coding its q", []string{"*"}, Zstd, true},
		{"star q=0 with gzip", []string{"*;q=0, gzip"}, Gzip, false},
		{"explicit beats star", []string{"zstd;q=0, *;q=0.5"}, Brotli, true},
		{"identity;q=0", []string{"identity;q=0, gzip"}, Gzip, false},
		{"identity;q=0 alone", []string{"identity;q=0"}, Identity, false},
		{"case-insensitive names and q", []string{"GZIP;Q=0.9, Br;q=1"}, Brotli, true},
		{"x-gzip is gzip", []string{"x-gzip"}, Gzip, true},
		{"spaces around parameters", []string{"br ; q=0.3 , gzip ;q=0.2"}, Brotli, true},
		{"several lines", []string{"gzip;q=0.1", "zstd"}, Zstd, true},
		{"first mention wins", []string{"gzip;q=0, gzip;q=1"}, Identity, true},
		{"bad q skips the element", []string{"br;q=2, gzip"}, Gzip, true},
		{"q with too many digits skips", []string{"br;q=0.0001, gzip;q=0.1"}, Gzip, true},
		{"q=1.000", []string{"br;q=1.000"}, Brotli, true},
		{"q=1.001 is invalid", []string{"br;q=1.001"}, Identity, true},
		{"other parameters ignored", []string{"br;level=5;q=0.5"}, Brotli, true},
		{"unknown codings ignored", []string{"compress, deflate, lz4"}, Identity, true},
		{"garbage", []string{";;,,=q, \"gzip\""}, Identity, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := ParseAcceptEncoding(tt.lines)
			if got := a.Choose(prefs); got != tt.want {
				t.Errorf("Choose: got %s, want %s", got.Token(), tt.want.Token())
			}
			if got := a.IdentityAllowed(); got != tt.identity {
				t.Errorf("IdentityAllowed: got %v, want %v", got, tt.identity)
			}
		})
	}
}

func TestChooseFollowsConfiguredPreference(t *testing.T) {
	a := ParseAcceptEncoding([]string{"gzip, br, zstd"})
	if got := a.Choose([]Coding{Gzip, Brotli}); got != Gzip {
		t.Errorf("got %s, want gzip (first in the route's list)", got.Token())
	}
	if got := a.Choose([]Coding{Brotli}); got != Brotli {
		t.Errorf("got %s, want br (the only one offered)", got.Token())
	}
}

func TestParseAcceptEncodingAllocatesNothing(t *testing.T) {
	lines := []string{"gzip, deflate, br;q=0.9, zstd;q=0.8, *;q=0.1"}
	if n := testing.AllocsPerRun(100, func() { ParseAcceptEncoding(lines).Choose(prefs) }); n != 0 {
		t.Errorf("got %v allocations, want 0", n)
	}
}

// FuzzParseAcceptEncoding: any input parses without panicking, weights
// stay within 0..1000, and the choice is an offered coding the client
// weighs above zero, or identity.
func FuzzParseAcceptEncoding(f *testing.F) {
	for _, s := range []string{"gzip", "gzip, deflate, br, zstd", "br;q=0.5", "*;q=0", "identity;q=0", "x-gzip;Q=1.000", ";,;", "br;q=0.", "gzip;q"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a := ParseAcceptEncoding([]string{s})
		for c := Identity; c < numCodings; c++ {
			if q := a.Q(c); q < 0 || q > 1000 {
				t.Fatalf("%q: q(%s) = %d", s, c.Token(), q)
			}
		}
		got := a.Choose(prefs)
		if got != Identity && a.Q(got) == 0 {
			t.Fatalf("%q: chose %s with weight 0", s, got.Token())
		}
	})
}
