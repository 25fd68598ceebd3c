package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// pair is one key of a mapping after merge keys are expanded.
type pair struct {
	key    string
	keyPos Pos
	keyN   ast.Node
	val    ast.Node
}

// mapping decodes a mapping whose keys are the given fields. Unknown keys
// are reported with a suggestion; null decodes as an empty mapping, so
// `admin:` alone turns the admin listener on with defaults.
func (d *decoder) mapping(n ast.Node, path string, fields []field) {
	for _, p := range d.pairs(n, path) {
		f := findField(fields, p.key)
		if f == nil {
			msg := fmt.Sprintf("unknown key %q", p.key)
			if s := suggestion(p.key, fieldKeys(fields)); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
				// The hint already names the key; "addr: required" for
				// the same typo would be noise.
				d.bad[keyPath(path, s)] = true
			}
			d.report(p.keyPos, path, "%s", msg)
			continue
		}
		kp := keyPath(path, p.key)
		d.mark(kp, p.keyN, p.val)
		f.dec(p.val, kp)
	}
}

// findField finds the field for key. A field key ending in "*" takes
// every key with that prefix.
func findField(fields []field, key string) *field {
	for i, f := range fields {
		if f.key == key || strings.HasSuffix(f.key, "*") && strings.HasPrefix(key, f.key[:len(f.key)-1]) {
			return &fields[i]
		}
	}
	return nil
}

func fieldKeys(fields []field) []string {
	var keys []string
	for _, f := range fields {
		if !strings.HasSuffix(f.key, "*") {
			keys = append(keys, f.key)
		}
	}
	return keys
}

// pairs lists the keys of the mapping n in file order, reporting repeated
// keys and a value that is not a mapping.
func (d *decoder) pairs(n ast.Node, path string) []pair {
	v, ok := d.value(n, path)
	if !ok || isNull(v) {
		return nil
	}
	m, ok := v.(*ast.MappingNode)
	if !ok {
		d.fail(n, path, "expected a mapping")
		return nil
	}
	seen := map[string]Pos{}
	return d.expand(m, path, seen, 0)
}

// expand returns the explicit keys of m, then those brought in by merge
// keys ("<<: *defaults") that are not already present: explicit keys win
// over merged ones, and earlier merges over later ones, as YAML says.
func (d *decoder) expand(m *ast.MappingNode, path string, seen map[string]Pos, depth int) []pair {
	var out []pair
	var merges []ast.Node
	for _, mv := range m.Values {
		if mv == nil || mv.Key == nil {
			continue
		}
		if mv.Key.IsMergeKey() {
			merges = append(merges, mv.Value)
			continue
		}
		key, ok := d.key(mv.Key, path)
		if !ok {
			continue
		}
		kp := posOf(mv.Key)
		if prev, dup := seen[key]; dup {
			if depth == 0 {
				d.report(kp, path, "duplicate key %q (first at line %d)", key, prev.Line)
			}
			continue
		}
		seen[key] = kp
		out = append(out, pair{key: key, keyPos: kp, keyN: mv.Key, val: mv.Value})
	}
	for _, mn := range merges {
		out = append(out, d.merge(mn, path, seen, depth)...)
	}
	return out
}

// merge expands the value of one "<<" key: a mapping or a list of them.
func (d *decoder) merge(n ast.Node, path string, seen map[string]Pos, depth int) []pair {
	if depth >= 8 {
		d.fail(n, path, "merge keys nested too deeply")
		return nil
	}
	v, ok := d.value(n, path)
	if !ok {
		return nil
	}
	srcs := []ast.Node{v}
	if s, isSeq := v.(*ast.SequenceNode); isSeq {
		srcs = s.Values
	}
	var out []pair
	for _, src := range srcs {
		sv, ok := d.value(src, path)
		if !ok {
			continue
		}
		m, isMap := sv.(*ast.MappingNode)
		if !isMap {
			d.fail(src, path, "<<: expected a mapping or a list of mappings")
			continue
		}
		if !d.spend(src, path, len(m.Values)) {
			return out
		}
		out = append(out, d.expand(m, path, seen, depth+1)...)
	}
	return out
}

