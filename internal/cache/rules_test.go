package cache

import (
	"net/http"
	"testing"
	"time"
)

func TestParseCacheControl(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		check func(d directives) bool
	}{
		{"max-age", []string{"max-age=60"}, func(d directives) bool { return d.maxAge == 60 }},
		{"case and spaces between directives", []string{"  Max-Age=60 ,PUBLIC"}, func(d directives) bool { return d.maxAge == 60 && d.has(ccPublic) }},
		{"space before = voids the directive", []string{"max-age =60, public"}, func(d directives) bool { return d.maxAge == unset && d.has(ccPublic) }},
		{"space after = voids the directive", []string{"max-age= 60"}, func(d directives) bool { return d.maxAge == unset }},
		{"quoted value", []string{`max-age="60"`}, func(d directives) bool { return d.maxAge == 60 }},
		{"first of two wins", []string{"max-age=60, max-age=10"}, func(d directives) bool { return d.maxAge == 60 }},
		{"across lines", []string{"public", "s-maxage=5"}, func(d directives) bool { return d.has(ccPublic) && d.sMaxAge == 5 }},
		{"invalid number is stale", []string{"max-age=abc"}, func(d directives) bool { return d.maxAge == 0 }},
		{"negative is stale", []string{"max-age=-1"}, func(d directives) bool { return d.maxAge == 0 }},
		{"huge saturates", []string{"max-age=99999999999999999999"}, func(d directives) bool { return d.maxAge == maxDelta }},
		{"qualified private", []string{`private="Set-Cookie, X-A"`}, func(d directives) bool {
			return !d.has(ccPrivate) && d.has(ccPrivateFields) && len(d.privateFields) == 2 && d.privateFields[1] == "x-a"
		}},
		{"comma inside quotes does not split", []string{`no-cache="a,b", max-age=3`}, func(d directives) bool {
			return d.maxAge == 3 && d.has(ccNoCacheFields) && !d.has(ccNoCache)
		}},
		{"max-stale without value", []string{"max-stale"}, func(d directives) bool { return d.has(ccMaxStaleAny) }},
		{"unknown ignored", []string{"foo=bar, no-store"}, func(d directives) bool { return d.has(ccNoStore) }},
		{"empty", []string{""}, func(d directives) bool { return d.flags == 0 && d.maxAge == unset }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := parseCacheControl(http.Header{"Cache-Control": tt.lines})
			if !tt.check(d) {
				t.Fatalf("got %+v", d)
			}
		})
	}
}

