package config

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Error is one problem in a config file, positioned so that editors and
// terminals can jump to it.
type Error struct {
	File   string
	Line   int    // 1-based; 0 when the config was built in code
	Column int    // 1-based
	Path   string // key path such as "routes[0].match.path"; "" for the whole file
	Msg    string
}

// Error prints FILE:LINE:COL: PATH: MSG, leaving out the parts that are
// unknown (no position for configs built in code, no path for syntax errors).
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		if e.File != "" {
			b.WriteByte(':')
		}
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Column))
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one config, sorted by position. Load,
// Parse and Validate return it as their error so a user fixes a file in one
// round instead of one error per run.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sort orders by line then column; ties keep the order they were found in,
// which follows the file.
func (es Errors) sort() {
	slices.SortStableFunc(es, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
}

// err returns es as an error, or a true nil when empty: a nil Errors in an
// error interface would not compare equal to nil.
func (es Errors) err() error {
	if len(es) == 0 {
		return nil
	}
	es.sort()
	return es
}

// posTable records where each key path was written.
type posTable map[string]Pos

// find returns the position of path, or of its nearest written ancestor:
// a missing key is reported where its parent mapping is.
func (t posTable) find(path string) Pos {
	for {
		if p, ok := t[path]; ok {
			return p
		}
		if path == "" {
			return Pos{}
		}
		path = parentPath(path)
	}
}

// parentPath strips the last ".key", "[i]" or `["key"]` from path.
func parentPath(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndex(path, "["); i >= 0 {
			// A quoted key may itself contain "[": look for the opening
			// of the quoted form first.
			if j := strings.LastIndex(path, `["`); j >= 0 && strings.HasSuffix(path, `"]`) {
				i = j
			}
			return path[:i]
		}
	}
	if i := strings.LastIndex(path, "."); i >= 0 {
		return path[:i]
	}
	return ""
}

// keyPath appends a map key to path, quoting keys that would not read back
// as one path element.
func keyPath(path, key string) string {
	if key == "" || strings.ContainsFunc(key, func(r rune) bool {
		return !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// indexPath appends a list index to path.
func indexPath(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}
