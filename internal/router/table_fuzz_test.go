package router

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// The reference matcher below implements the documented precedence naively:
// it scores every rule against the request and keeps the best. It shares no
// code with the table.

// refScore orders matching rules; greater is better, ties go to the earlier
// rule.
type refScore struct {
	hostClass int // 2 exact, 1 wildcard, 0 no hosts
	wildLen   int // with hostClass 1: length of the suffix
	pathLen   int
	kindRank  int // 0 exact, 1 prefix, 2 "/api/" matching "/api"; lower is better
}

func (a refScore) better(b refScore) bool {
	switch {
	case a.hostClass != b.hostClass:
		return a.hostClass > b.hostClass
	case a.wildLen != b.wildLen:
		return a.wildLen > b.wildLen
	case a.pathLen != b.pathLen:
		return a.pathLen > b.pathLen
	default:
		return a.kindRank < b.kindRank
	}
}

func refLookup(rules []Rule, listener, host, path string, r *http.Request) int {
	h := refNormHost(host)
	best, bestScore := -1, refScore{}
	for i, rule := range rules {
		hostClass, wildLen, ok := refHostScore(rule.Hosts, h)
		if !ok {
			continue
		}
		pathLen, kindRank, ok := refPathScore(rule, path)
		if !ok || !refFilters(rule, listener, r) {
			continue
		}
		s := refScore{hostClass, wildLen, pathLen, kindRank}
		if best < 0 || s.better(bestScore) {
			best, bestScore = i, s
		}
	}
	return best
}

func refLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c - 'A' + 'a'
		}
	}
	return string(b)
}

func refNormHost(host string) string {
	if strings.HasPrefix(host, "[") {
		if end := strings.Index(host, "]"); end >= 0 {
			return refLower(host[1:end])
		}
		return refLower(host)
	}
	if strings.Count(host, ":") == 1 {
		host, _, _ = strings.Cut(host, ":")
	}
	return refLower(strings.TrimSuffix(host, "."))
}

func refHostScore(hosts []string, h string) (class, wildLen int, ok bool) {
	if len(hosts) == 0 {
		return 0, 0, true
	}
	for _, rh := range hosts {
		rh = refLower(strings.TrimSuffix(strings.Trim(rh, "[]"), "."))
		if suffix, isWild := strings.CutPrefix(rh, "*"); isWild {
			if len(h) > len(suffix) && strings.HasSuffix(h, suffix) && (class < 1 || class == 1 && len(suffix) > wildLen) {
				class, wildLen, ok = 1, len(suffix), true
			}
		} else if h == rh {
			return 2, 0, true
		}
	}
	return class, wildLen, ok
}

func refPathScore(rule Rule, path string) (length, rank int, ok bool) {
	p := rule.Path
	switch {
	case rule.Exact:
		return len(p), 0, path == p
	case p == "/":
		return 1, 1, true
	case strings.HasSuffix(p, "/"):
		if strings.HasPrefix(path, p) {
			return len(p), 1, true
		}
		return len(p) - 1, 2, path == p[:len(p)-1]
	default:
		return len(p), 1, path == p || strings.HasPrefix(path, p+"/")
	}
}

func refFilters(rule Rule, listener string, r *http.Request) bool {
	if len(rule.Listeners) > 0 && !slices.Contains(rule.Listeners, listener) {
		return false
	}
	if len(rule.Methods) > 0 && (r == nil || !slices.Contains(rule.Methods, r.Method)) {
		return false
	}
	for _, h := range rule.Headers {
		if r == nil || !slices.Contains(r.Header.Values(h[0]), h[1]) {
			return false
		}
	}
	return true
}

// fuzzRules is the fixed table of FuzzLookup: every host form, path kind
// and filter, small classes and classes large enough to be indexed.
func fuzzRules() []Rule {
	rules := []Rule{
		{Hosts: []string{"example.com"}, Path: "/"},
		{Hosts: []string{"example.com"}, Path: "/api/", Methods: []string{"GET"}},
		{Hosts: []string{"example.com"}, Path: "/api", Exact: true},
		{Hosts: []string{"Mixed.Example.ORG."}, Path: "/a/b/"},
		{Hosts: []string{"*.example.com"}, Path: "/"},
		{Hosts: []string{"*.a.example.com"}, Path: "/api", Headers: [][2]string{{"X-A", "1"}}},
		{Hosts: []string{"*.a.example.com", "b.example.com"}, Path: "/a"},
		{Hosts: []string{"*.com"}, Path: "/api/v1/", Listeners: []string{"int"}},
		{Hosts: []string{"::1", "[2001:db8::1]"}, Path: "/"},
		{Hosts: []string{"127.0.0.1"}, Path: "/api"},
		{Path: "/", Exact: true},
		{Path: "/api/"},
		{Path: "/api", Methods: []string{"POST"}},
		{Path: "/x y/"},
		{Path: "/a", Listeners: []string{"pub"}},
	}
	// Big classes, indexed by path: one exact host and the no-host class.
	for i := range 20 {
		rules = append(rules,
			Rule{Hosts: []string{"big.example.com"}, Path: fmt.Sprintf("/s%d/", i%7), Exact: i%5 == 0},
			Rule{Hosts: []string{"big.example.com"}, Path: fmt.Sprintf("/s%d/t%d", i%7, i%3), Methods: []string{"GET"}},
			Rule{Path: fmt.Sprintf("/s%d", i%6), Headers: [][2]string{{"X-A", fmt.Sprint(i % 3)}}},
			Rule{Path: fmt.Sprintf("/s%d/t%d/", i%6, i%4), Exact: i%4 == 0},
		)
	}
	rules = append(rules, Rule{Hosts: []string{"big.example.com"}, Path: "/"}, Rule{Path: "/"})
	return rules
}