// key reads a mapping key. Numbers and booleans are taken as written, so
// an upstream may be called 2024; complex keys ("? [a, b]") are refused.
func (d *decoder) key(n ast.MapKeyNode, path string) (string, bool) {
	switch t := ast.Node(n).(type) {
	case *ast.StringNode:
		return t.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NullNode:
		return t.GetToken().Value, true
	}
	d.report(posOf(n), path, "expected a plain key")
	return "", false
}

// list decodes a sequence, calling each for every element. Null is an
// empty list.
func (d *decoder) list(n ast.Node, path string, each func(n ast.Node, path string)) {
	v, ok := d.value(n, path)
	if !ok || isNull(v) {
		return
	}
	s, ok := v.(*ast.SequenceNode)
	if !ok {
		d.fail(n, path, "expected a list")
		return
	}
	for i, e := range s.Values {
		ep := indexPath(path, i)
		d.mark(ep, nil, e)
		each(e, ep)
	}
}

// shorthand decodes a value that is either a mapping of fields or, as a
// shorthand, a plain scalar for its main field (`match: /api/` is
// `match: {path: /api/}`). Adding a shorthand to a type is one call.
func (d *decoder) shorthand(n ast.Node, path, what, main string, fields []field) {
	v, ok := d.value(n, path)
	switch {
	case !ok:
		return
	case isScalar(v):
		findField(fields, main).dec(n, keyPath(path, main))
		return
	case isNull(v):
	default:
		if _, isMap := v.(*ast.MappingNode); !isMap {
			d.fail(n, path, "expected %s or a mapping", what)
			return
		}
	}
	d.mapping(n, path, fields)
}

// strList decodes a list of strings; a single string is a list of one,
// so `methods: GET` needs no brackets.
func (d *decoder) strList(n ast.Node, path string) []string {
	v, ok := d.value(n, path)
	if !ok {
		return nil
	}
	if isScalar(v) {
		ep := indexPath(path, 0)
		d.mark(ep, nil, n)
		return []string{d.str(n, ep)}
	}
	var out []string
	d.list(n, path, func(e ast.Node, ep string) {
		out = append(out, d.str(e, ep))
	})
	return out
}

// strMap decodes a mapping of strings, such as header names to values.
func (d *decoder) strMap(n ast.Node, path string) map[string]string {
	ps := d.pairs(n, path)
	if len(ps) == 0 {
		return nil
	}
	out := make(map[string]string, len(ps))
	for _, p := range ps {
		kp := keyPath(path, p.key)
		d.mark(kp, p.keyN, p.val)
		out[p.key] = d.str(p.val, kp)
	}
	return out
}

// duration decodes a Go duration; see ParseDuration for why a bare number
// is refused.
func (d *decoder) duration(n ast.Node, path string) time.Duration {
	v, ok := d.value(n, path)
	if !ok || isNull(v) {
		return 0
	}
	var s string
	switch t := v.(type) {
	case *ast.StringNode:
		s = t.Value
	case *ast.IntegerNode, *ast.FloatNode:
		s = t.GetToken().Value
	default:
		d.fail(n, path, "expected a duration such as 500ms")
		return 0
	}
	dur, err := ParseDuration(s)
	if err != nil {
		d.fail(n, path, "%s", err.Error())
	}
	return dur
}

// size decodes a byte count: a plain integer or a string with a unit.
func (d *decoder) size(n ast.Node, path string) int64 {
	v, ok := d.value(n, path)
	if !ok || isNull(v) {
		return 0
	}
	var s string
	switch t := v.(type) {
	case *ast.StringNode:
		s = t.Value
	case *ast.IntegerNode:
		s = t.GetToken().Value
	default:
		d.fail(n, path, "expected a size such as 64KiB")
		return 0
	}
	sz, err := ParseSize(s)
	if err != nil {
		d.fail(n, path, "%s", err.Error())
	}
	return sz
}

// unsupported records a key whose feature comes in a later release.
// false means "off" and is accepted, so configs can say so explicitly.
func (d *decoder) unsupported(n ast.Node, path string) *Unsupported {
	v, ok := d.value(n, path)
	if !ok {
		return nil
	}
	if b, isBool := v.(*ast.BoolNode); isBool && !b.Value {
		return nil
	}
	key := path
	if i := len(parentPath(path)); i > 0 {
		key = path[i+1:]
	}
	return &Unsupported{Key: key, Pos: d.at(path)}
}
