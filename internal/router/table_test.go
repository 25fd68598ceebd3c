package router

import (
	"net/http"
	"strings"
	"testing"
)

// ruleID is a handler that remembers which rule it belongs to.
type ruleID int

func (ruleID) ServeHTTP(http.ResponseWriter, *http.Request) {}

// newTestTable fills missing handlers with ruleID(i) and fails the test on
// a compile error.
func newTestTable(t testing.TB, rules []Rule) *Table {
	t.Helper()
	for i := range rules {
		if rules[i].Handler == nil {
			rules[i].Handler = ruleID(i)
		}
	}
	tab, err := NewTable(rules)
	if err != nil {
		t.Fatalf("NewTable: %v", err)
	}
	return tab
}

// req is the part of a request the table looks at.
type req struct {
	listener string
	host     string
	path     string
	method   string
	headers  map[string][]string
}

func (q req) lookup(tab *Table) int {
	r := &http.Request{Method: q.method, Header: http.Header(q.headers)}
	if r.Method == "" {
		r.Method = http.MethodGet
	}
	path := q.path
	if path == "" {
		path = "/"
	}
	return tab.LookupIndex(q.listener, q.host, path, r)
}

type lookupCase struct {
	name  string
	rules []Rule
	req   req
	want  int
}

func runLookupCases(t *testing.T, cases []lookupCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tab := newTestTable(t, tc.rules)
			if got := tc.req.lookup(tab); got != tc.want {
				t.Errorf("LookupIndex(%q, %q, %q) = %d, want %d", tc.req.listener, tc.req.host, tc.req.path, got, tc.want)
			}
		})
	}
}

func TestPrecedence(t *testing.T) {
	runLookupCases(t, []lookupCase{
		{
			name: "exact host beats wildcard",
			rules: []Rule{
				{Hosts: []string{"*.example.com"}, Path: "/"},
				{Hosts: []string{"www.example.com"}, Path: "/"},
			},
			req:  req{host: "www.example.com"},
			want: 1,
		},
		{
			name: "exact host beats any host",
			rules: []Rule{
				{Path: "/"},
				{Hosts: []string{"example.com"}, Path: "/"},
			},
			req:  req{host: "example.com"},
			want: 1,
		},
		{
			name: "wildcard beats any host",
			rules: []Rule{
				{Path: "/"},
				{Hosts: []string{"*.example.com"}, Path: "/"},
			},
			req:  req{host: "a.example.com"},
			want: 1,
		},
		{
			name: "longer wildcard suffix beats shorter",
			rules: []Rule{
				{Hosts: []string{"*.example.com"}, Path: "/"},
				{Hosts: []string{"*.eu.example.com"}, Path: "/"},
			},
			req:  req{host: "a.eu.example.com"},
			want: 1,
		},
		{
			name: "host class beats path length",
			rules: []Rule{
				{Path: "/api/v1/users"},
				{Hosts: []string{"example.com"}, Path: "/"},
			},
			req:  req{host: "example.com", path: "/api/v1/users"},
			want: 1,
		},
		{
			name: "longer wildcard beats longer path",
			rules: []Rule{
				{Hosts: []string{"*.example.com"}, Path: "/api/v1"},
				{Hosts: []string{"*.eu.example.com"}, Path: "/"},
			},
			req:  req{host: "a.eu.example.com", path: "/api/v1"},
			want: 1,
		},
		{
			name: "longest path wins",
			rules: []Rule{
				{Path: "/"},
				{Path: "/api"},
				{Path: "/api/v1"},
				{Path: "/api/v"},
			},
			req:  req{path: "/api/v1/users"},
			want: 2,
		},
		{
			name: "exact path beats prefix of same path",
			rules: []Rule{
				{Path: "/api"},
				{Path: "/api", Exact: true},
			},
			req:  req{path: "/api"},
			want: 1,
		},
		{
			name: "longer prefix beats shorter exact",
			rules: []Rule{
				{Path: "/api", Exact: true},
				{Path: "/api/"},
			},
			req:  req{path: "/api/"},
			want: 1,
		},
		{
			name: "earlier rule wins a tie",
			rules: []Rule{
				{Path: "/api", Methods: []string{"POST"}},
				{Path: "/api"},
				{Path: "/api"},
			},
			req:  req{path: "/api/x"},
			want: 1,
		},
		{
			name: "earlier rule wins a tie across hosts of the same class",
			rules: []Rule{
				{Hosts: []string{"a.example.com", "example.com"}, Path: "/"},
				{Hosts: []string{"example.com"}, Path: "/"},
			},
			req:  req{host: "example.com"},
			want: 0,
		},
		{
			name: "trailing-slash prefix beats bare prefix below it",
			rules: []Rule{
				{Path: "/api"},
				{Path: "/api/"},
			},
			req:  req{path: "/api/x"},
			want: 1,
		},
		{
			name: "bare prefix beats trailing-slash prefix on the bare path",
			rules: []Rule{
				{Path: "/api/"},
				{Path: "/api"},
			},
			req:  req{path: "/api"},
			want: 1,
		},
		{
			name: "exact bare path beats trailing-slash prefix",
			rules: []Rule{
				{Path: "/api/"},
				{Path: "/api", Exact: true},
			},
			req:  req{path: "/api"},
			want: 1,
		},
		{
			name: "trailing-slash prefix beats shorter prefix on the bare path",
			rules: []Rule{
				{Path: "/"},
				{Path: "/ap"},
				{Path: "/api/"},
			},
			req:  req{path: "/api"},
			want: 2,
		},
		{
			name: "rule with exact and wildcard hosts counts as exact",
			rules: []Rule{
				{Hosts: []string{"example.com"}, Path: "/"},
				{Hosts: []string{"*.example.com", "a.example.com"}, Path: "/"},
				{Hosts: []string{"a.example.com"}, Path: "/x"},
			},
			req:  req{host: "a.example.com"},
			want: 1,
		},
	})
}

