package router

import (
	"strings"
	"testing"
)

func TestPathPrefixRespectsSegments(t *testing.T) {
	cases := []struct {
		rule  string
		exact bool
		path  string
		want  bool
	}{
		{"/api", false, "/api", true},
		{"/api", false, "/api/", true},
		{"/api", false, "/api/x", true},
		{"/api", false, "/apix", false},
		{"/api", false, "/ap", false},
		{"/api", false, "/", false},
		{"/api", false, "/API", false},
		{"/api/", false, "/api/", true},
		{"/api/", false, "/api/x", true},
		{"/api/", false, "/api", true},
		{"/api/", false, "/apix", false},
		{"/api/", false, "/ap", false},
		{"/api/v1", false, "/api/v1/users", true},
		{"/api/v1", false, "/api/v10", false},
		{"/", false, "/", true},
		{"/", false, "/anything/at/all", true},
		{"/", false, "*", true},
		{"/api", true, "/api", true},
		{"/api", true, "/api/", false},
		{"/api", true, "/api/x", false},
		{"/api/", true, "/api/", true},
		{"/api/", true, "/api", false},
		{"/", true, "/", true},
		{"/", true, "/x", false},
	}
	for _, tc := range cases {
		tab := newTestTable(t, []Rule{{Path: tc.rule, Exact: tc.exact}})
		got := req{path: tc.path}.lookup(tab) == 0
		if got != tc.want {
			t.Errorf("rule %q (exact %v) on path %q: got match %v, want %v", tc.rule, tc.exact, tc.path, got, tc.want)
		}
	}
}

func TestHostMatching(t *testing.T) {
	rules := []Rule{
		{Hosts: []string{"example.com"}, Path: "/"},       // 0
		{Hosts: []string{"*.example.com"}, Path: "/"},     // 1
		{Hosts: []string{"::1"}, Path: "/"},               // 2
		{Hosts: []string{"[2001:db8::a]"}, Path: "/"},     // 3
		{Hosts: []string{"127.0.0.1"}, Path: "/"},         // 4
		{Hosts: []string{"Mixed.Example.ORG"}, Path: "/"}, // 5
		{Hosts: []string{"dot.example.net."}, Path: "/"},  // 6
	}
	tab := newTestTable(t, rules)
	cases := []struct {
		name string
		host string
		want int
	}{
		{"exact", "example.com", 0},
		{"exact with port", "example.com:8080", 0},
		{"exact with empty port", "example.com:", 0},
		{"mixed-case request host", "ExAmPlE.CoM", 0},
		{"mixed-case host with port", "EXAMPLE.COM:443", 0},
		{"trailing dot", "example.com.", 0},
		{"trailing dot with port", "example.com.:8080", 0},
		{"two trailing dots", "example.com..", -1},
		{"mixed-case rule host", "mixed.example.org", 5},
		{"rule host with trailing dot", "dot.example.net", 6},
		{"wildcard one level", "a.example.com", 1},
		{"wildcard two levels", "a.b.example.com", 1},
		{"wildcard mixed case", "A.B.Example.Com:80", 1},
		{"wildcard trailing dot", "a.example.com.", 1},
		{"wildcard does not match its apex", "example.com", 0},
		{"wildcard needs a dot boundary", "aexample.com", -1},
		{"wildcard suffix alone", ".example.com", -1},
		{"IPv6 with port", "[::1]:8080", 2},
		{"IPv6 in brackets", "[::1]", 2},
		{"bare IPv6", "::1", 2},
		{"bracketed rule IPv6", "[2001:DB8::A]:443", 3},
		{"IPv6 without closing bracket", "[::1", -1},
		{"IPv4 with port", "127.0.0.1:80", 4},
		{"IPv4 is not a wildcard subdomain", "127.0.0.2", -1},
		{"empty host", "", -1},
		{"unknown host", "example.org", -1},
		{"port only", ":8080", -1},
		{"long host matches wildcard by its tail", strings.Repeat("a", 300) + ".example.com", 1},
		{"long uppercase host matches wildcard", strings.Repeat("A.", 200) + "EXAMPLE.COM", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := (req{host: tc.host}).lookup(tab); got != tc.want {
				t.Errorf("host %q: got %d, want %d", tc.host, got, tc.want)
			}
		})
	}
}

