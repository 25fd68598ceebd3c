package httpsyntax

import (
	"strings"
	"testing"
)

// FuzzMatchETags: If-Match / If-None-Match lists from clients. A strong
// match is also a weak one, and a list naming the tag matches it.
func FuzzMatchETags(f *testing.F) {
	for _, s := range []string{`"a"`, `W/"a"`, `"x", "a"`, `*`, `W/`, `"`, `,,"a"`, `W/"a", *`} {
		f.Add(s)
	}
	const etag = `"a"`
	f.Fuzz(func(t *testing.T, field string) {
		strong := MatchETags([]string{field}, etag, true)
		weak := MatchETags([]string{field}, etag, false)
		if strong && !weak {
			t.Fatalf("%q: strong match without a weak one", field)
		}
		if !weak && (field == etag || strings.HasPrefix(field, etag+",")) {
			t.Fatalf("%q: does not match %s", field, etag)
		}
	})
}
