// Package config owns Portico's configuration: the schema structs (plain
// data, no behaviour), the strict YAML loader with positioned errors, the
// defaults, and Validate. It must not import any other Portico package: every
// other package reads these structs, none of them writes back.
package config

import (
	"net/netip"
	"time"
)

// Config is one whole configuration file. Only Listeners and Routes are
// required; every other key has a documented default (docs/config.md).
type Config struct {
	// File is the path the config was loaded from, for error messages.
	File string

	Admin     *Admin               // admin API; nil means no admin listener
	Listeners []Listener           // at least one
	Upstreams map[string]*Upstream // named backend pools, referred to by routes
	// UpstreamOrder keeps the file order of Upstreams, for stable output.
	UpstreamOrder []string
	Routes        []Route // at least one; file order breaks precedence ties

	// TrustedProxies lists the peers whose incoming X-Forwarded-* and
	// Forwarded headers are believed. Empty means nobody is trusted and
	// those headers are replaced.
	TrustedProxies []Prefix

	// DrainTimeout is how long a stopping process waits for in-flight
	// requests before closing connections. Default 30s.
	DrainTimeout time.Duration

	// Workers is how many worker processes serve the listeners, sharing
	// each address (SO_REUSEPORT). Default 1: the process serves alone.
	Workers int

	AccessLog *AccessLog // nil means no access log

	Cache   *CacheStores // nil: a memory cache with defaults
	Cluster *Cluster     // nil: no shared state

	// pos maps key paths ("routes[0].match.path") to where they were
	// written, so Validate can point at a line without a Pos field on every
	// value. Nil for configs built in code.
	pos posTable
}

// Admin configures the admin listener.
type Admin struct {
	Addr string // default "127.0.0.1:9901"; must be a loopback host
	Pos  Pos
}

// Listener is one address Portico accepts connections on.
type Listener struct {
	Name string // optional; routes can name it in match.listener
	Addr string // host:port, required
	Pos  Pos

	TLS           *TLS
	HTTP3         bool // HTTP/3 over QUIC on the same port (UDP); needs TLS
	ProxyProtocol bool // later release
	// RedirectHTTPS makes a plain listener answer every request (except
	// ACME HTTP-01 challenges) with a redirect to https; nil means off.
	RedirectHTTPS *RedirectHTTPS
	Limits        Limits
	IPFilter      *Unsupported
}

// TLS holds the certificates and handshake policy of a TLS listener; its
// parts are in types_tls.go.
type TLS struct {
	Certs []CertPair
	ACME  *ACME // nil: no automatic certificates
	// MinVersion is "1.2" (default) or "1.3".
	MinVersion string
	ClientAuth *ClientAuth // nil: no client certificates asked for
}

// CertPair is one certificate chain and its private key, both PEM files.
type CertPair struct {
	Cert string
	Key  string
	Pos  Pos
}

// Limits bound what one downstream connection may cost. Zero values are
// replaced by the defaults in ApplyDefaults.
type Limits struct {
	MaxConnsPerIP     int           // 0 = unlimited (default)
	MaxHeaderBytes    int64         // default 32KiB
	MaxHeaderCount    int           // default 100 header fields
	ReadHeaderTimeout time.Duration // default 10s
	IdleTimeout       time.Duration // keep-alive idle, default 120s
	// ReadIdleTimeout and WriteIdleTimeout are reset by every successful
	// read or write: a slow but moving transfer never hits them, a stalled
	// one does. Default 60s each.
	ReadIdleTimeout  time.Duration
	WriteIdleTimeout time.Duration
	// MaxConcurrentStreams bounds HTTP/2 streams per connection; default 100.
	MaxConcurrentStreams int
}

// Upstream is a named pool of backends.
type Upstream struct {
	Name     string
	Pos      Pos
	Backends []Backend // at least one
	// Balance picks the policy (docs/upstreams.md); default p2c for 3 or
	// more backends, round_robin below.
	Balance string
	HashKey string // with balance hash: ip (default), header:NAME, cookie:NAME or uri
	Health  *Health
	Retries int // extra attempts on another backend; default 0
	// PoolPolicy holds the resilience keys (types_upstream_pools.go).
	PoolPolicy

	// Protocol is "http1" (default) or "h2c" (HTTP/2 without TLS, for gRPC).
	Protocol string

	ConnectTimeout   time.Duration // default 3s
	FirstByteTimeout time.Duration // request sent to response head; default 60s
	MaxIdleConns     int           // idle keep-alive connections per backend; default 64
	IdleConnTimeout  time.Duration // default 90s
	// TunnelIdleTimeout ends a WebSocket (or other upgraded) tunnel that
	// moved no bytes either way for this long; default 1h.
	TunnelIdleTimeout time.Duration

	TLS *UpstreamTLS // settings for https:// backends; nil: defaults
}

