package config

import (
	"net/netip"
	"reflect"
	"testing"
)

// load parses a config made of a fixed listener plus body, failing the
// test on any error.
func load(t *testing.T, body string) *Config {
	t.Helper()
	c, err := Parse("t.yaml", []byte("listeners: [{name: web, addr: ':8080'}]\n"+body))
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	return c
}

func TestShorthands(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		get  func(c *Config) any
		want any
	}{
		{"match string is path", "routes: [{match: /api/, respond: x}]",
			func(c *Config) any { return c.Routes[0].Match }, Match{Path: "/api/"}},
		{"host string is a list of one", "routes: [{match: {host: Example.COM}, respond: x}]",
			func(c *Config) any { return c.Routes[0].Match.Host }, []string{"example.com"}},
		{"methods string is a list of one", "routes: [{match: {methods: GET}, respond: x}]",
			func(c *Config) any { return c.Routes[0].Match.Methods }, []string{"GET"}},
		{"listener string is a list of one", "routes: [{match: {listener: web}, respond: x}]",
			func(c *Config) any { return c.Routes[0].Match.Listener }, []string{"web"}},
		{"health string is path", "upstreams: {a: {backends: [http://x], health: /healthz}}\nroutes: [{proxy: a}]",
			func(c *Config) any { return *c.Upstreams["a"].Health },
			Health{Path: "/healthz", Interval: DefaultHealthInterval, Timeout: DefaultHealthTimeout,
				Status: DefaultHealthStatusText, Rise: DefaultHealthRise, Fall: DefaultHealthFall, Pos: Pos{2, 47}}},
		{"backend string is url", "upstreams: {a: {backends: [http://x:81]}}\nroutes: [{proxy: a}]",
			func(c *Config) any { return c.Upstreams["a"].Backends }, []Backend{{URL: "http://x:81", Weight: 1, Pos: Pos{2, 28}}}},
		{"backend mapping", "upstreams: {a: {backends: [{url: http://x, weight: 2}]}}\nroutes: [{proxy: a}]",
			func(c *Config) any { return c.Upstreams["a"].Backends }, []Backend{{URL: "http://x:80", Weight: 2, Pos: Pos{2, 28}}}},
		{"redirect string is to", `routes: [{redirect: "https://x{uri}"}]`,
			func(c *Config) any { return *c.Routes[0].Redirect }, Redirect{To: "https://x{uri}", Status: 302, Pos: Pos{2, 21}}},
		{"respond string is body", `routes: [{respond: "text"}]`,
			func(c *Config) any { return *c.Routes[0].Respond }, Respond{Body: "text", Status: 200, Pos: Pos{2, 20}}},
		{"access_log true is stdout json", "routes: [{respond: x}]\naccess_log: true",
			func(c *Config) any { return *c.AccessLog }, AccessLog{Path: "stdout", Format: "json"}},
		{"access_log string is path", "routes: [{respond: x}]\naccess_log: /var/log/p.log",
			func(c *Config) any { return *c.AccessLog }, AccessLog{Path: "/var/log/p.log", Format: "json"}},
		{"access_log false is off", "routes: [{respond: x}]\naccess_log: false",
			func(c *Config) any { return c.AccessLog }, (*AccessLog)(nil)},
		{"remove string is a list of one", "routes: [{proxy: http://x, headers: {response: {remove: Server}}}]",
			func(c *Config) any { return c.Routes[0].Headers.Response.Remove }, []string{"Server"}},
		{"trusted_proxies bare address is a host prefix", "routes: [{respond: x}]\ntrusted_proxies: [10.1.2.3, '::1', 10.1.2.3/8]",
			func(c *Config) any {
				var out []netip.Prefix
				for _, p := range c.TrustedProxies {
					out = append(out, p.Net)
				}
				return out
			},
			[]netip.Prefix{netip.MustParsePrefix("10.1.2.3/32"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("10.0.0.0/8")}},
		{"host_header string", "routes: [{proxy: http://x, host_header: api.internal}]",
			func(c *Config) any { return c.Routes[0].HostHeader }, "api.internal"},
		{"keys accept false", "routes: [{respond: x, static: false, cache: false}]\ncache: false\ncluster: false",
			func(c *Config) any { return []any{c.Routes[0].Static, c.Routes[0].Cache, c.Cluster} },
			[]any{(*Static)(nil), (*RouteCache)(nil), (*Cluster)(nil)}},
		{"static string is root", "routes: [{static: ./public}]",
			func(c *Config) any { return *c.Routes[0].Static },
			Static{Root: "./public", Index: []string{"index.html"}, Pos: Pos{2, 19}}},
		{"cache_control string applies to every path", "routes: [{static: {root: ., cache_control: no-cache}}]",
			func(c *Config) any { return c.Routes[0].Static.CacheControl },
			[]CacheControlRule{{Pattern: "*", Value: "no-cache", Pos: Pos{2, 44}}}},
		{"compress true is every default", "routes: [{respond: x, compress: true}]",
			func(c *Config) any { return *c.Routes[0].Compress },
			Compress{Encodings: DefaultCompressEncodings, MinSize: DefaultCompressMinSize, Types: DefaultCompressTypes,
				Levels: CompressLevels{Gzip: DefaultGzipLevel, Brotli: DefaultBrotliLevel, Zstd: DefaultZstdLevel}, Pos: Pos{2, 33}}},
		{"compress false is off", "routes: [{respond: x, compress: false}]",
			func(c *Config) any { return c.Routes[0].Compress }, (*Compress)(nil)},
		{"compress encodings string is a list of one", "routes: [{respond: x, compress: {encodings: gzip}}]",
			func(c *Config) any { return c.Routes[0].Compress.Encodings }, []string{"gzip"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := load(t, tt.yaml)
			if got := tt.get(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestInlineProxyBecomesUpstream(t *testing.T) {
	c := load(t, "routes: [{name: app, proxy: http://127.0.0.1:3000/base}]")
	u := c.Routes[0].ProxyUpstream
	if u == nil {
		t.Fatal("got no ProxyUpstream")
	}
	want := &Upstream{Name: "route:app", Pos: Pos{2, 10},
		Backends: []Backend{{URL: "http://127.0.0.1:3000/base", Weight: 1, Pos: Pos{2, 10}}},
		Balance:  DefaultBalance, Protocol: DefaultProtocol,
		ConnectTimeout: DefaultConnectTimeout, FirstByteTimeout: DefaultFirstByteTimeout,
		MaxIdleConns: DefaultMaxIdleConns, IdleConnTimeout: DefaultIdleConnTimeout, TunnelIdleTimeout: DefaultTunnelIdleTimeout,
		PoolPolicy: PoolPolicy{RetryOn: DefaultRetryOn, RetryBudget: DefaultRetryBudget, ReplayBody: DefaultReplayBody,
			MaxConns: DefaultMaxConns, MaxPending: DefaultMaxPending, Resolve: DefaultResolveInterval}}
	if !reflect.DeepEqual(u, want) {
		t.Errorf("got %+v, want %+v", u, want)
	}
}

func TestNamedProxyHasNoInlineUpstream(t *testing.T) {
	c := load(t, "upstreams: {a: {backends: [http://x]}}\nroutes: [{proxy: a}]")
	if c.Routes[0].ProxyUpstream != nil {
		t.Errorf("got ProxyUpstream %+v for a named pool, want nil", c.Routes[0].ProxyUpstream)
	}
}

func TestUpstreamOrderFollowsFile(t *testing.T) {
	c := load(t, "upstreams:\n  z: {backends: [http://z]}\n  a: {backends: [http://a]}\n  m: {backends: [http://m]}\nroutes: [{proxy: a}]")
	if got, want := c.UpstreamOrder, []string{"z", "a", "m"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, name := range c.UpstreamOrder {
		if got := c.Upstreams[name].Name; got != name {
			t.Errorf("got Name %q for upstream %q", got, name)
		}
	}
}
