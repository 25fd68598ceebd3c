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
