// Package router owns the route table: the read-only structure, compiled once
// per configuration generation, that picks for each request the handler of
// one route. A Table is built by NewTable from Rules in file order and is then
// shared without locks by every request of its generation; Lookup allocates
// nothing.
//
// The table only chooses. It does not read configuration, build handlers or
// middleware, rewrite requests, or keep any state between requests: each Rule
// arrives with its http.Handler already built. Turning config routes into
// Rules and handler chains is the job of the route builder in this package;
// listeners and the atomic generation swap belong to internal/listener.
//
// # Matching
//
// Hosts are compared case-insensitively (ASCII). The request host has its
// port removed ("example.com:8080", "[::1]:8080"), IPv6 brackets dropped and
// one trailing dot ignored. A rule host is exact ("example.com", "::1") or a
// wildcard ("*.example.com") that matches a subdomain at any depth
// ("a.example.com", "a.b.example.com") but not "example.com" itself. IPv6
// literals are compared as text, so rules should use the canonical form
// clients send ("::1", not "0:0::1"). A rule without hosts matches any host.
//
// Paths are case-sensitive and compared with the already-cleaned, decoded
// request path (r.URL.Path). A rule path is percent-decoded once when
// compiled, so "/my%20files" matches the request "/my%20files" (and
// "/a%2Fb" is the same rule as "/a/b").
// A prefix respects segments: "/api" matches "/api", "/api/" and "/api/x" but
// not "/apix"; "/api/" matches "/api/" and "/api/x" and, as users expect, also
// "/api"; "/" matches every path. An Exact rule matches only its own path.
//
// Methods (case-sensitive), headers (canonical name, exact value; any of the
// header's values may match) and listeners are filters: a rule whose filter
// fails is skipped as if its path had not matched.
//
// # Precedence
//
// Among the rules that match a request, the winner is chosen by, in order:
//
//  1. Host class: an exact host beats a wildcard; a longer wildcard suffix
//     ("*.a.example.com") beats a shorter one ("*.example.com"); any wildcard
//     beats rules without hosts. If no rule of a class matches (path or
//     filters), the next class is tried, so a catch-all "/" rule without
//     hosts still serves unknown hosts and the requests that every
//     host-specific rule rejects.
//  2. Path, within the winning class: the longest rule path wins, and at the
//     same length an Exact rule beats a prefix. A trailing-slash prefix that
//     matches its bare form ("/api/" matching "/api") counts as the bare path
//     and comes after the rules written with that path, so an Exact "/api"
//     or a prefix "/api" wins "/api" over a prefix "/api/", while "/api/x"
//     goes to "/api/".
//  3. File order: the earlier rule wins the remaining ties.
package router

import (
	"errors"
	"fmt"
	"math"
	"net/http"
)

// Rule is one route's match, in file order.
type Rule struct {
	// Hosts are exact ("example.com", "::1") or wildcard ("*.example.com")
	// names, matched case-insensitively; a trailing dot is ignored. Empty
	// means any host.
	Hosts []string
	// Path starts with "/". It is a segment-respecting prefix unless Exact.
	// Percent-escapes are decoded; a literal "%" is written "%25".
	Path string
	// Exact makes Path match only a request path equal to it.
	Exact bool
	// Methods are case-sensitive method names ("GET"); empty means any.
	Methods []string
	// Headers are (name, value) pairs that must all be present; the value
	// must equal one of the header's values exactly. Names are
	// canonicalised.
	Headers [][2]string
	// Listeners are listener names; empty means every listener.
	Listeners []string
	// Handler serves the requests this rule wins. It must not be nil.
	Handler http.Handler
}

// Table is a compiled set of Rules. It is immutable and safe for concurrent
// use. The zero Table and a nil *Table match nothing.
type Table struct {
	rules []compiled

	exact   map[string]*class // lowercase host → its rules
	wild    map[string]*class // lowercase suffix with its dot (".example.com") → its rules
	wildMax int               // length of the longest key in wild
	any     *class            // rules without hosts; nil if none
}

// compiled holds what Lookup needs of one rule once its path has matched.
type compiled struct {
	handler   http.Handler
	methods   []string
	headers   [][2]string
	listeners []string
}

