package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{File: "portico.yaml", Line: 7, Column: 5, Path: "routes[0].match.path", Msg: `must start with "/"`},
			`portico.yaml:7:5: routes[0].match.path: must start with "/"`},
		{Error{File: "p.yaml", Line: 1, Column: 4, Msg: "invalid YAML: x"}, "p.yaml:1:4: invalid YAML: x"},
		{Error{Line: 2, Column: 1, Path: "routes", Msg: "m"}, "2:1: routes: m"},
		{Error{Path: "routes", Msg: "m"}, "routes: m"},
		{Error{File: "p.yaml", Path: "routes", Msg: "m"}, "p.yaml: routes: m"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
	es := Errors{&tests[0].err, &tests[3].err}
	if got, want := es.Error(), tests[0].want+"\n"+tests[3].want; got != want {
		t.Errorf("Errors: got %q, want %q", got, want)
	}
}

func TestErrorsSortedByLineThenColumn(t *testing.T) {
	_, err := Parse("t.yaml", []byte(`routes:
  - {match: x, respond: {status: 1}}
listeners:
  - {addr: nope}
`))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("got %T, want Errors", err)
	}
	var got [][2]int
	for _, e := range errs {
		got = append(got, [2]int{e.Line, e.Column})
	}
	want := [][2]int{{2, 13}, {2, 34}, {4, 12}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got positions %v, want %v\n%v", got, want, err)
	}
}

// TestValidateBuiltInCode covers configs that cmd/ builds without a file
// (the one-line proxy mode): zero values are defaults, and errors carry a
// path but no position.
func TestValidateBuiltInCode(t *testing.T) {
	c := &Config{
		Listeners: []Listener{{Addr: ":8080"}},
		Routes:    []Route{{Proxy: "http://127.0.0.1:3000"}},
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("got %v, want no error", err)
	}
	if u := c.Routes[0].ProxyUpstream; u == nil || u.Name != "route:route[0]" || u.Backends[0].URL != "http://127.0.0.1:3000" {
		t.Errorf("got ProxyUpstream %+v", u)
	}
	c.Routes[0].Proxy = "api"
	err := c.Validate()
	want := `routes[0].proxy: undefined upstream "api"; define it under upstreams, or proxy to a URL such as http://127.0.0.1:8080`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	if c.Routes[0].ProxyUpstream != nil {
		t.Errorf("got a stale ProxyUpstream after the proxy changed")
	}
}

func TestValidateIsRepeatable(t *testing.T) {
	c := load(t, "upstreams: {a: {backends: [http://x]}}\nroutes: [{match: {host: A.Example}, proxy: a}]")
	before := c.Upstreams["a"].Backends[0].URL
	if err := c.Validate(); err != nil {
		t.Fatalf("second Validate: %v", err)
	}
	if got := c.Upstreams["a"].Backends[0].URL; got != before || got != "http://x:80" {
		t.Errorf("got URL %q, want %q both times", got, "http://x:80")
	}
	if got := c.Routes[0].Match.Host; !reflect.DeepEqual(got, []string{"a.example"}) {
		t.Errorf("got hosts %v", got)
	}
}

func TestBackendURLGetsDefaultPort(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://a", "http://a:80"},

		{"http://a:8080/base/", "http://a:8080/base/"},
		{"http://[::1]", "http://[::1]:80"},
		{"http://A.Example:81", "http://A.Example:81"},
	}
	for _, tt := range tests {
		got, msg := checkURL(tt.in)
		if got != tt.want || msg != "" {
			t.Errorf("checkURL(%q) = %q, %q; want %q", tt.in, got, msg, tt.want)
		}
	}
}

func TestMatchHost(t *testing.T) {
	tests := []struct{ in, want, wantMsg string }{
		{"Example.COM", "example.com", ""},
		{"*.Example.com", "*.example.com", ""},
		{"127.0.0.1", "127.0.0.1", ""},
		{"[::1]", "[::1]", ""},
		{"_svc.example.com", "_svc.example.com", ""},
		{"example.com.", "", `"example.com." is not a valid host name`},
		{"-a.com", "", `"-a.com" is not a valid host name`},
		{"*example.com", "", `host "*example.com": a wildcard must be a leading "*.", such as "*.example.com"`},
		{"[::1]:80", "", `host "[::1]:80" must not include a port`},
	}
	for _, tt := range tests {
		got, msg := checkMatchHost(tt.in)
		if got != tt.want || msg != tt.wantMsg {
			t.Errorf("checkMatchHost(%q) = %q, %q; want %q, %q", tt.in, got, msg, tt.want, tt.wantMsg)
		}
	}
}

func TestAdminLoopback(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:9901", true},
		{"127.1.2.3:9901", true},
		{"[::1]:9901", true},
		{"localhost:9901", true},
		{":9901", false},
		{"0.0.0.0:9901", false},
		{"10.0.0.1:9901", false},
		{"[::]:9901", false},
		{"example.com:9901", false},
	}
	for _, tt := range tests {
		c := &Config{Admin: &Admin{Addr: tt.addr}, Listeners: []Listener{{Addr: ":80"}}, Routes: []Route{{Respond: &Respond{}}}}
		err := c.Validate()
		if got := err == nil; got != tt.ok {
			t.Errorf("admin %q: got error %v, want loopback ok=%v", tt.addr, err, tt.ok)
		}
	}
}

// goccy/go-yaml reads http://x:81 inside a flow sequence inside a flow
// mapping as {"http://x": 81}; the loader glues it back.
func TestFlowURLWithPortInsideFlowMapping(t *testing.T) {
	c := load(t, "upstreams: {a: {backends: [http://x:81/p, 'http://y:82']}}\nroutes: [{match: {host: [a.com]}, proxy: a}]")
	var got []string
	for _, b := range c.Upstreams["a"].Backends {
		got = append(got, b.URL)
	}
	if want := []string{"http://x:81/p", "http://y:82"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestParseErrorReturnsNilConfig(t *testing.T) {
	c, err := Parse("t.yaml", []byte("listeners: [{addr: ':80'}]\nroutes: [{}]\n"))
	if c != nil || err == nil || !strings.Contains(err.Error(), "route needs one of proxy, redirect, respond") {
		t.Errorf("got %v, %v; want nil and a terminal error", c, err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	if _, err := Load("testdata/does-not-exist.yaml"); err == nil {
		t.Error("got no error for a missing file")
	}
}
