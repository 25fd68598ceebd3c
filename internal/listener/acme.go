package listener

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/portico-proxy/portico/internal/config"
)

// acmeManager obtains and renews a listener's ACME certificates with
// certmagic. Obtaining runs in the background with Portico's own backoff:
// while the CA is unreachable the listener keeps serving with what it has
// (stored ACME certificates, then file certificates). Once obtained,
// certmagic's cache renews ahead of expiry and retries on its own.
type acmeManager struct {
	listener string
	domains  []string
	magic    *certmagic.Config
	cache    *certmagic.Cache
	issuer   *certmagic.ACMEIssuer
	log      *slog.Logger
	after    func(time.Duration) <-chan time.Time // injected in tests

	// life orders start and stop, which a Shutdown racing a Serve may
	// call in either order: a stop that comes first keeps start from
	// starting.
	life    sync.Mutex
	stopped bool
	cancel  context.CancelFunc
	done    chan struct{}

	mu       sync.Mutex
	attempts int
	lastErr  error
	ready    bool
}

// acmeBackoff is the wait after each failed attempt; the last repeats.
var acmeBackoff = []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour}

// acmePorts are where the CA's validation connections arrive: HTTP-01 on
// a plain listener, TLS-ALPN-01 on the TLS listener itself. certmagic
// answers on them itself only when nothing is listening there.
type acmePorts struct{ http, tls int }

func newACME(listener string, a *config.ACME, ports acmePorts, log *slog.Logger) (*acmeManager, error) {
	m := &acmeManager{listener: listener, domains: normalizeDomains(a.Domains), log: log, after: time.After}
	zl := zapToSlog(log.With("listener", listener))
	var cfgRef *certmagic.Config
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return cfgRef, nil },
		Logger:           zl,
	})
	m.magic = certmagic.New(m.cache, certmagic.Config{
		Storage: &certmagic.FileStorage{Path: a.Storage},
		Logger:  zl,
	})
	cfgRef = m.magic
	tmpl := certmagic.ACMEIssuer{
		CA:                      a.CA,
		Email:                   a.Email,
		Agreed:                  true,
		DisableHTTPChallenge:    !slices.Contains(a.Challenges, "http-01"),
		DisableTLSALPNChallenge: !slices.Contains(a.Challenges, "tls-alpn-01"),
		AltHTTPPort:             ports.http,
		AltTLSALPNPort:          ports.tls,
		Logger:                  zl,
	}
	if a.CARoot != "" {
		pool, err := loadRoots(a.CARoot)
		if err != nil {
			m.cache.Stop()
			return nil, fmt.Errorf("tls: acme: ca_root: %w", err)
		}
		tmpl.TrustedRoots = pool
	}
	m.issuer = certmagic.NewACMEIssuer(m.magic, tmpl)
	m.magic.Issuers = []certmagic.Issuer{m.issuer}
	return m, nil
}

func normalizeDomains(ds []string) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = strings.ToLower(d)
	}
	return out
}

// start begins obtaining in the background, unless stop came first.
func (m *acmeManager) start() {
	m.life.Lock()
	defer m.life.Unlock()
	if m.stopped {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel, m.done = cancel, make(chan struct{})
	go m.run(ctx)
}

func (m *acmeManager) run(ctx context.Context) {
	defer close(m.done)
	for i := 0; ; i++ {
		err := m.magic.ManageSync(ctx, m.domains)
		m.mu.Lock()
		m.attempts++
		m.lastErr, m.ready = err, err == nil
		m.mu.Unlock()
		if err == nil {
			m.log.Info("tls: acme certificates ready", "listener", m.listener, "domains", m.domains)
			return
		}
		if ctx.Err() != nil {
			return
		}
		wait := acmeBackoff[min(i, len(acmeBackoff)-1)]
		m.log.Error("tls: acme: could not obtain certificates; serving with what is there and retrying",
			"listener", m.listener, "retry_in", wait.String(), "err", err.Error())
		select {
		case <-ctx.Done():
			return
		case <-m.after(wait):
		}
	}
}

// stop ends obtaining and renewing.
func (m *acmeManager) stop() {
	m.life.Lock()
	m.stopped = true
	cancel, done := m.cancel, m.done
	m.life.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	m.cache.Stop()
}

// status reports how many attempts ran, the last error and readiness.
func (m *acmeManager) status() (attempts int, lastErr error, ready bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.attempts, m.lastErr, m.ready
}

// handles reports whether a handshake is for certmagic: a TLS-ALPN-01
// validation, or a name in the domain list.
func (m *acmeManager) handles(hello *tls.ClientHelloInfo) bool {
	if len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acmeTLS1 {
		return true
	}
	name := sniName(hello.ServerName)
	for _, d := range m.domains {
		if d == name {
			return true
		}
		if rest, ok := strings.CutPrefix(d, "*."); ok {
			if i := strings.IndexByte(name, '.'); i > 0 && hostLabel(name[:i]) && name[i+1:] == rest {
				return true
			}
		}
	}
	return false
}

func (m *acmeManager) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return m.magic.GetCertificate(hello)
}

// serveChallenge answers an HTTP-01 validation request; false means the
// request was not one.
func (m *acmeManager) serveChallenge(w http.ResponseWriter, r *http.Request) bool {
	return m.issuer.HandleHTTPChallenge(w, r)
}

// certificates describes the managed certificates that are loaded.
func (m *acmeManager) certificates() []CertInfo {
	var out []CertInfo
	for _, d := range m.domains {
		hello := &tls.ClientHelloInfo{ServerName: strings.TrimPrefix(d, "*.")}
		if strings.HasPrefix(d, "*.") {
			hello.ServerName = "portico-probe." + hello.ServerName
		}
		c, err := m.magic.GetCertificate(hello)
		if err != nil || c == nil {
			continue
		}
		out = append(out, describe(m.listener, "acme", c))
	}
	return out
}

// Challenges lets plain listeners answer the HTTP-01 validations of every
// TLS listener's ACME manager. One is shared by all listeners of a
// process.
type Challenges struct {
	mu       sync.RWMutex
	managers []*acmeManager
}

func (c *Challenges) add(m *acmeManager) {
	c.mu.Lock()
	c.managers = append(c.managers, m)
	c.mu.Unlock()
}

func (c *Challenges) remove(m *acmeManager) {
	c.mu.Lock()
	c.managers = slices.DeleteFunc(c.managers, func(x *acmeManager) bool { return x == m })
	c.mu.Unlock()
}

// serve answers r if it is an HTTP-01 validation of a known manager.
func (c *Challenges) serve(w http.ResponseWriter, r *http.Request) bool {
	if c == nil || !strings.HasPrefix(r.URL.Path, acmeChallengePath) {
		return false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, m := range c.managers {
		if m.serveChallenge(w, r) {
			return true
		}
	}
	return false
}

const acmeChallengePath = "/.well-known/acme-challenge/"
