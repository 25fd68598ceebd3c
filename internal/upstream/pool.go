package upstream

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portico-proxy/portico/internal/config"
)

// PoolOptions configure a Pool. Zero durations and sizes take the
// defaults of the config package (config.Default*), the one place they
// are written down.
type PoolOptions struct {
	Backends []BackendOptions
	// Balance names the policy (see policies.go); "" is p2c for 3 or more
	// backends and round_robin below.
	Balance string
	// HashKey is what balance "hash" hashes: "ip" (default),
	// "header:NAME", "cookie:NAME" or "uri".
	HashKey string
	// StickyCookie names the session cookie of balance "sticky".
	StickyCookie string

	Retries int // extra attempts on other backends
	// RetryOn lists when an idempotent request is retried: "error" (the
	// connection broke), "timeout", or a status such as "503" or "5xx".
	// Nil means config.DefaultRetryOn. Connection failures (nothing was
	// sent) are always retried on another backend.
	RetryOn []string
	// RetryBudget is the share of requests that may be retries, in
	// percent; 0 means config.DefaultRetryBudget.
	RetryBudget int
	TryTimeout  time.Duration // per attempt, to the response head; 0: none
	ReplayBody  int64         // largest request body kept for a retry; 0: default

	MaxConns   int // requests in flight per backend; 0: default
	MaxPending int // requests in flight in the pool; 0: default

	Eject     EjectOptions
	SlowStart time.Duration // 0: off

	Resolve  time.Duration // re-resolve interval for host names and SRV; 0: default
	Resolver Resolver      // nil: net.DefaultResolver
	Drains   *DrainSet     // draining marks that outlive the pool; may be nil
	Now      func() time.Time

	H2C              bool          // speak HTTP/2 without TLS (gRPC backends)
	ConnectTimeout   time.Duration // default 3s
	FirstByteTimeout time.Duration // default 60s
	MaxIdleConns     int           // per backend; default 64
	IdleConnTimeout  time.Duration // default 90s
	// TunnelIdleTimeout ends an upgraded tunnel idle both ways; default 1h.
	TunnelIdleTimeout time.Duration
	Health            *HealthOptions // nil: no active checks
	TLS               *TLSOptions    // for https:// backends; nil: verify with system roots
}

// BackendOptions is one backend as written: http://host:port[/base], or
// srv+http://_service._tcp.name for the targets of a DNS SRV record.
type BackendOptions struct {
	URL    string
	Weight int
}

// Pool is a named set of backends and the connections to them. It lives
// as long as one configuration generation; Close retires it.
type Pool struct {
	name    string
	balance string
	policy  Policy
	set     atomic.Pointer[Set]
	entries []entry // the backends as written, for resolving and the admin API
	now     func() time.Time
	// realClock is true when now is time.Now; see at.
	realClock bool

	retries     int
	retryOn     retryRules
	budget      retryBudget
	tryTimeout  time.Duration
	replayBody  int64
	maxPending  int64
	pending     atomic.Int64
	maxConns    int64 // per backend
	slowStartNS int64
	eject       ejectRules
	ejectMu     sync.Mutex // serialises ejections, to hold the share cap
	hashKey     hashKey
	cookieName  string
	drains      *DrainSet

	firstByteTimeout time.Duration
	tunnelIdle       time.Duration
	dialer           *net.Dialer
	maxIdle          int
	idleTimeout      time.Duration
	h2               *http.Transport // nil unless the pool speaks h2c
	health           *healthChecker  // nil without active checks
	resolver         *resolver       // nil when every backend is an IP address
}

// entry is one backend as written in the config.
type entry struct {
	url      string
	weight   int
	host     string // host name or IP; for SRV the record name
	port     string
	basePath string
	srv      bool
	literal  bool // host is an IP address: nothing to resolve
	https    bool
	tls      *tls.Config // https:// only; verifies host (or tls.server_name)
}

