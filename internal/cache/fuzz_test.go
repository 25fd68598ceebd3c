package cache

import (
	"net/http"
	"testing"

	"github.com/portico-proxy/portico/internal/httpsyntax"
)

func FuzzParseCacheControl(f *testing.F) {
	for _, s := range []string{"max-age=60", `no-cache="a,b", s-maxage=1`, "max-stale", `private="`, "=,=", "max-age=\"\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := parseCacheControl(http.Header{"Cache-Control": {s}})
		for _, v := range []int64{d.maxAge, d.sMaxAge, d.maxStale, d.minFresh, d.swr, d.sie} {
			if v != unset && (v < 0 || v > maxDelta) {
				t.Fatalf("%q: delta %d out of range", s, v)
			}
		}
	})
}

func FuzzUnmarshalEntry(f *testing.F) {
	e := &Entry{Key: "k\x00", URL: "k", Status: 200, Header: http.Header{"A": {"1"}}, Body: []byte("x")}
	b, _ := e.MarshalBinary()
	f.Add(b)
	f.Add([]byte("PCE1"))
	f.Add([]byte("PCE1\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := UnmarshalEntry(b)
		if err != nil {
			return
		}
		again, _ := e.MarshalBinary()
		if _, err := UnmarshalEntry(again); err != nil {
			t.Fatalf("re-encoding a decoded entry failed: %v", err)
		}
		_, _, _ = PeekMeta(b)
	})
}

func FuzzPeekMeta(f *testing.F) {
	f.Add([]byte("PCE1\x05\x01k\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) { _, _, _ = PeekMeta(b) })
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-10", "bytes=-5", "bytes=5-", "bytes=9223372036854775807-"} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, s string, size int64) {
		if size < 0 {
			return
		}
		start, end, ok := parseRange(s, size)
		if ok && start >= 0 && (start > end || end >= size) {
			t.Fatalf("%q size %d: range %d-%d outside the body", s, size, start, end)
		}
	})
}

func FuzzAcceptEncodingAndDates(f *testing.F) {
	f.Add("gzip;q=0.5, br", "Thu, 01 Jan 2026 00:00:00 GMT")
	f.Fuzz(func(t *testing.T, ae, date string) {
		_ = normalAcceptEncoding([]string{ae})
		_, _ = httpsyntax.ParseDate(date)
		h := http.Header{"Age": {ae}, "Date": {date}, "Expires": {date}, "Last-Modified": {date}}
		cc := parseCacheControl(h)
		if l := freshnessLifetime(h, &cc, 200, 0); l < 0 {
			t.Fatalf("negative lifetime %v", l)
		}
	})
}
