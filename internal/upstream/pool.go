package upstream

import (
	"fmt"
	"github.com/portico-proxy/portico/internal/config"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// PoolOptions configure a Pool. Zero durations and sizes take the
// defaults of the config package (config.Default*), the one place they
// are written down.
type PoolOptions struct {
	Backends         []BackendOptions
	Balance          string         // "round_robin" (default) or "random"
	Retries          int            // extra attempts on other backends
	H2C              bool           // speak HTTP/2 without TLS (gRPC backends)
	ConnectTimeout   time.Duration  // default 3s
	FirstByteTimeout time.Duration  // default 60s
	MaxIdleConns     int            // per backend; default 64
	IdleConnTimeout  time.Duration  // default 90s
	Health           *HealthOptions // nil: no active checks
	TLS              *TLSOptions    // for https:// backends; nil: verify with system roots
}

// BackendOptions is one backend address.
type BackendOptions struct {
	URL    string
	Weight int
}

// Pool is a named set of backends and the connections to them. It lives
// as long as one configuration generation; Close retires it.
type Pool struct {
	name     string
	backends []*Backend
	random   bool
	retries  int
	next     atomic.Uint64
	// order is one cycle of smooth weighted round robin (nginx's
	// algorithm), computed once: picking is an atomic add and an index.
	order []int

	firstByteTimeout time.Duration
	h2               *http.Transport // nil unless the pool speaks h2c
	health           *healthChecker  // nil without active checks
}

// Backend is one address of a pool.
type Backend struct {
	addr     string // host:port, what is dialled
	basePath string // path of the backend URL, prepended to request paths
	weight   int
	conns    *connPool
	inflight atomic.Int64
	down     atomic.Bool // failed its last active health check
}

// Addr is the backend's host:port.
func (b *Backend) Addr() string { return b.addr }

// NewPool checks the options and builds a pool. It dials nothing yet.
func NewPool(name string, o PoolOptions) (*Pool, error) {
	if len(o.Backends) == 0 {
		return nil, fmt.Errorf("upstream %s: no backends", name)
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = config.DefaultConnectTimeout
	}
	if o.FirstByteTimeout <= 0 {
		o.FirstByteTimeout = config.DefaultFirstByteTimeout
	}
	if o.MaxIdleConns <= 0 {
		o.MaxIdleConns = config.DefaultMaxIdleConns
	}
	if o.IdleConnTimeout <= 0 {
		o.IdleConnTimeout = config.DefaultIdleConnTimeout
	}
	p := &Pool{
		name:             name,
		random:           o.Balance == "random",
		retries:          o.Retries,
		firstByteTimeout: o.FirstByteTimeout,
	}
	dialer := &net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}
	for _, bo := range o.Backends {
		u, err := url.Parse(bo.URL)
		if err != nil {
			return nil, fmt.Errorf("upstream %s: backend %q: %w", name, bo.URL, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("upstream %s: backend %q: only http:// and https:// backends are supported", name, bo.URL)
		}
		addr := u.Host
		if u.Port() == "" {
			addr = net.JoinHostPort(u.Hostname(), defaultPort(u.Scheme))
		}
		w := bo.Weight
		if w < 1 {
			w = 1
		}
		p.backends = append(p.backends, &Backend{
			addr:     addr,
			basePath: strings.TrimSuffix(u.EscapedPath(), "/"),
			weight:   w,
			conns:    newConnPool(addr, dialer, o.MaxIdleConns, o.IdleConnTimeout),
		})
		if u.Scheme == "https" {
			b := p.backends[len(p.backends)-1]
			if b.conns.tls, err = clientTLS(o.TLS, u.Hostname()); err != nil {
				return nil, fmt.Errorf("upstream %s: backend %q: %w", name, bo.URL, err)
			}
		}
	}
	p.order = smoothOrder(p.backends)
	if o.H2C {
		p.h2 = newH2CTransport(dialer, o)
	}
	if o.Health != nil {
		p.startHealth(*o.Health)
	}
	return p, nil
}

// Name is the pool's configured name.
func (p *Pool) Name() string { return p.name }

// first picks the index of the backend for a request's first attempt.
// Attempt k goes to backend (first+k) mod n, so a retry never lands on the
// backend that just failed while others exist.
func (p *Pool) first() int {
	n := len(p.backends)
	if n == 1 {
		return 0
	}
	if p.random {
		return rand.IntN(n)
	}
	return p.order[p.next.Add(1)%uint64(len(p.order))]
}

// maxCycle bounds the precomputed cycle; larger weight sums are scaled
// down proportionally (every backend keeps at least one slot).
const maxCycle = 4096

// smoothOrder spreads each backend over the cycle in proportion to its
// weight without bursts: weights 5,1,1 give a a b a c a a, not a a a a a b c.
func smoothOrder(backends []*Backend) []int {
	weights := make([]int, len(backends))
	total := 0
	for i, b := range backends {
		weights[i] = b.weight
		total += b.weight
	}
	if total > maxCycle {
		sum := total
		total = 0
		for i, b := range backends {
			weights[i] = max(1, b.weight*maxCycle/sum)
			total += weights[i]
		}
	}
	current := make([]int, len(backends))
	order := make([]int, 0, total)
	for range total {
		best := 0
		for i := range current {
			current[i] += weights[i]
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		order = append(order, best)
	}
	return order
}

// backend is the healthy backend for attempt try, counting healthy
// backends from first on; nil when none is healthy.
func (p *Pool) backend(first, try int) *Backend {
	n := len(p.backends)
	if p.health == nil {
		return p.backends[(first+try)%n]
	}
	for i := 0; i < n; i++ {
		b := p.backends[(first+i)%n]
		if b.down.Load() {
			continue
		}
		if try == 0 {
			return b
		}
		try--
	}
	return nil
}

// pickOrRefuse picks the backend for a request that is not retried
// (h2c streams, tunnels), answering 503 itself when none is healthy.
func (p *Pool) pickOrRefuse(w http.ResponseWriter) *Backend {
	b := p.backend(p.first(), 0)
	if b == nil {
		WriteError(w, &Error{Pool: p.name, Kind: KindNoBackend}, false)
	}
	return b
}

// Close drops idle connections and stops background work. In-flight
// requests finish on the connections they hold; those are closed when
// returned.
func (p *Pool) Close() {
	if p.health != nil {
		p.health.close()
	}
	for _, b := range p.backends {
		b.conns.close()
	}
	if p.h2 != nil {
		p.h2.CloseIdleConnections()
	}
}