// Backend is one address in a pool. In YAML a plain string is the URL.
type Backend struct {
	URL    string // http://host:port, optionally with a base path
	Weight int    // default 1
	Pos    Pos
}

// Health configures active health checks. In YAML a plain string is Path.
type Health struct {
	Path     string
	Interval time.Duration // default 5s
	Timeout  time.Duration // default 2s
	// Status is the passing range, "200-399" (default) or one code.
	Status string
	Rise   int // passes in a row to bring a backend back; default 2
	Fall   int // failures in a row to take it out; default 3
	Pos    Pos
}

// Route is one entry of the route table: a match and exactly one terminal,
// with optional middleware settings.
type Route struct {
	Name  string // optional, shown in logs; default "route[i]"
	Pos   Pos
	Match Match

	// Terminals: exactly one is set.
	Proxy     string // an upstream name or an inline http:// URL
	Redirect  *Redirect
	Respond   *Respond
	Static    *Static
	Aggregate *Unsupported // later release

	// Proxy options.
	StripPrefix string // removed from the path before proxying
	AddPrefix   string // prepended after StripPrefix
	// HostHeader is what the upstream sees as Host: "" keeps the client's
	// Host (default), "upstream" uses the backend's host:port, anything else
	// is sent literally.
	HostHeader string
	// ForwardedHeaders picks the forwarding headers sent upstream: "both"
	// (default: X-Forwarded-For/Proto/Host and Forwarded), "x-forwarded",
	// "forwarded" or "none".
	ForwardedHeaders string

	Headers *Headers
	HSTS    *HSTS // Strict-Transport-Security on TLS responses; nil: off

	RateLimit *Unsupported // later release
	Cache     *RouteCache
	Compress  *Compress
	IPFilter  *Unsupported // later release

	// ProxyUpstream is filled by Validate when Proxy is an inline URL: a
	// one-backend pool named after the route.
	ProxyUpstream *Upstream
}

// Match selects requests. In YAML a plain string is Path.
type Match struct {
	Host []string // exact ("example.com") or wildcard ("*.example.com"); empty = any
	// Path is a prefix that respects segments: "/api" matches "/api" and
	// "/api/x" but not "/apix". "/" matches everything.
	Path    string
	Exact   bool // Path must equal the request path
	Methods []string
	// Headers must all be present with exactly these values.
	Headers  map[string]string
	Listener []string // listener names; empty = every listener
}

// Redirect answers with a redirect. In YAML a plain string is To.
type Redirect struct {
	// To is the target; "{uri}" is replaced by the request's path and query,
	// "{path}" by the path, "{host}" by the request host.
	To     string
	Status int // 301, 302 (default), 303, 307 or 308
	Pos    Pos
}

// Respond answers with a fixed response. In YAML a plain string is Body.
type Respond struct {
	Status  int // default 200
	Headers map[string]string
	Body    string
	Pos     Pos
}

// Headers edits request headers (before the upstream sees them) and
// response headers (before the client sees them).
type Headers struct {
	Request  HeaderOps
	Response HeaderOps
}

// HeaderOps are applied in the order remove, set, add.
type HeaderOps struct {
	Set    map[string]string
	Add    map[string]string
	Remove []string
}

// AccessLog configures the access log. In YAML `true` means stdout JSON and
// a plain string is Path.
type AccessLog struct {
	Path   string // "stdout" (default), "stderr" or a file path
	Format string // "json" (default)
}

// Unsupported records a key of the DESIGN.md schema that this release
// parses but does not implement, so Validate can point at its line.
type Unsupported struct {
	Key string
	Pos Pos
}

// Prefix is an IP network in CIDR form; a bare address means a single host.
type Prefix struct {
	Net netip.Prefix
	Pos Pos
}

// Pos is where a value was written: file and line, for error messages.
type Pos struct {
	Line   int
	Column int
}
