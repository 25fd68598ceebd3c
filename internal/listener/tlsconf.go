package listener

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
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

// ticketKeys sets the session ticket keys of one tls.Config. Time is cut
// into periods of ticketRotation counted from the Unix epoch, each with
// its own key derived from a secret and the listener's address: worker
// processes given the same secret compute the same keys without talking
// to each other, so a ticket one of them issued opens on another, while
// two listeners of one process never open each other's tickets. Periods
// follow the wall clock, not the process's start, so that workers started
// at different times agree on the current key.
//
// New tickets are sealed with the current period's key; the keys of the
// keep-1 periods before it still open tickets issued before a rotation,
// so resumption survives it, and a key is forgotten after keep periods,
// which bounds how long a stolen key can decrypt recorded sessions. The
// secret itself is never forgotten: whoever holds it derives every key,
// past and future, so it must be guarded like a private key.
type ticketKeys struct {
	keep     int
	secret   []byte
	listener string

	mu    sync.Mutex
	now   func() time.Time // injectable for tests; read under mu
	keys  [][32]byte       // the list last given to confs, newest first
	confs []*tls.Config    // the listener's, and the HTTP/3 copy of it (see add)
}

const (
	ticketRotation = 12 * time.Hour
	ticketKeep     = 3
)

// ticketKeyLabel keeps these keys apart from anything else that might
// one day be derived from the same secret.
const ticketKeyLabel = "portico tls session ticket key v1\x00"

// newTicketKeys sets the keys of conf for the current period. A nil or
// empty secret is replaced by a random one of this process: an empty
// HMAC key would make every key computable by anyone.
func newTicketKeys(conf *tls.Config, secret []byte, listener string, keep int) *ticketKeys {
	if len(secret) == 0 {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret) // never fails: crypto/rand crashes instead
	}
	k := &ticketKeys{confs: []*tls.Config{conf}, keep: keep, secret: bytes.Clone(secret), listener: listener, now: time.Now}
	k.refresh()
	return k
}

// refresh gives conf the keys of the current period and the keep-1
// before it, and returns how long they stay current.
func (k *ticketKeys) refresh() time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	// Reading the clock under mu orders concurrent calls: the last to set
	// the keys is the one that read the latest time.
	now := k.now()
	secs := int64(ticketRotation / time.Second)
	period := now.Unix() / secs
	keys := make([][32]byte, k.keep)
	for i := range keys {
		keys[i] = deriveTicketKey(k.secret, k.listener, period-int64(i))
	}
	k.keys = keys
	for _, c := range k.confs {
		c.SetSessionTicketKeys(keys)
	}
	// time.Unix carries no monotonic reading, so this is wall-clock time,
	// the clock the periods are counted on.
	return time.Unix((period+1)*secs, 0).Sub(now)
}

// add makes conf follow the rotations too. HTTP/3 serves from a clone
// of the listener's config, and a clone keeps the keys it was made with.
func (k *ticketKeys) add(conf *tls.Config) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.confs = append(k.confs, conf)
	conf.SetSessionTicketKeys(k.keys)
}

// deriveTicketKey is HMAC-SHA256(secret, label || listener || period).
// The label and the period are of fixed length, so no two (listener,
// period) pairs share an input.
func deriveTicketKey(secret []byte, listener string, period int64) [32]byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ticketKeyLabel))
	m.Write([]byte(listener))
	m.Write(binary.BigEndian.AppendUint64(nil, uint64(period)))
	var key [32]byte
	m.Sum(key[:0])
	return key
}

// run re-derives the keys at every period boundary until stop is closed.
// It refreshes before each wait, so the wait is measured from the very
// time the keys were derived for: keys set by newTicketKeys just before
// a boundary that run only starts after are not left in place for a
// whole period. A timer that fires early by the wall clock (the clock
// was stepped back) re-derives the same keys and waits the rest.
func (k *ticketKeys) run(stop <-chan struct{}) {
	for {
		t := time.NewTimer(k.refresh())
		select {
		case <-stop:
			t.Stop()
			return
		case <-t.C:
		}
	}
}