var fuzzListeners = []string{"", "pub", "int", "other"}

func FuzzLookup(f *testing.F) {
	for _, seed := range []struct {
		listener           uint8
		host, path, method string
		headerValue        string
	}{
		{0, "example.com", "/api", "GET", ""},
		{1, "EXAMPLE.COM.:8080", "/api/x", "POST", "1"},
		{2, "x.a.example.com", "/api/v1/users", "GET", "1"},
		{3, "b.example.com", "/a/b", "PUT", "2"},
		{0, "[::1]:443", "/", "GET", ""},
		{0, "[2001:DB8::1]", "/x y/z", "GET", ""},
		{1, "::1", "*", "OPTIONS", ""},
		{0, "big.example.com", "/s3/t1/x", "GET", "0"},
		{0, "unknown.test", "/s5/t2/", "HEAD", "2"},
		{0, strings.Repeat("a.", 150) + "example.com", "/", "GET", ""},
		{0, "", "", "", ""},
		{0, "[", "/api/", "GET", ""},
		{0, "mixed.example.org", "/a/b", "GET", ""},
	} {
		f.Add(seed.listener, seed.host, seed.path, seed.method, seed.headerValue)
	}
	rules := fuzzRules()
	tab := newTestTable(f, rules)
	f.Fuzz(func(t *testing.T, listenerIdx uint8, host, path, method, headerValue string) {
		listener := fuzzListeners[int(listenerIdx)%len(fuzzListeners)]
		r := &http.Request{Method: method, Header: http.Header{"X-A": {headerValue}}}
		got := tab.LookupIndex(listener, host, path, r)
		want := refLookup(rules, listener, host, path, r)
		if got != want {
			t.Fatalf("LookupIndex(%q, %q, %q) method %q X-A %q = %d, want %d", listener, host, path, method, headerValue, got, want)
		}
		var wantHandler http.Handler
		if want >= 0 {
			wantHandler = rules[want].Handler
		}
		if h := tab.Lookup(listener, host, path, r); h != wantHandler {
			t.Fatalf("Lookup(%q, %q, %q) = %v, want %v", listener, host, path, h, wantHandler)
		}
	})
}

// TestLookupMatchesReference checks random tables, not just FuzzLookup's
// fixed one, against the reference matcher.
func TestLookupMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	hosts := []string{"example.com", "a.example.com", "*.example.com", "*.a.example.com", "*.com", "EXAMPLE.com.", "::1"}
	paths := []string{"/", "/a", "/a/", "/a/b", "/a/b/", "/ab", "/b", "/b/c/"}
	reqHosts := []string{"example.com", "A.example.com:80", "x.a.example.com", "x.y.a.example.com.", "other.com", "[::1]:1", "", "com"}
	reqPaths := []string{"/", "/a", "/a/", "/a/b", "/a/b/", "/a/bc", "/ab", "/b/c", "/b/c/d", "/c", "*", ""}
	pick := func(list []string) string { return list[rng.IntN(len(list))] }
	for round := range 300 {
		rules := make([]Rule, 1+rng.IntN(60))
		for i := range rules {
			r := &rules[i]
			for range rng.IntN(3) {
				r.Hosts = append(r.Hosts, pick(hosts))
			}
			r.Path, r.Exact = pick(paths), rng.IntN(4) == 0
			if rng.IntN(4) == 0 {
				r.Methods = []string{pick([]string{"GET", "POST"})}
			}
			if rng.IntN(5) == 0 {
				r.Headers = [][2]string{{"X-A", pick([]string{"1", "2"})}}
			}
			if rng.IntN(5) == 0 {
				r.Listeners = []string{pick([]string{"pub", "int"})}
			}
		}
		tab := newTestTable(t, rules)
		for range 50 {
			listener, host, path := pick(fuzzListeners), pick(reqHosts), pick(reqPaths)
			r := &http.Request{Method: pick([]string{"GET", "POST"}), Header: http.Header{"X-A": {pick([]string{"1", "2"})}}}
			if got, want := tab.LookupIndex(listener, host, path, r), refLookup(rules, listener, host, path, r); got != want {
				t.Fatalf("round %d: LookupIndex(%q, %q, %q) method %s X-A %s = %d, want %d\nrules: %+v",
					round, listener, host, path, r.Method, r.Header.Get("X-A"), got, want, rules)
			}
		}
	}
}
