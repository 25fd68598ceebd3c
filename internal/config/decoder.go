package config

import (
	"fmt"
	"math"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// decoder walks the YAML AST into the schema structs by hand. Each schema
// type has a decode method that says which keys it takes, so a shorthand is
// one `if` at the top of that method. The decoder keeps going after an
// error, so one run reports everything.
type decoder struct {
	file string
	errs Errors
	pos  posTable
	// bad holds the paths whose values could not be decoded, so that
	// Validate's complaints about the resulting zero values are dropped.
	bad     map[string]bool
	anchors map[string][]*ast.AnchorNode
	// budget bounds the values that aliases and merge keys may expand to:
	// aliases of aliases grow like the billion laughs. spent is set once
	// it ran out and the error was reported.
	budget     int
	spent      bool
	anchorSize map[*ast.AnchorNode]int
	aliases    map[aliasUse]*ast.AnchorNode
}

// maxExpansion is far above any hand-written config and far below what
// would stall a reload.
const maxExpansion = 100_000

func newDecoder(file string) *decoder {
	return &decoder{
		file:       file,
		pos:        posTable{},
		bad:        map[string]bool{},
		anchors:    map[string][]*ast.AnchorNode{},
		budget:     maxExpansion,
		anchorSize: map[*ast.AnchorNode]int{},
		aliases:    map[aliasUse]*ast.AnchorNode{},
	}
}

// field is one key a mapping accepts and how to decode its value.
type field struct {
	key string
	dec func(n ast.Node, path string)
}

// report records a problem that leaves the value usable, such as an
// unknown or repeated key.
func (d *decoder) report(p Pos, path, format string, args ...any) {
	if p.Line == 0 {
		p = d.pos.find(path)
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: p.Line, Column: p.Column,
		Path: path, Msg: fmt.Sprintf(format, args...)})
}

// fail records a value that could not be decoded.
func (d *decoder) fail(n ast.Node, path, format string, args ...any) {
	d.bad[path] = true
	d.report(posOf(n), path, format, args...)
}

// mark records where path was written. A block collection starts on the
// line after its key; the key's line is where a reader looks for it.
func (d *decoder) mark(path string, key, val ast.Node) {
	p := posOf(val)
	if key != nil {
		if kp := posOf(key); kp.Line > 0 && (p.Line == 0 || p.Line != kp.Line) {
			p = kp
		}
	}
	if p.Line > 0 {
		d.pos[path] = p
	}
}

// at is the recorded position of path, for the Pos fields.
func (d *decoder) at(path string) Pos { return d.pos.find(path) }

// posOf is where a node starts. A block mapping's own token is the colon
// after its first key, so the key is used instead.
func posOf(n ast.Node) Pos {
	if n == nil {
		return Pos{}
	}
	if m, ok := n.(*ast.MappingNode); ok && !m.IsFlowStyle && len(m.Values) > 0 && m.Values[0].Key != nil {
		return posOf(m.Values[0].Key)
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return Pos{}
	}
	return Pos{Line: tk.Position.Line, Column: tk.Position.Column}
}

// collectAnchors indexes every anchor before decoding starts, so aliases
// resolve even when their anchor sits in a subtree the decoder skips.
func (d *decoder) collectAnchors(n ast.Node) {
	ast.Walk(anchorVisitor{d}, n)
}

type anchorVisitor struct{ d *decoder }

func (v anchorVisitor) Visit(n ast.Node) ast.Visitor {
	if a, ok := n.(*ast.AnchorNode); ok && a.Name != nil {
		name := a.Name.GetToken().Value
		v.d.anchors[name] = append(v.d.anchors[name], a)
	}
	return v
}

// value strips anchors, tags and aliases off n. It returns false after
// reporting an alias it cannot resolve.
func (d *decoder) value(n ast.Node, path string) (ast.Node, bool) {
	// The bound stops "&a *a", an alias inside its own anchor.
	for range 32 {
		switch t := n.(type) {
		case *ast.AnchorNode:
			n = t.Value
		case *ast.TagNode:
			n = t.Value
		case *ast.AliasNode:
			a, ok := d.resolve(t, path)
			if !ok {
				return nil, false
			}
			n = a.Value
		case *ast.MappingNode:
			if s := glued(t); s != nil {
				return s, true
			}
			return n, true
		default:
			return n, n != nil
		}
	}
	d.fail(n, path, "alias refers to itself")
	return nil, false
}

// glued undoes a goccy/go-yaml misparse: inside a flow mapping, the flow
// sequence entry http://x:81 comes back as the mapping {"http://x": 81}.
// YAML needs a space after the colon of a key, so a plain key glued to its
// value can only have been one scalar.
func glued(m *ast.MappingNode) *ast.StringNode {
	if m.IsFlowStyle || len(m.Values) != 1 || m.Values[0].Key == nil || m.Values[0].Start == nil {
		return nil
	}
	mv := m.Values[0]
	kt, colon, vt := mv.Key.GetToken(), mv.Start, mv.Value
	if kt == nil || kt.Type != token.StringType || vt == nil || !isScalar(vt) || vt.GetToken() == nil {
		return nil
	}
	cp, vp := colon.Position, vt.GetToken().Position
	if cp == nil || vp == nil || cp.Line != vp.Line || cp.Column+1 != vp.Column {
		return nil
	}
	tk := *kt
	tk.Value = kt.Value + ":" + vt.GetToken().Value
	return &ast.StringNode{BaseNode: &ast.BaseNode{}, Token: &tk, Value: tk.Value}
}

