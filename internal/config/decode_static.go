package config

import (
	"github.com/goccy/go-yaml/ast"
)

// decode takes a plain string as the root directory.
func (s *Static) decode(d *decoder, n ast.Node, path string) {
	s.Pos = d.at(path)
	d.shorthand(n, path, "a directory", "root", []field{
		{"root", func(n ast.Node, p string) { s.Root = d.str(n, p) }},
		{"index", func(n ast.Node, p string) { s.Index = d.strList(n, p) }},
		{"browse", func(n ast.Node, p string) { s.Browse = d.boolean(n, p) }},
		{"spa_fallback", func(n ast.Node, p string) { s.SPAFallback = d.str(n, p) }},
		{"precompressed", func(n ast.Node, p string) { s.Precompressed = d.boolean(n, p) }},
		{"cache_control", func(n ast.Node, p string) { s.CacheControl = decodeCacheControl(d, n, p) }},
		{"dotfiles", func(n ast.Node, p string) { s.Dotfiles = d.boolean(n, p) }},
		{"allow_symlinks", func(n ast.Node, p string) { s.AllowSymlinks = d.boolean(n, p) }},
	})
}

// decodeCacheControl keeps the file order of the rules (the first match
// wins). A plain string is one rule for every path.
func decodeCacheControl(d *decoder, n ast.Node, path string) []CacheControlRule {
	v, ok := d.value(n, path)
	if !ok || isNull(v) {
		return nil
	}
	if isScalar(v) {
		return []CacheControlRule{{Pattern: "*", Value: d.str(n, path), Pos: d.at(path)}}
	}
	var out []CacheControlRule
	for _, p := range d.pairs(n, path) {
		kp := keyPath(path, p.key)
		d.mark(kp, p.keyN, p.val)
		out = append(out, CacheControlRule{Pattern: p.key, Value: d.str(p.val, kp), Pos: d.at(kp)})
	}
	return out
}

// decodeCompress takes true as every default and false as off.
func decodeCompress(d *decoder, n ast.Node, path string) *Compress {
	c := &Compress{Pos: d.at(path)}
	if on, _ := d.toggle(n, path, []field{
		{"encodings", func(n ast.Node, p string) { c.Encodings = d.strList(n, p) }},
		{"min_size", func(n ast.Node, p string) { c.MinSize = d.size(n, p) }},
		{"types", func(n ast.Node, p string) { c.Types = d.strList(n, p) }},
		{"levels", func(n ast.Node, p string) { c.Levels.decode(d, n, p) }},
	}); !on {
		return nil
	}
	return c
}

func (l *CompressLevels) decode(d *decoder, n ast.Node, path string) {
	d.mapping(n, path, []field{
		{"gzip", func(n ast.Node, p string) { l.Gzip = d.integer(n, p, 0) }},
		{"br", func(n ast.Node, p string) { l.Brotli = d.integer(n, p, 0) }},
		{"zstd", func(n ast.Node, p string) { l.Zstd = d.integer(n, p, 0) }},
	})
}

// decodeStatic takes false as off, like the other optional terminals.
func decodeStatic(d *decoder, n ast.Node, path string) *Static {
	v, ok := d.value(n, path)
	if !ok {
		return nil
	}
	if b, isBool := v.(*ast.BoolNode); isBool && !b.Value {
		return nil
	}
	s := new(Static)
	s.decode(d, n, path)
	return s
}
