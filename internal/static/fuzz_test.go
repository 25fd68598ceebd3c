package static

import (
	"path/filepath"
	"strings"
	"testing"
)

// FuzzCleanPath: whatever the path, an accepted one stays under the root
// and has no segment that could climb out or name a hidden file.
func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"/", "/a/b.txt", "/../x", "/a/../../x", "/a\\..\\x", "/.git/x", "/a//b/", "/x\x00y", "/.well-known/x", "//", ""} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, p string, dotfiles bool) {
		rel, _, v := cleanPath(p, dotfiles)
		if v != pathOK {
			return
		}
		if strings.HasPrefix(rel, "/") || strings.HasSuffix(rel, "/") || strings.Contains(rel, "//") {
			t.Fatalf("%q: rel %q is not a relative clean path", p, rel)
		}
		for _, seg := range strings.Split(rel, "/") {
			if seg == "." || seg == ".." || strings.ContainsAny(seg, "\\\x00") {
				t.Fatalf("%q: rel %q has segment %q", p, rel, seg)
			}
			if !dotfiles && strings.HasPrefix(seg, ".") && seg != ".well-known" {
				t.Fatalf("%q: rel %q shows a dotfile", p, rel)
			}
		}
		root := "/srv/root"
		if j := filepath.Join(root, rel); j != root && !strings.HasPrefix(j, root+"/") {
			t.Fatalf("%q: %q leaves the root", p, j)
		}
	})
}

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
		rs, ok := parseRange(h, size)
		if !ok {
			return
		}
		var total int64
		for _, r := range rs {
			if r.start < 0 || r.length <= 0 || r.start+r.length > size {
				t.Fatalf("%q size %d: range %+v outside the file", h, size, r)
			}
			total += r.length
		}
		if total > size || len(rs) > maxRanges {
			t.Fatalf("%q size %d: %d ranges totalling %d", h, size, len(rs), total)
		}
	})
}

// FuzzMatchETags: If-Match / If-None-Match lists from clients. A strong
// match is also a weak one, and a list naming the tag matches it.
func FuzzMatchETags(f *testing.F) {
	for _, s := range []string{`"a"`, `W/"a"`, `"x", "a"`, `*`, `W/`, `"`, `,,"a"`, `W/"a", *`} {
		f.Add(s)
	}
	const etag = `"a"`
	f.Fuzz(func(t *testing.T, field string) {
		strong := matchETags([]string{field}, etag, true)
		weak := matchETags([]string{field}, etag, false)
		if strong && !weak {
			t.Fatalf("%q: strong match without a weak one", field)
		}
		if !weak && (field == etag || strings.HasPrefix(field, etag+",")) {
			t.Fatalf("%q: does not match %s", field, etag)
		}
	})
}