// NewPool checks the options and builds a pool. It dials nothing yet;
// SRV backends are looked up once before it returns.
func NewPool(name string, o PoolOptions) (*Pool, error) {
	if len(o.Backends) == 0 {
		return nil, fmt.Errorf("upstream %s: no backends", name)
	}
	p := &Pool{name: name, balance: o.Balance, retries: o.Retries, now: o.Now, drains: o.Drains,
		cookieName: o.StickyCookie, tryTimeout: o.TryTimeout}
	if p.drains == nil {
		p.drains = NewDrainSet()
	}
	if err := p.applyOptions(&o); err != nil {
		return nil, fmt.Errorf("upstream %s: %w", name, err)
	}
	needsResolve := false
	for _, bo := range o.Backends {
		e, err := parseEntry(bo)
		if err != nil {
			return nil, fmt.Errorf("upstream %s: backend %q: %w", name, bo.URL, err)
		}
		if e.https {
			if e.tls, err = clientTLS(o.TLS, e.host); err != nil {
				return nil, fmt.Errorf("upstream %s: backend %q: %w", name, bo.URL, err)
			}
		}
		p.entries = append(p.entries, e)
		needsResolve = needsResolve || !e.literal
	}
	policy, ok := newPolicy(o.Balance, len(o.Backends))
	if !ok {
		return nil, fmt.Errorf("upstream %s: unknown balance %q", name, o.Balance)
	}
	p.policy = policy
	if p.balance == "" {
		p.balance = config.DefaultBalanceFor(len(o.Backends))
	}
	p.dialer = &net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}
	if needsResolve {
		p.resolver = newResolver(p, o.Resolver, o.Resolve)
	}
	p.install(p.initialBackends(), false)
	if o.H2C {
		p.h2 = newH2CTransport(p.dialer, o)
	}
	if o.Health != nil {
		p.startHealth(*o.Health)
	}
	if p.resolver != nil {
		p.resolver.start()
	}
	return p, nil
}

// applyOptions fills defaults and turns the options into the pool's
// ready-made rules.
func (p *Pool) applyOptions(o *PoolOptions) error {
	setZero(&o.ConnectTimeout, config.DefaultConnectTimeout)
	setZero(&o.FirstByteTimeout, config.DefaultFirstByteTimeout)
	setZero(&o.MaxIdleConns, config.DefaultMaxIdleConns)
	setZero(&o.IdleConnTimeout, config.DefaultIdleConnTimeout)
	setZero(&o.TunnelIdleTimeout, config.DefaultTunnelIdleTimeout)
	setZero(&o.RetryBudget, config.DefaultRetryBudget)
	setZero(&o.ReplayBody, config.DefaultReplayBody)
	setZero(&o.MaxConns, config.DefaultMaxConns)
	setZero(&o.MaxPending, config.DefaultMaxPending)
	setZero(&o.StickyCookie, config.DefaultStickyCookie)
	if p.now == nil {
		p.now, p.realClock = time.Now, true
	}
	p.cookieName = o.StickyCookie
	p.firstByteTimeout = o.FirstByteTimeout
	p.tunnelIdle = o.TunnelIdleTimeout
	p.maxIdle, p.idleTimeout = o.MaxIdleConns, o.IdleConnTimeout
	p.replayBody = o.ReplayBody
	p.maxPending = int64(o.MaxPending)
	p.budget.init(o.RetryBudget)
	p.eject = newEjectRules(o.Eject)
	p.slowStartNS = int64(o.SlowStart)
	p.maxConns = int64(o.MaxConns)
	var err error
	if p.retryOn, err = parseRetryOn(o.RetryOn); err != nil {
		return err
	}
	if p.hashKey, err = parseHashKey(o.HashKey); err != nil {
		return err
	}
	return nil
}

