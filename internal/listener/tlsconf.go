package listener

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/portico-proxy/portico/internal/config"
)

// modernSuites are the TLS 1.2 suites offered: forward secret and AEAD
// only. TLS 1.3 suites are all AEAD and not configurable in crypto/tls.
var modernSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// acmeTLS1 is the ALPN protocol of the TLS-ALPN-01 challenge (RFC 8737).
const acmeTLS1 = "acme-tls/1"

var errNoCertificate = errors.New("tls: no certificate for this server name")

// newTLSConfig builds the handshake policy of a listener. getCert is
// called for every handshake; it must not allocate much (see CertStore).
func newTLSConfig(t *config.TLS, getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:       tls.VersionTLS12,
		CipherSuites:     modernSuites,
		CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256},
		NextProtos:       []string{"h2", "http/1.1"},
		GetCertificate:   getCert,
	}
	if t.MinVersion == "1.3" {
		tc.MinVersion = tls.VersionTLS13
	}
	if t.ACME != nil && slices.Contains(t.ACME.Challenges, "tls-alpn-01") {
		// Offered last: only a validating CA asks for it, and alone.
		tc.NextProtos = append(tc.NextProtos, acmeTLS1)
	}
	if ca := t.ClientAuth; ca != nil {
		pool, err := loadRoots(ca.CA)
		if err != nil {
			return nil, fmt.Errorf("tls: client_auth: %w", err)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.VerifyClientCertIfGiven
		if ca.Mode == "require" {
			tc.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return tc, nil
}

// loadRoots reads a PEM file of CA certificates.
func loadRoots(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s: no PEM certificates found", file)
	}
	return pool, nil
}

// SameTLSPolicy reports whether two TLS settings differ only in their
// certificate files, which a reload applies in place; anything else
// (ACME, client auth, versions) needs a restart.
func SameTLSPolicy(a, b *config.TLS) bool {
	if a == nil || b == nil {
		return a == b
	}
	// A listener started without file certificates has no store to load
	// new ones into.
	if a.MinVersion != b.MinVersion || (len(a.Certs) == 0) != (len(b.Certs) == 0) {
		return false
	}
	if (a.ClientAuth == nil) != (b.ClientAuth == nil) || (a.ACME == nil) != (b.ACME == nil) {
		return false
	}
	if x, y := a.ClientAuth, b.ClientAuth; x != nil && (x.Mode != y.Mode || x.CA != y.CA || x.Header != y.Header) {
		return false
	}
	if x, y := a.ACME, b.ACME; x != nil && (x.Email != y.Email || x.CA != y.CA || x.CARoot != y.CARoot ||
		x.Storage != y.Storage || !slices.Equal(x.Domains, y.Domains) || !slices.Equal(x.Challenges, y.Challenges)) {
		return false
	}
	return true
}

// ticketKeys rotates the session ticket keys of one tls.Config. New
// tickets are sealed with the newest key; the older ones still open
// tickets issued before a rotation, so resumption survives it, and a key
// is forgotten after keep rotations, which bounds how long a stolen key
// can decrypt recorded sessions.
type ticketKeys struct {
	conf *tls.Config
	keep int

	mu   sync.Mutex
	keys [][32]byte
}

const (
	ticketRotation = 12 * time.Hour
	ticketKeep     = 3
)

func newTicketKeys(conf *tls.Config, keep int) *ticketKeys {
	k := &ticketKeys{conf: conf, keep: keep}
	k.rotate()
	return k
}

func (k *ticketKeys) rotate() {
	var key [32]byte
	_, _ = rand.Read(key[:])
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys = append([][32]byte{key}, k.keys...)
	if len(k.keys) > k.keep {
		k.keys = k.keys[:k.keep]
	}
	k.conf.SetSessionTicketKeys(k.keys)
}

// run rotates every interval until stop is closed.
func (k *ticketKeys) run(interval time.Duration, stop <-chan struct{}) {
	every(interval, stop, k.rotate)
}
