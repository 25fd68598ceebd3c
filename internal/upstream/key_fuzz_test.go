package upstream

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzCookieValue feeds arbitrary Cookie headers to the allocation-free
// scanner that the hash and sticky policies read: it must not panic, and
// what it finds must agree with net/http's own parser whenever that one
// finds a well-formed cookie of the name.
func FuzzCookieValue(f *testing.F) {
	f.Add("a=1; portico_backend=abc", "portico_backend")
	f.Add(`x="quoted"`, "x")
	f.Add(";;=;a", "a")
	f.Add("a=1;a=2", "a")
	f.Fuzz(func(t *testing.T, header, name string) {
		v, ok := cookieValue([]string{header}, name)
		if !ok {
			return
		}
		if strings.Contains(v, ";") {
			t.Fatalf("value %q spans a separator", v)
		}
		r := &http.Request{Header: http.Header{"Cookie": {header}}}
		if c, err := r.Cookie(name); err == nil && c.Value != v && !c.Quoted {
			// net/http drops invalid pairs that the scanner keeps; only a
			// disagreement on a clean header is a bug.
			if isCleanCookieHeader(header) {
				t.Fatalf("header %q name %q: got %q, net/http %q", header, name, v, c.Value)
			}
		}
	})
}

func isCleanCookieHeader(h string) bool {
	for _, part := range strings.Split(h, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || k == "" || strings.ContainsAny(k+v, " \t\",\\\x7f") {
			return false
		}
		for _, c := range k + v {
			if c < 0x21 || c > 0x7e {
				return false
			}
		}
	}
	return true
}

// FuzzKeyFor runs the key extraction of the hash and sticky policies on
// arbitrary header, cookie and address text: no panic, and the same
// request always gives the same key.
func FuzzKeyFor(f *testing.F) {
	f.Add("user-1", "portico_backend=ff", "10.0.0.1:5555", "/a?b")
	f.Add("", "portico_backend=zz", "[::1]:1", "")
	f.Fuzz(func(t *testing.T, header, cookie, remote, uri string) {
		for _, cfg := range []PoolOptions{
			{Balance: PolicyHash, HashKey: "header:X-User"},
			{Balance: PolicyHash, HashKey: "cookie:sid"},
			{Balance: PolicyHash, HashKey: "uri"},
			{Balance: PolicyHash},
			{Balance: PolicySticky},
		} {
			p := &Pool{balance: cfg.Balance, cookieName: "portico_backend"}
			hk, err := parseHashKey(cfg.HashKey)
			if err != nil {
				t.Fatal(err)
			}
			p.hashKey = hk
			r, _ := http.NewRequest("GET", "http://x/", nil)
			r.Header.Set("X-User", header)
			r.Header.Set("Cookie", cookie)
			r.RemoteAddr, r.RequestURI = remote, uri
			var a, b Input
			p.keyFor(r, &a)
			p.keyFor(r, &b)
			if a.Key != b.Key || a.HasKey != b.HasKey {
				t.Fatalf("%+v: keys differ for one request", cfg)
			}
		}
	})
}