func TestRequestHost(t *testing.T) {
	cases := []struct{ in, want string }{
		{"example.com", "example.com"},
		{"Example.com:8080", "Example.com"},
		{"example.com.", "example.com"},
		{"example.com.:1", "example.com"},
		{"[::1]:8080", "::1"},
		{"[::1]", "::1"},
		{"[fe80::1%25eth0]:80", "fe80::1%25eth0"},
		{"::1", "::1"},
		{"[::1", "[::1"},
		{"", ""},
		{".", ""},
		{":80", ""},
	}
	for _, tc := range cases {
		if got := requestHost(tc.in); got != tc.want {
			t.Errorf("requestHost(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFilters(t *testing.T) {
	runLookupCases(t, []lookupCase{
		{
			name:  "method filter admits listed method",
			rules: []Rule{{Path: "/", Methods: []string{"GET", "POST"}}},
			req:   req{method: "POST"},
			want:  0,
		},
		{
			name:  "method filter rejects other method",
			rules: []Rule{{Path: "/", Methods: []string{"GET"}}},
			req:   req{method: "DELETE"},
			want:  -1,
		},
		{
			name:  "method filter is case-sensitive",
			rules: []Rule{{Path: "/", Methods: []string{"GET"}}},
			req:   req{method: "get"},
			want:  -1,
		},
		{
			name: "failed method tries the next path candidate",
			rules: []Rule{
				{Path: "/"},
				{Path: "/api", Methods: []string{"GET"}},
			},
			req:  req{path: "/api/x", method: "POST"},
			want: 0,
		},
		{
			name:  "header filter admits exact value",
			rules: []Rule{{Path: "/", Headers: [][2]string{{"X-Api-Version", "2"}}}},
			req:   req{headers: map[string][]string{"X-Api-Version": {"2"}}},
			want:  0,
		},
		{
			name:  "header filter matches any of the values",
			rules: []Rule{{Path: "/", Headers: [][2]string{{"X-Api-Version", "2"}}}},
			req:   req{headers: map[string][]string{"X-Api-Version": {"1", "2"}}},
			want:  0,
		},
		{
			name:  "header filter name is canonicalised",
			rules: []Rule{{Path: "/", Headers: [][2]string{{"x-api-version", "2"}}}},
			req:   req{headers: map[string][]string{"X-Api-Version": {"2"}}},
			want:  0,
		},
		{
			name:  "header filter rejects other value",
			rules: []Rule{{Path: "/", Headers: [][2]string{{"X-Api-Version", "2"}}}},
			req:   req{headers: map[string][]string{"X-Api-Version": {"20"}}},
			want:  -1,
		},
		{
			name:  "header filter rejects missing header",
			rules: []Rule{{Path: "/", Headers: [][2]string{{"X-Api-Version", "2"}}}},
			req:   req{},
			want:  -1,
		},
		{
			name:  "header filter needs every pair",
			rules: []Rule{{Path: "/", Headers: [][2]string{{"X-A", "1"}, {"X-B", "2"}}}},
			req:   req{headers: map[string][]string{"X-A": {"1"}}},
			want:  -1,
		},
		{
			name:  "empty header value matches present empty header",
			rules: []Rule{{Path: "/", Headers: [][2]string{{"X-A", ""}}}},
			req:   req{headers: map[string][]string{"X-A": {""}}},
			want:  0,
		},
		{
			name:  "listener filter admits named listener",
			rules: []Rule{{Path: "/", Listeners: []string{"public", "internal"}}},
			req:   req{listener: "internal"},
			want:  0,
		},
		{
			name:  "listener filter rejects other listener",
			rules: []Rule{{Path: "/", Listeners: []string{"internal"}}},
			req:   req{listener: "public"},
			want:  -1,
		},
		{
			name:  "listener filter rejects unnamed listener",
			rules: []Rule{{Path: "/", Listeners: []string{"internal"}}},
			req:   req{listener: ""},
			want:  -1,
		},
		{
			name: "exact host rejected by method falls through to wildcard",
			rules: []Rule{
				{Hosts: []string{"*.example.com"}, Path: "/"},
				{Hosts: []string{"api.example.com"}, Path: "/", Methods: []string{"GET"}},
			},
			req:  req{host: "api.example.com", method: "POST"},
			want: 0,
		},
		{
			name: "exact host rejected by path falls through to any host",
			rules: []Rule{
				{Path: "/"},
				{Hosts: []string{"example.com"}, Path: "/api"},
			},
			req:  req{host: "example.com", path: "/other"},
			want: 0,
		},
		{
			name: "longer wildcard rejected by header falls through to shorter",
			rules: []Rule{
				{Hosts: []string{"*.example.com"}, Path: "/"},
				{Hosts: []string{"*.eu.example.com"}, Path: "/", Headers: [][2]string{{"X-Beta", "1"}}},
			},
			req:  req{host: "a.eu.example.com"},
			want: 0,
		},
		{
			name: "wildcard rejected by listener falls through to any host",
			rules: []Rule{
				{Hosts: []string{"*.example.com"}, Path: "/", Listeners: []string{"internal"}},
				{Path: "/"},
			},
			req:  req{host: "a.example.com", listener: "public"},
			want: 1,
		},
		{
			name: "every class rejects: no match",
			rules: []Rule{
				{Hosts: []string{"example.com"}, Path: "/", Methods: []string{"GET"}},
				{Hosts: []string{"*.com"}, Path: "/", Methods: []string{"GET"}},
				{Path: "/", Methods: []string{"GET"}},
			},
			req:  req{host: "example.com", method: "PUT"},
			want: -1,
		},
		{
			name: "catch-all serves unknown host",
			rules: []Rule{
				{Hosts: []string{"example.com"}, Path: "/"},
				{Path: "/"},
			},
			req:  req{host: "unknown.test"},
			want: 1,
		},
	})
}

func TestNilRequest(t *testing.T) {
	tab := newTestTable(t, []Rule{
		{Path: "/", Methods: []string{"GET"}},
		{Path: "/", Headers: [][2]string{{"X-A", "1"}}},
		{Path: "/", Listeners: []string{"a"}},
		{Path: "/"},
	})
	if got := tab.LookupIndex("a", "example.com", "/", nil); got != 2 {
		t.Errorf("nil request: got %d, want 2 (filters on the request skip)", got)
	}
}
