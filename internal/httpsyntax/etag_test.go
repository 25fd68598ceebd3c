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

func TestListsETag(t *testing.T) {
	cases := []struct {
		field, etag string
		want        bool
	}{
		{`W/"x"`, `W/"x"`, true},
		{`"x"`, `W/"x"`, false},
		{`W/"x"`, `"x"`, false},
		{`"a", "x"`, `"x"`, true},
		{`"a,b", W/"x"`, `W/"x"`, true},
		{`*`, `"x"`, false},
		{`x`, `"x"`, false},
		{`"x`, `"x"`, false},
	}
	for _, tc := range cases {
		if got := ListsETag([]string{tc.field}, tc.etag); got != tc.want {
			t.Errorf("ListsETag(%q, %q) = %v, want %v", tc.field, tc.etag, got, tc.want)
		}
	}
}
