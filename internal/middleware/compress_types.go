package middleware

import (
	"strings"

	"github.com/portico-proxy/portico/internal/httpsyntax"
)

// typeMatcher is a compiled list of media type patterns: exact
// ("application/json"), a whole type ("text/*") or a structured suffix
// ("application/*+json").
type typeMatcher struct {
	exact    map[string]bool
	prefixes []string    // "text/"
	suffixes [][2]string // {"application/", "+json"}
}

func newTypeMatcher(patterns []string) typeMatcher {
	m := typeMatcher{exact: map[string]bool{}}
	for _, p := range patterns {
		typ, sub, _ := strings.Cut(strings.ToLower(p), "/")
		switch {
		case sub == "*":
			m.prefixes = append(m.prefixes, typ+"/")
		case strings.HasPrefix(sub, "*+"):
			m.suffixes = append(m.suffixes, [2]string{typ + "/", sub[1:]})
		default:
			m.exact[typ+"/"+sub] = true
		}
	}
	return m
}

// match reports whether a Content-Type value is in the list. Parameters
// (charset) are ignored; names are compared case-insensitively.
func (m *typeMatcher) match(ct string) bool {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = httpsyntax.TrimOWS(ct)
	if ct == "" {
		return false
	}
	if hasUpper(ct) {
		ct = strings.ToLower(ct) // rare: senders write types in lowercase
	}
	if m.exact[ct] {
		return true
	}
	for _, p := range m.prefixes {
		if strings.HasPrefix(ct, p) {
			return true
		}
	}
	for _, s := range m.suffixes {
		if strings.HasPrefix(ct, s[0]) && strings.HasSuffix(ct, s[1]) {
			return true
		}
	}
	return false
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// hasToken reports whether a comma-separated field has tok (lowercase),
// compared case-insensitively.
func hasToken(vv []string, tok string) bool {
	for _, v := range vv {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if t = httpsyntax.TrimOWS(t); len(t) == len(tok) && strings.EqualFold(t, tok) {
				return true
			}
		}
	}
	return false
}