func TestNoMatch(t *testing.T) {
	runLookupCases(t, []lookupCase{
		{name: "empty table", rules: nil, req: req{host: "example.com"}, want: -1},
		{
			name:  "unknown host without catch-all",
			rules: []Rule{{Hosts: []string{"example.com"}, Path: "/"}},
			req:   req{host: "other.com"},
			want:  -1,
		},
		{
			name:  "path outside every prefix",
			rules: []Rule{{Path: "/api"}, {Path: "/static/"}},
			req:   req{path: "/apix"},
			want:  -1,
		},
	})
	var nilTable *Table
	if got := nilTable.Lookup("", "example.com", "/", nil); got != nil {
		t.Errorf("nil table: got %v, want nil", got)
	}
	tab := newTestTable(t, []Rule{{Path: "/api"}})
	if got := tab.Lookup("", "example.com", "/other", &http.Request{}); got != nil {
		t.Errorf("Lookup with no match: got %v, want nil", got)
	}
	if got := tab.Lookup("", "example.com", "/api", &http.Request{}); got != ruleID(0) {
		t.Errorf("Lookup: got %v, want handler of rule 0", got)
	}
}

func TestNewTableErrors(t *testing.T) {
	h := ruleID(0)
	cases := []struct {
		name string
		rule Rule
		want string // substring of the error
	}{
		{"empty path", Rule{Path: ""}, `rule 0: path "": empty`},
		{"path without leading slash", Rule{Path: "api"}, `path "api": must start with "/"`},
		{"path with double slash", Rule{Path: "/api//x"}, `contains "//"`},
		{"path with dot-dot segment", Rule{Path: "/api/../x"}, `".." segment`},
		{"path with dot segment", Rule{Path: "/api/."}, `"." segment`},
		{"path with query", Rule{Path: "/api?x=1"}, "not the query"},
		{"path with control byte", Rule{Path: "/api\n"}, "control byte"},
		{"path with an escaped double slash", Rule{Path: "/a%2F%2Fb"}, `contains "//"`},
		{"path with an escaped dot-dot segment", Rule{Path: "/a/%2e%2e/b"}, `".." segment`},
		{"path with an escaped control byte", Rule{Path: "/a%00"}, "control byte"},
		{"no handler", Rule{Path: "/", Handler: nil}, "no handler"},
		{"empty host", Rule{Path: "/", Hosts: []string{""}}, `host "": empty`},
		{"star host", Rule{Path: "/", Hosts: []string{"*"}}, "leave hosts empty"},
		{"wildcard in the middle", Rule{Path: "/", Hosts: []string{"a.*.com"}}, `leading "*."`},
		{"wildcard without dot", Rule{Path: "/", Hosts: []string{"*example.com"}}, `leading "*."`},
		{"host with port", Rule{Path: "/", Hosts: []string{"example.com:8080"}}, "port belongs to the listener"},
		{"bracketed host with port", Rule{Path: "/", Hosts: []string{"[::1]:8080"}}, "port belongs to the listener"},
		{"empty label", Rule{Path: "/", Hosts: []string{"a..com"}}, "empty label"},
		{"host with slash", Rule{Path: "/", Hosts: []string{"a/b.com"}}, "invalid character"},
		{"non-ASCII host", Rule{Path: "/", Hosts: []string{"bücher.de"}}, "punycode"},
		{"host too long", Rule{Path: "/", Hosts: []string{strings.Repeat("a.", 127) + "com"}}, "longer than 253"},
		{"lowercase method", Rule{Path: "/", Methods: []string{"get"}}, `write "GET"`},
		{"method with space", Rule{Path: "/", Methods: []string{"GE T"}}, "not a valid method"},
		{"header name with space", Rule{Path: "/", Headers: [][2]string{{"X Y", "1"}}}, "not a valid header name"},
		{"host header", Rule{Path: "/", Headers: [][2]string{{"host", "a"}}}, "use hosts"},
		{"header value with newline", Rule{Path: "/", Headers: [][2]string{{"X-A", "a\nb"}}}, "control byte"},
		{"header value with padding", Rule{Path: "/", Headers: [][2]string{{"X-A", " a"}}}, "leading or trailing space"},
		{"empty listener", Rule{Path: "/", Listeners: []string{""}}, "empty listener name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.rule
			if tc.name != "no handler" {
				r.Handler = h
			}
			tab, err := NewTable([]Rule{r})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewTable error = %v, want it to contain %q", err, tc.want)
			}
			if tab != nil {
				t.Errorf("NewTable table = %v, want nil on error", tab)
			}
		})
	}
}

