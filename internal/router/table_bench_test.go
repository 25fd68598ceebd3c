package router

import (
	"fmt"
	"net/http"
	"testing"
)

// realisticRules is a 50-route table of the shape a medium site has: a few
// hosts with API and static paths, wildcard tenants, method, header and
// listener filters, and catch-alls.
func realisticRules() []Rule {
	var rules []Rule
	for _, h := range []string{"example.com", "www.example.com", "api.example.com", "admin.example.com", "shop.example.org"} {
		rules = append(rules,
			Rule{Hosts: []string{h}, Path: "/"},
			Rule{Hosts: []string{h}, Path: "/api/", Methods: []string{"GET", "HEAD"}},
			Rule{Hosts: []string{h}, Path: "/api/", Methods: []string{"POST", "PUT", "DELETE"}},
			Rule{Hosts: []string{h}, Path: "/api/v2", Headers: [][2]string{{"X-Api-Version", "2"}}},
			Rule{Hosts: []string{h}, Path: "/assets/"},
			Rule{Hosts: []string{h}, Path: "/healthz", Exact: true},
			Rule{Hosts: []string{h}, Path: "/admin", Listeners: []string{"internal"}},
		)
	}
	for _, w := range []string{"*.example.com", "*.tenants.example.com", "*.example.org"} {
		rules = append(rules,
			Rule{Hosts: []string{w}, Path: "/"},
			Rule{Hosts: []string{w}, Path: "/api/"},
			Rule{Hosts: []string{w}, Path: "/static/", Methods: []string{"GET"}},
		)
	}
	for i := len(rules); i < 48; i++ {
		rules = append(rules, Rule{Path: fmt.Sprintf("/legacy/p%d/", i)})
	}
	rules = append(rules,
		Rule{Path: "/.well-known/acme-challenge/"},
		Rule{Path: "/"},
	)
	return rules
}

// bigRules is a 1,000-route table: 100 hosts with 8 paths each, 50 wildcard
// tenants with 2 paths each, and 100 any-host paths.
func bigRules() []Rule {
	var rules []Rule
	for h := 0; h < 100; h++ {
		host := fmt.Sprintf("svc%d.example.com", h)
		for _, p := range []string{"/", "/api/", "/api/v1/users", "/api/v1/orders", "/api/v2/", "/static/", "/healthz", "/login"} {
			rules = append(rules, Rule{Hosts: []string{host}, Path: p})
		}
	}
	for w := 0; w < 50; w++ {
		host := fmt.Sprintf("*.tenant%d.example.net", w)
		rules = append(rules,
			Rule{Hosts: []string{host}, Path: "/"},
			Rule{Hosts: []string{host}, Path: "/api/", Methods: []string{"GET"}},
		)
	}
	for p := 0; p < 99; p++ {
		rules = append(rules, Rule{Path: fmt.Sprintf("/shared/s%d/", p)})
	}
	return append(rules, Rule{Path: "/"})
}

// flatRules is 1,000 paths under one host: the worst case for a scan.
func flatRules() []Rule {
	rules := make([]Rule, 0, 1000)
	for p := 0; p < 1000; p++ {
		rules = append(rules, Rule{Hosts: []string{"example.com"}, Path: fmt.Sprintf("/section%d/page/", p)})
	}
	return rules
}

type lookupInput struct {
	name, listener, host, path, method string
	header                             http.Header
}

func (in lookupInput) request() *http.Request {
	h := in.header
	if h == nil {
		h = http.Header{}
	}
	return &http.Request{Method: in.method, Header: h, Host: in.host}
}

var realisticInputs = []lookupInput{
	{name: "exact host", host: "api.example.com", path: "/api/users/42", method: "GET"},
	{name: "exact host header filter", host: "api.example.com", path: "/api/v2/users", method: "GET", header: http.Header{"X-Api-Version": {"2"}}},
	{name: "mixed case and port", host: "API.Example.COM:8443", path: "/assets/app.js", method: "GET"},
	{name: "wildcard", host: "acme.tenants.example.com", path: "/static/logo.png", method: "GET"},
	{name: "fall through to any host", host: "api.example.com", path: "/admin/x", method: "GET", listener: "public"},
	{name: "unknown host", host: "[2001:db8::1]:443", path: "/legacy/p40/x", method: "GET"},
	{name: "miss", host: "nothing.test", path: "/", method: "GET"},
}

func TestLookupDoesNotAllocate(t *testing.T) {
	tab := newTestTable(t, realisticRules())
	for _, in := range realisticInputs {
		r := in.request()
		want := tab.LookupIndex(in.listener, in.host, in.path, r)
		allocs := testing.AllocsPerRun(200, func() {
			if got := tab.LookupIndex(in.listener, in.host, in.path, r); got != want {
				t.Fatalf("%s: got %d, want %d", in.name, got, want)
			}
			_ = tab.Lookup(in.listener, in.host, in.path, r)
		})
		if allocs != 0 {
			t.Errorf("%s: got %v allocs per Lookup, want 0", in.name, allocs)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	tables := []struct {
		name   string
		rules  []Rule
		inputs []lookupInput
	}{
		{"small", []Rule{
			{Hosts: []string{"example.com"}, Path: "/"},
			{Hosts: []string{"example.com"}, Path: "/api/"},
			{Path: "/"},
		}, []lookupInput{
			{name: "exact host", host: "example.com", path: "/api/users", method: "GET"},
			{name: "any host", host: "other.test", path: "/x", method: "GET"},
		}},
		{"50", realisticRules(), realisticInputs},
		{"1000", bigRules(), []lookupInput{
			{name: "exact host", host: "svc57.example.com", path: "/api/v1/users/42", method: "GET"},
			{name: "wildcard", host: "a.b.tenant33.example.net:8443", path: "/api/x", method: "GET"},
			{name: "any host last path", host: "unknown.test", path: "/shared/s98/x", method: "GET"},
			{name: "catch-all", host: "svc57.example.com", path: "/nothing/here", method: "GET", listener: "x"},
		}},
		{"1000 paths one host", flatRules(), []lookupInput{
			{name: "first", host: "example.com", path: "/section0/page/x", method: "GET"},
			{name: "last", host: "example.com", path: "/section999/page/x", method: "GET"},
			{name: "miss", host: "example.com", path: "/nothing", method: "GET"},
		}},
	}
	for _, tc := range tables {
		tab := newTestTable(b, tc.rules)
		for _, in := range tc.inputs {
			r := in.request()
			b.Run(tc.name+"/"+in.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					tab.Lookup(in.listener, in.host, in.path, r)
				}
			})
		}
	}
}

func BenchmarkNewTable(b *testing.B) {
	rules := bigRules()
	for i := range rules {
		rules[i].Handler = ruleID(i)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewTable(rules); err != nil {
			b.Fatal(err)
		}
	}
}