func TestFreshnessLifetime(t *testing.T) {
	date := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	f := func(t time.Time) string { return t.Format(http.TimeFormat) }
	tests := []struct {
		name   string
		h      http.Header
		status int
		ttl    time.Duration
		want   time.Duration
	}{
		{"s-maxage first", http.Header{"Cache-Control": {"max-age=5, s-maxage=7"}}, 200, 0, 7 * time.Second},
		{"max-age", http.Header{"Cache-Control": {"max-age=5"}}, 200, 0, 5 * time.Second},
		{"expires minus date", http.Header{"Date": {f(date)}, "Expires": {f(date.Add(time.Minute))}}, 200, 0, time.Minute},
		{"expires in the past", http.Header{"Date": {f(date)}, "Expires": {f(date.Add(-time.Minute))}}, 200, 0, 0},
		{"two Expires lines", http.Header{"Date": {f(date)}, "Expires": {f(date.Add(time.Minute)), f(date.Add(time.Hour))}}, 200, 0, 0},
		{"default ttl", http.Header{}, 200, 30 * time.Second, 30 * time.Second},
		{"heuristic 10%", http.Header{"Date": {f(date)}, "Last-Modified": {f(date.Add(-10 * time.Hour))}}, 200, 0, time.Hour},
		{"heuristic bounded", http.Header{"Date": {f(date)}, "Last-Modified": {f(date.Add(-1000 * 24 * time.Hour))}}, 200, 0, maxHeuristic},
		{"no heuristic for 302", http.Header{"Date": {f(date)}, "Last-Modified": {f(date.Add(-10 * time.Hour))}}, 302, 0, 0},
		{"Last-Modified after Date", http.Header{"Date": {f(date)}, "Last-Modified": {f(date.Add(time.Hour))}}, 200, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := parseCacheControl(tt.h)
			if got := freshnessLifetime(tt.h, &cc, tt.status, tt.ttl); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestInitialAge(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		h    http.Header
		want time.Duration
	}{
		{"age header plus delay", http.Header{"Age": {"10"}, "Date": {t0.Format(http.TimeFormat)}}, 12 * time.Second},
		{"apparent age from an old Date", http.Header{"Date": {t0.Add(-time.Minute).Format(http.TimeFormat)}}, time.Minute + 2*time.Second},
		{"invalid Age ignored", http.Header{"Age": {"abc"}, "Date": {t0.Format(http.TimeFormat)}}, 2 * time.Second},
		{"negative Age ignored", http.Header{"Age": {"-100"}}, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Request sent at t0, response received 2s later.
			if got := initialAge(tt.h, t0, t0.Add(2*time.Second)); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNormalAcceptEncoding(t *testing.T) {
	tests := map[string]string{
		"gzip, deflate, br":             "br,deflate,gzip",
		"br;q=1.0, gzip;q=0.8, *;q=0.1": "br,deflate,gzip,zstd",
		"gzip;q=0":                      "",
		"identity":                      "",
		"x-gzip":                        "gzip",
		"zstd, gzip;q=0.000":            "zstd",
	}
	for in, want := range tests {
		if got := normalAcceptEncoding([]string{in}); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

func TestEntryEncodingRoundTripsAndRejectsDamage(t *testing.T) {
	e := &Entry{Key: "k\x00", URL: "k", Tags: []string{"a"}, Status: 200,
		Header: http.Header{"A": {"1", "2"}}, Body: []byte("body"),
		RequestTime: time.Unix(1, 2), ResponseTime: time.Unix(3, 4), InitialAge: 5, Lifetime: 6, Expires: time.Unix(7, 8)}
	b, _ := e.MarshalBinary()
	got, err := UnmarshalEntry(b)
	if err != nil || got.Key != e.Key || string(got.Body) != "body" || got.Lifetime != 6 || got.Header.Get("A") != "1" {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for i := range b {
		c := append([]byte(nil), b...)
		c[i] ^= 0x40
		if _, err := UnmarshalEntry(c); err == nil {
			t.Fatalf("a flipped byte at %d was accepted", i)
		}
	}
	for n := range len(b) {
		if _, err := UnmarshalEntry(b[:n]); err == nil {
			t.Fatalf("a prefix of %d bytes was accepted", n)
		}
	}
}

func TestURLKeyOfPurge(t *testing.T) {
	tests := map[string]string{
		"https://Example.com/a?b=1": "example.com/a?b=1",
		"example.com/img/":          "example.com/img/",
		"http://example.com":        "example.com/",
		"example.com?x":             "example.com/?x",
	}
	for in, want := range tests {
		if got := urlKey(in); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

func TestParseRange(t *testing.T) {
	tests := []struct {
		in         string
		start, end int64
		ok         bool
	}{
		{"bytes=0-0", 0, 0, true},
		{"bytes=-0", -1, 0, true},
		{"bytes=10-", -1, 0, true},
		{"bytes=3-1", 0, 0, false},
		{"items=1-2", 0, 0, false},
		{"bytes=a-b", 0, 0, false},
	}
	for _, tt := range tests {
		s, e, ok := parseRange(tt.in, 10)
		if s != tt.start || e != tt.end || ok != tt.ok {
			t.Errorf("%q: got %d %d %v, want %d %d %v", tt.in, s, e, ok, tt.start, tt.end, tt.ok)
		}
	}
}
