package config

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Load reads, parses, defaults and validates the config file at path. The
// error, if any, is an Errors listing every problem found.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse is Load for a config already in memory; file names it in errors.
// On error the returned Config is nil: a half-valid config must not run.
func Parse(file string, data []byte) (*Config, error) {
	c, errs := parse(file, data)
	if err := errs.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// parse decodes, defaults and validates, returning the Config even when
// there are errors, for tests that look at both.
func parse(file string, data []byte) (*Config, Errors) {
	d := newDecoder(file)
	c := &Config{File: file, pos: d.pos}
	if errs := d.parseYAML(c, data); errs != nil {
		return c, errs
	}
	ApplyDefaults(c)
	errs := d.errs
	var verrs Errors
	// After the expansion budget ran out, parts of the tree were skipped
	// and every check of them would be noise.
	if err := c.Validate(); err != nil && !d.spent {
		verrs = err.(Errors)
	}
	// A value that failed to decode left a zero behind; Validate's view of
	// that zero would be a second, misleading error for the same mistake.
	for _, e := range verrs {
		if !d.covers(e.Path) {
			errs = append(errs, e)
		}
	}
	// Every error of a file gets a position, even when the file has no
	// mapping to point at (a document of only comments).
	for _, e := range errs {
		if e.Line == 0 {
			e.Line, e.Column = 1, 1
		}
	}
	return c, errs
}

// covers reports whether path or one of its ancestors failed to decode.
func (d *decoder) covers(path string) bool {
	for {
		if d.bad[path] {
			return true
		}
		if path == "" {
			return false
		}
		path = parentPath(path)
	}
}

// parseYAML turns data into an AST and decodes it into c. It returns
// errors only for a syntax error, which ends the run: after one, goccy has
// no tree to walk.
func (d *decoder) parseYAML(c *Config, data []byte) Errors {
	if p, deep := tooDeep(data); deep {
		return Errors{{File: d.file, Line: p.Line, Column: p.Column,
			Msg: fmt.Sprintf("flow collections ([...] and {...}) nested deeper than %d", maxFlowDepth)}}
	}
	f, err := parseAST(data)
	if err != nil {
		return Errors{d.syntaxError(err)}
	}
	docs := 0
	for _, doc := range f.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if _, ok := doc.Body.(*ast.DirectiveNode); ok { // %YAML 1.2
			continue
		}
		if docs++; docs > 1 {
			d.report(posOf(doc.Body), "", "only one YAML document is allowed")
			continue
		}
		d.mark("", nil, doc.Body)
		d.collectAnchors(doc.Body)
		c.decode(d, doc.Body, "")
	}
	return nil
}

// parseAST runs goccy/go-yaml's parser. Duplicate keys are left to the
// decoder, which reports all of them instead of stopping at the first.
func parseAST(data []byte) (f *ast.File, err error) {
	defer func() {
		// The parser is not fuzzed as hard as this loader: a panic in it
		// must be a config error, not a crash during a reload.
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("parser panic: %v", r)
		}
	}()
	return parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
}

// syntaxError converts a goccy error into our file:line:col form, without
// the source excerpt goccy appends.
func (d *decoder) syntaxError(err error) *Error {
	e := &Error{File: d.file, Line: 1, Column: 1, Msg: "invalid YAML: " + err.Error()}
	var ye yaml.Error
	if errors.As(err, &ye) {
		e.Msg = "invalid YAML: " + ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil && tk.Position.Line > 0 {
			e.Line, e.Column = tk.Position.Line, max(tk.Position.Column, 1)
		}
	}
	return e
}

// maxFlowDepth is far beyond any config; goccy/go-yaml takes time
// quadratic in flow nesting (50,000 brackets take seconds).
const maxFlowDepth = 64

// tooDeep finds the first bracket nested deeper than maxFlowDepth. It
// skips quoted text and comments; brackets inside plain scalars and block
// text count, which only matters for absurd input.
func tooDeep(data []byte) (Pos, bool) {
	depth, line, col := 0, 1, 0
	var quote byte
	comment := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		col++
		switch {
		case c == '\n':
			line, col, comment = line+1, 0, false
			continue
		case comment:
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
				col++
			} else if c == quote {
				quote = 0
			}
		case (c == '"' || c == '\'') && (i == 0 || strings.IndexByte(" \t[{,:", data[i-1]) >= 0):
			quote = c
		case c == '#' && (i == 0 || data[i-1] == ' ' || data[i-1] == '\t'):
			comment = true
		case c == '[' || c == '{':
			if depth++; depth > maxFlowDepth {
				return Pos{Line: line, Column: col}, true
			}
		case c == ']' || c == '}':
			depth = max(depth-1, 0)
		}
	}
	return Pos{}, false
}