// NewTable compiles rules, whose order is the file order. It returns every
// invalid input it finds, each naming its rule by index. The table copies
// what it needs; rules may be changed afterwards.
func NewTable(rules []Rule) (*Table, error) {
	if len(rules) > math.MaxInt32 {
		return nil, errors.New("router: too many rules")
	}
	t := &Table{rules: make([]compiled, len(rules))}
	var b builder
	var errs []error
	for i := range rules {
		c, cands, hosts, rerrs := compileRule(int32(i), &rules[i])
		for _, err := range rerrs {
			errs = append(errs, fmt.Errorf("rule %d: %w", i, err))
		}
		if len(rerrs) > 0 {
			continue
		}
		t.rules[i] = c
		b.add(hosts, cands)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	t.exact, t.wild = b.exact.classes(), b.wild.classes()
	if len(b.any) > 0 {
		t.any = newClass(b.any)
	}
	t.wildMax = b.wildMax
	return t, nil
}

// builder gathers the candidates of each host class while rules compile.
type builder struct {
	exact, wild candMap
	any         []cand
	wildMax     int
}

type candMap map[string][]cand

// add files one rule's candidates under each of its host keys.
func (b *builder) add(hosts []hostKey, cands []cand) {
	if len(hosts) == 0 {
		b.any = append(b.any, cands...)
		return
	}
	for _, h := range hosts {
		m := &b.exact
		if h.wild {
			m = &b.wild
			b.wildMax = max(b.wildMax, len(h.key))
		}
		if *m == nil {
			*m = make(candMap)
		}
		(*m)[h.key] = append((*m)[h.key], cands...)
	}
}

func (m candMap) classes() map[string]*class {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]*class, len(m))
	for k, cs := range m {
		out[k] = newClass(cs)
	}
	return out
}

// Lookup returns the handler of the best matching rule, or nil if none
// matches. listener is the name of the listener the request came on ("" if
// unnamed); host is r.Host as received (any case, maybe with a port or in
// IPv6 brackets); path is the cleaned request path. r supplies the method
// and headers; if r is nil, rules with method or header filters are skipped.
func (t *Table) Lookup(listener, host, path string, r *http.Request) http.Handler {
	i := t.LookupIndex(listener, host, path, r)
	if i < 0 {
		return nil
	}
	return t.rules[i].handler
}

// LookupIndex is Lookup returning the index of the winning rule, or -1.
func (t *Table) LookupIndex(listener, host, path string, r *http.Request) int {
	if t == nil {
		return -1
	}
	if len(t.exact) > 0 || len(t.wild) > 0 {
		if i := t.lookupHost(listener, host, path, r); i >= 0 {
			return i
		}
	}
	return t.scan(t.any, listener, path, r)
}

// lookupHost tries the exact-host class, then the wildcard suffixes longest
// first.
func (t *Table) lookupHost(listener, host, path string, r *http.Request) int {
	var buf [hostBufLen]byte
	key, off := hostKeyOf(&buf, host)
	if off == 0 && len(t.exact) > 0 {
		if c, ok := t.exact[string(key)]; ok {
			if i := t.scan(c, listener, path, r); i >= 0 {
				return i
			}
		}
	}
	if len(t.wild) == 0 {
		return -1
	}
	// Each dot after the host's first byte starts a suffix that a wildcard
	// may name; the leftmost is the longest.
	for j := max(len(key)-t.wildMax, 0); j < len(key); j++ {
		if key[j] != '.' || off+j == 0 {
			continue
		}
		if c, ok := t.wild[string(key[j:])]; ok {
			if i := t.scan(c, listener, path, r); i >= 0 {
				return i
			}
		}
	}
	return -1
}

// scan returns the best rule of the class that matches, or -1.
func (t *Table) scan(c *class, listener, path string, r *http.Request) int {
	if c == nil {
		return -1
	}
	return c.find(t, listener, path, r)
}

// first returns the rule of the first candidate whose path and filters
// match.
func (t *Table) first(cs []cand, listener, path string, r *http.Request) int {
	for k := range cs {
		cd := &cs[k]
		if cd.matches(path) && t.rules[cd.rule].admits(listener, r) {
			return int(cd.rule)
		}
	}
	return -1
}