func setZero[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// parseEntry reads one backend URL. The config package has already
// checked it and written the port out; this is the second line of
// defence for pools built in code.
func parseEntry(bo BackendOptions) (entry, error) {
	u, err := url.Parse(bo.URL)
	if err != nil {
		return entry{}, err
	}
	e := entry{url: bo.URL, weight: max(bo.Weight, 1), host: u.Hostname(), port: u.Port(),
		basePath: strings.TrimSuffix(u.EscapedPath(), "/")}
	switch u.Scheme {
	case "http", "https":
		e.https = u.Scheme == "https"
		if e.port == "" {
			e.port = defaultPort(u.Scheme)
		}
		e.literal = net.ParseIP(e.host) != nil
	case "srv+http":
		e.srv = true
	default:
		return entry{}, fmt.Errorf("scheme %q: only http://, https:// and srv+http:// backends are supported", u.Scheme)
	}
	if e.host == "" {
		return entry{}, fmt.Errorf("no host")
	}
	return e, nil
}

// initialBackends is the first set: IP addresses as written, host names
// left to the dialler until the resolver's first answer, SRV records
// looked up now (they name no address of their own).
func (p *Pool) initialBackends() []*Backend {
	var all []*Backend
	for i := range p.entries {
		e := &p.entries[i]
		if e.srv {
			all = append(all, p.resolver.lookupNow(e)...)
			continue
		}
		all = append(all, p.newBackend(e, target{addr: net.JoinHostPort(e.host, e.port), weight: e.weight}))
	}
	return all
}

func (p *Pool) newBackend(e *entry, t target) *Backend {
	conns := newConnPool(t.addr, p.dialer, p.maxIdle, p.idleTimeout)
	conns.tls = e.tls
	b := newBackend(e.url, t.addr, e.basePath, t.weight, conns)
	b.host = t.host
	if b.host == "" {
		b.host = hostField(e.host, e.port, e.https)
	}
	if p.drains.has(p.name, e.url) {
		b.draining.Store(true)
	}
	return b
}

// hostField is host and port as a Host field value: the port is left out
// when it is the scheme's default, as clients write it.
func hostField(host, port string, https bool) string {
	if port == "" || (!https && port == "80") || (https && port == "443") {
		if strings.Contains(host, ":") {
			return "[" + host + "]"
		}
		return host
	}
	return net.JoinHostPort(host, port)
}

// install makes all the pool's current set. ramp starts slow start for
// backends that were not in the previous set.
func (p *Pool) install(all []*Backend, ramp bool) {
	points := 0
	if p.balance == PolicyHash {
		points = ringPointsFor(all)
	}
	if ramp {
		now := p.now().UnixNano()
		old := map[*Backend]bool{}
		if s := p.set.Load(); s != nil {
			for _, b := range s.all {
				old[b] = true
			}
		}
		for _, b := range all {
			if !old[b] {
				b.rampFrom.Store(now)
			}
		}
	}
	p.set.Store(newSet(all, p.maxConns, p.slowStartNS, points))
}

// Name is the pool's configured name.
func (p *Pool) Name() string { return p.name }

// pick chooses the backend for one attempt, or nil when none can take it.
func (p *Pool) pick(in Input) *Backend {
	return p.policy.Pick(p.set.Load(), in)
}

// pickOrRefuse picks the backend for a request that is not retried
// (h2c streams, tunnels), answering 503 itself when none is usable.
func (p *Pool) pickOrRefuse(w http.ResponseWriter, r *http.Request) *Backend {
	in := Input{Now: p.now().UnixNano()}
	p.keyFor(r, &in)
	b := p.pick(in)
	if b == nil {
		WriteError(w, &Error{Pool: p.name, Kind: KindNoBackend}, false)
	}
	return b
}

// Close drops idle connections and stops background work. In-flight
// requests finish on the connections they hold; those are closed when
// returned.
func (p *Pool) Close() {
	if p.resolver != nil {
		p.resolver.close()
	}
	if p.health != nil {
		p.health.close()
	}
	for _, b := range p.set.Load().all {
		b.conns.close()
	}
	if p.h2 != nil {
		p.h2.CloseIdleConnections()
	}
}

// at is the pool's time for a moment t read from the real clock: t itself,
// unless the pool was given a clock of its own (tests).
func (p *Pool) at(t time.Time) time.Time {
	if p.realClock {
		return t
	}
	return p.now()
}
