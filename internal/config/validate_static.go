package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
)

var compressEncodings = []string{"zstd", "br", "gzip"}

func (v *validator) static(path string, s *Static) {
	if s == nil {
		return
	}
	if s.Root == "" {
		v.errorf(path+".root", "required")
	} else if strings.ContainsRune(s.Root, 0) {
		v.errorf(path+".root", "must not contain NUL")
	}
	for i, name := range s.Index {
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
			v.errorf(indexPath(path+".index", i), "%q is not a file name", name)
		}
	}
	if f := s.SPAFallback; f != "" {
		if !strings.HasPrefix(f, "/") || strings.HasSuffix(f, "/") || slices.Contains(strings.Split(f, "/"), "..") {
			v.errorf(path+".spa_fallback", "must be a file path under root starting with \"/\", such as /index.html")
		}
	}
	for _, r := range s.CacheControl {
		kp := keyPath(path+".cache_control", r.Pattern)
		if r.Pattern == "" {
			kp = path + ".cache_control"
		}
		switch {
		case r.Pattern != "*" && !strings.HasPrefix(r.Pattern, "/") && !strings.HasPrefix(r.Pattern, "*."):
			v.errorf(kp, "pattern %q must be a path prefix (/assets/), a suffix (*.html) or *", r.Pattern)
		case r.Value == "":
			v.errorf(kp, "must not be empty")
		case !validHeaderValue(r.Value):
			v.errorf(kp, "must not contain control characters")
		}
	}
}

func (v *validator) compress(path string, c *Compress) {
	if c == nil {
		return
	}
	seen := map[string]bool{}
	for i, e := range c.Encodings {
		ep := indexPath(path+".encodings", i)
		switch {
		case !slices.Contains(compressEncodings, e):
			v.errorf(ep, "unknown encoding %q; use zstd, br or gzip", e)
		case seen[e]:
			v.errorf(ep, "%q is listed twice", e)
		}
		seen[e] = true
	}
	for i, t := range c.Types {
		if !validMediaPattern(t) {
			v.errorf(indexPath(path+".types", i), "%q is not a media type such as text/html, text/* or application/*+json", t)
		}
	}
	v.level(path+".levels.gzip", c.Levels.Gzip, 1, 9)
	v.level(path+".levels.br", c.Levels.Brotli, 1, 11)
	v.level(path+".levels.zstd", c.Levels.Zstd, 1, 4)
}

func (v *validator) level(path string, got, lo, hi int) {
	// 0 means the default, which ApplyDefaults may not have filled in for
	// a config built in code.
	if got != 0 && (got < lo || got > hi) {
		v.errorf(path, "level %d is out of range %d-%d", got, lo, hi)
	}
}

// validMediaPattern accepts type/subtype, type/* and type/*+suffix, all
// lowercase tokens.
func validMediaPattern(t string) bool {
	typ, sub, ok := strings.Cut(t, "/")
	if !ok || !isToken(typ) || typ == "*" || strings.ToLower(t) != t {
		return false
	}
	if sub == "*" {
		return true
	}
	if rest, wild := strings.CutPrefix(sub, "*+"); wild {
		return isToken(rest)
	}
	return isToken(sub) && !strings.Contains(sub, "*")
}

// CheckFiles checks what the config names on disk and Validate leaves
// alone, so that configs can be validated on another machine: every
// static root must be an existing directory. Errors carry the line of the
// key, like Validate's. Run it at start and on reload.
func (c *Config) CheckFiles() error {
	v := &validator{c: c}
	for i := range c.Routes {
		s := c.Routes[i].Static
		if s == nil || s.Root == "" {
			continue
		}
		p := indexPath("routes", i) + ".static.root"
		if !v.has(p) {
			p = indexPath("routes", i) + ".static"
		}
		fi, err := os.Stat(s.Root)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			v.errorf(p, "directory %q does not exist", s.Root)
		case err != nil:
			v.errorf(p, "%s", unwrapPathError(err))
		case !fi.IsDir():
			v.errorf(p, "%q is not a directory", s.Root)
		}
	}
	return v.errs.err()
}

// unwrapPathError drops the path an *fs.PathError repeats: the message
// already names it.
func unwrapPathError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%q: %v", pe.Path, pe.Err)
	}
	return err.Error()
}
