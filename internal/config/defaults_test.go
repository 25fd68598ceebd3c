package config

import (
	"reflect"
	"testing"
	"time"
)

func TestApplyDefaults(t *testing.T) {
	c := &Config{
		Admin:     &Admin{},
		Listeners: []Listener{{Addr: ":8080"}, {Addr: ":8081", Limits: Limits{MaxHeaderCount: 7}}},
		Upstreams: map[string]*Upstream{"api": {
			Backends: []Backend{{URL: "http://a"}, {URL: "http://b", Weight: 5}},
			Health:   &Health{Path: "/h"},
		}},
		Routes: []Route{
			{Proxy: "api"},
			{Name: "named", Redirect: &Redirect{To: "/x"}},
			{Respond: &Respond{}},
		},
		AccessLog: &AccessLog{},
	}
	ApplyDefaults(c)
	u := c.Upstreams["api"]
	tests := []struct {
		name      string
		got, want any
	}{
		{"admin addr", c.Admin.Addr, "127.0.0.1:9901"},
		{"limits", c.Listeners[0].Limits, Limits{
			MaxHeaderBytes: 32 << 10, MaxHeaderCount: 100,
			ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
			ReadIdleTimeout: 60 * time.Second, WriteIdleTimeout: 60 * time.Second,
			MaxConcurrentStreams: 100,
		}},
		{"limits keep set values", c.Listeners[1].Limits.MaxHeaderCount, 7},
		{"upstream name", u.Name, "api"},
		{"balance", u.Balance, "round_robin"},
		{"protocol", u.Protocol, "http1"},
		{"connect timeout", u.ConnectTimeout, 3 * time.Second},
		{"first byte timeout", u.FirstByteTimeout, 60 * time.Second},
		{"max idle conns", u.MaxIdleConns, 256},
		{"idle conn timeout", u.IdleConnTimeout, 90 * time.Second},
		{"retries", u.Retries, 0},
		{"weights", []int{u.Backends[0].Weight, u.Backends[1].Weight}, []int{1, 5}},
		{"health interval", u.Health.Interval, 5 * time.Second},
		{"health timeout", u.Health.Timeout, 2 * time.Second},
		{"route names", []string{c.Routes[0].Name, c.Routes[1].Name, c.Routes[2].Name},
			[]string{"route[0]", "named", "route[2]"}},
		{"redirect status", c.Routes[1].Redirect.Status, 302},
		{"respond status", c.Routes[2].Respond.Status, 200},
		{"drain timeout", c.DrainTimeout, 30 * time.Second},
		{"access log", *c.AccessLog, AccessLog{Path: "stdout", Format: "json"}},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestApplyDefaultsLeavesOptionalSectionsOff(t *testing.T) {
	c := &Config{}
	ApplyDefaults(c)
	if c.Admin != nil || c.AccessLog != nil {
		t.Errorf("got admin %v, access log %v; want both nil", c.Admin, c.AccessLog)
	}
}

func TestApplyDefaultsIsIdempotent(t *testing.T) {
	c, errs := parse("t.yaml", []byte("listeners: [{addr: ':80'}]\nroutes: [{proxy: 'http://a'}]\n"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	before := *c.Routes[0].ProxyUpstream
	ApplyDefaults(c)
	if got := *c.Routes[0].ProxyUpstream; !reflect.DeepEqual(got, before) {
		t.Errorf("got %+v after a second ApplyDefaults, want %+v", got, before)
	}
}

// A health check must end before the next starts, so a short interval
// shortens the default timeout.
func TestHealthTimeoutDefaultFitsInterval(t *testing.T) {
	u := &Upstream{Health: &Health{Path: "/", Interval: time.Second}}
	u.applyDefaults()
	if got, want := u.Health.Timeout, time.Second; got != want {
		t.Errorf("got timeout %v, want %v", got, want)
	}
}