func TestNewTableReportsEveryError(t *testing.T) {
	_, err := NewTable([]Rule{
		{Path: "/ok", Handler: ruleID(0)},
		{Path: "bad", Handler: ruleID(1), Methods: []string{"get"}},
		{Path: "/", Handler: ruleID(2), Hosts: []string{"*"}},
	})
	if err == nil {
		t.Fatal("NewTable error = nil, want errors for rules 1 and 2")
	}
	for _, want := range []string{`rule 1: path "bad"`, `rule 1: method "get"`, `rule 2: host "*"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("NewTable error = %q, want it to contain %q", err, want)
		}
	}
}

func TestNewTableAccepts(t *testing.T) {
	h := ruleID(0)
	rules := []Rule{
		{Path: "/", Hosts: []string{"Example.COM."}, Handler: h},
		{Path: "/", Hosts: []string{"[::1]", "2001:db8::1", "127.0.0.1", "_srv.local"}, Handler: h},
		{Path: "/a b/ü", Methods: []string{"GET", "GET", "M-SEARCH"}, Handler: h},
		{Path: "/", Headers: [][2]string{{"x-api-version", "2"}, {"X-Empty", ""}}, Handler: h},
		{Path: "/...", Exact: true, Handler: h},
	}
	if _, err := NewTable(rules); err != nil {
		t.Fatalf("NewTable: %v, want nil", err)
	}
}

// Request paths are matched decoded, so a rule path written with
// percent-escapes is decoded once when compiled: it matches the request that
// spells it the same way, and not only that request escaped a second time.
func TestRulePathEscapesAreDecoded(t *testing.T) {
	tab := newTestTable(t, []Rule{
		{Path: "/my%20files"},              // 0
		{Path: "/caf%C3%A9/", Exact: true}, // 1
		{Path: "/100%25"},                  // 2
		{Path: "/a%2Fb"},                   // 3
		{Path: "/"},                        // 4
		{Path: "/50%"},                     // 5: starts no escape, so literal
	})
	cases := []struct {
		path string // as the dispatcher hands it over: decoded and cleaned
		want int
	}{
		{"/my files", 0},   // "/my%20files" as sent
		{"/my files/x", 0}, // "/my%20files/x"
		{"/my%20files", 4}, // "/my%2520files": another name
		{"/café/", 1},      // "/caf%C3%A9/" or "/café/"
		{"/caf%C3%A9/", 4}, // "/caf%25C3%25A9/"
		{"/100%", 2},       // "/100%25"
		{"/100%25", 4},     // "/100%2525"
		{"/a/b", 3},        // "/a%2Fb" and "/a/b" are one path once decoded
		{"/a/b/c", 3},
		{"/50%", 5}, // "/50%25"
	}
	for _, tc := range cases {
		if got := (req{path: tc.path}).lookup(tab); got != tc.want {
			t.Errorf("path %q: got rule %d, want %d", tc.path, got, tc.want)
		}
	}
}

func TestNewTableCopiesRules(t *testing.T) {
	rules := []Rule{{Hosts: []string{"example.com"}, Path: "/api", Methods: []string{"GET"}, Handler: ruleID(0)}}
	tab, err := NewTable(rules)
	if err != nil {
		t.Fatal(err)
	}
	rules[0].Hosts[0] = "other.com"
	rules[0].Methods[0] = "POST"
	rules[0].Path = "/other"
	if got := tab.LookupIndex("", "example.com", "/api", &http.Request{Method: "GET"}); got != 0 {
		t.Errorf("after changing the rules: got %d, want 0", got)
	}
}