// resolve finds the anchor of an alias used at path. Decode methods may
// look at one value twice (for a shorthand, then as a mapping), so the
// answer is kept: the second look must neither report nor pay again.
func (d *decoder) resolve(al *ast.AliasNode, path string) (*ast.AnchorNode, bool) {
	key := aliasUse{al, path}
	if a, seen := d.aliases[key]; seen {
		return a, a != nil
	}
	a := d.anchorFor(al)
	if a == nil {
		d.fail(al, path, "undefined alias %q", aliasName(al))
	} else if !d.spend(al, path, d.sizeOf(a)) {
		a = nil
	}
	d.aliases[key] = a
	return a, a != nil
}

type aliasUse struct {
	alias *ast.AliasNode
	path  string
}

// anchorFor finds the anchor an alias names: the last one defined before
// it, since YAML lets a later anchor reuse a name.
func (d *decoder) anchorFor(al *ast.AliasNode) *ast.AnchorNode {
	at := posOf(al)
	var found *ast.AnchorNode
	for _, a := range d.anchors[aliasName(al)] {
		p := posOf(a)
		if p.Line < at.Line || p.Line == at.Line && p.Column < at.Column {
			found = a
		}
	}
	return found
}

// spend takes n from the expansion budget, reporting once when it runs out.
func (d *decoder) spend(at ast.Node, path string, n int) bool {
	if d.spent {
		return false
	}
	if d.budget -= n; d.budget < 0 {
		d.spent = true
		d.fail(at, path, "aliases and merge keys expand to more than %d values", maxExpansion)
		return false
	}
	return true
}

func (d *decoder) sizeOf(a *ast.AnchorNode) int {
	if n, ok := d.anchorSize[a]; ok {
		return n
	}
	var c nodeCounter
	ast.Walk(&c, a)
	d.anchorSize[a] = int(c)
	return int(c)
}

type nodeCounter int

func (c *nodeCounter) Visit(n ast.Node) ast.Visitor {
	*c++
	return c
}

func aliasName(al *ast.AliasNode) string {
	if al.Value == nil || al.Value.GetToken() == nil {
		return ""
	}
	return al.Value.GetToken().Value
}

// isNull reports an explicit null or an empty value ("key:").
func isNull(n ast.Node) bool {
	_, ok := n.(*ast.NullNode)
	return ok
}

// isScalar reports whether n (already resolved) is a plain value, which
// selects a shorthand.
func isScalar(n ast.Node) bool {
	switch n.(type) {
	case *ast.StringNode, *ast.LiteralNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode:
		return true
	}
	return false
}

// str decodes a string. Numbers are taken as written, so a header value
// of 1 or a name of 2024 need no quotes; booleans are refused because
// `on`/`yes` surprises are worse than the quotes.
func (d *decoder) str(n ast.Node, path string) string {
	v, ok := d.value(n, path)
	if !ok {
		return ""
	}
	switch t := v.(type) {
	case *ast.StringNode:
		return t.Value
	case *ast.LiteralNode:
		if t.Value == nil {
			return ""
		}
		return t.Value.Value
	case *ast.IntegerNode, *ast.FloatNode:
		return t.GetToken().Value
	case *ast.NullNode:
		return ""
	}
	d.fail(n, path, "expected a string")
	return ""
}

// toggle decodes a key that is a feature switch with settings: true is on
// with every default, false is off, a mapping (or nothing) is on with
// these fields. ok is false when the value is none of these; the error is
// recorded.
func (d *decoder) toggle(n ast.Node, path string, fields []field) (on, ok bool) {
	v, ok := d.value(n, path)
	if !ok {
		return false, false
	}
	switch t := v.(type) {
	case *ast.BoolNode:
		return t.Value, true
	case *ast.MappingNode, *ast.NullNode:
		d.mapping(n, path, fields)
		return true, true
	}
	d.fail(n, path, "expected true, false or a mapping")
	return false, false
}

func (d *decoder) boolean(n ast.Node, path string) bool {
	v, ok := d.value(n, path)
	if !ok {
		return false
	}
	switch t := v.(type) {
	case *ast.BoolNode:
		return t.Value
	case *ast.NullNode:
		return false
	}
	d.fail(n, path, "expected true or false")
	return false
}

// integer decodes a whole number no smaller than lo.
func (d *decoder) integer(n ast.Node, path string, lo int) int {
	v, ok := d.value(n, path)
	if !ok {
		return 0
	}
	if isNull(v) {
		return 0
	}
	t, ok := v.(*ast.IntegerNode)
	if !ok {
		d.fail(n, path, "expected an integer")
		return 0
	}
	var i int64
	switch x := t.Value.(type) {
	case int64:
		i = x
	case uint64:
		i = math.MaxInt64
		if x < math.MaxInt64 {
			i = int64(x)
		}
	}
	if i > math.MaxInt32 {
		d.fail(n, path, "%s is too large", t.GetToken().Value)
		return 0
	}
	if i < int64(lo) {
		if lo == 0 {
			d.fail(n, path, "must not be negative")
		} else {
			d.fail(n, path, "must be at least %d", lo)
		}
		return 0
	}
	return int(i)
}
