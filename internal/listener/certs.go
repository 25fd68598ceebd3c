package listener

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portico-proxy/portico/internal/config"
)

// CertInfo describes one certificate a listener serves, for the admin API.
type CertInfo struct {
	Listener string    `json:"listener"`
	Source   string    `json:"source"` // "file" or "acme"
	Names    []string  `json:"names"`
	NotAfter time.Time `json:"not_after"`
	Issuer   string    `json:"issuer"`
	KeyType  string    `json:"key_type"` // "ECDSA", "RSA" or "Ed25519"
	File     string    `json:"file,omitempty"`
	// OCSPStapled is true when a current OCSP response is stapled.
	OCSPStapled bool `json:"ocsp_stapled"`
}

// fileCert is one certificate pair loaded from disk, with what the file
// watch compares to notice a change.
type fileCert struct {
	pair   config.CertPair
	cert   *tls.Certificate
	stamp  fileStamp
	staple []byte // current OCSP response, nil when none
	// failed is the state of the files when they last failed to load, so
	// the watch tries them again only after they change once more.
	failed *fileStamp
}

// fileStamp is what a poll compares: a rewritten or replaced file changes
// its modification time or its size, and a file renamed into place (as
// certificate tools do) is another file. The file's identity counts
// because a timestamp is only as fine as the kernel's clock tick: a new
// key of the same size written within the tick of the old one would
// otherwise look unchanged.
type fileStamp struct {
	cert, key os.FileInfo // nil when the file could not be read
}

func stampOf(p config.CertPair) (fileStamp, error) {
	ci, err := os.Stat(p.Cert)
	if err != nil {
		return fileStamp{}, err
	}
	ki, err := os.Stat(p.Key)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{cert: ci, key: ki}, nil
}

func (a fileStamp) same(b fileStamp) bool {
	return sameFileState(a.cert, b.cert) && sameFileState(a.key, b.key)
}

func sameFileState(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}

// sniTable is an immutable index of certificates by name, rebuilt on every
// change so a handshake does a map lookup and nothing else.
type sniTable struct {
	exact map[string][]*tls.Certificate // "www.example.com"
	wild  map[string][]*tls.Certificate // "example.com" for "*.example.com"
	def   []*tls.Certificate            // the first pair and its siblings
}

// CertStore holds a listener's file certificates. It lives as long as the
// listener, across generations: a reload or the file watch loads changed
// files into it, and a file that fails to load keeps its old certificate.
type CertStore struct {
	listener string
	log      *slog.Logger
	table    atomic.Pointer[sniTable]

	mu    sync.Mutex // serialises loads
	files []*fileCert
	// onChange runs after new certificates were loaded (the stapler
	// fetches their OCSP responses); nil: nothing to do.
	onChange func()
}

// NewCertStore loads every pair. At start a broken file is an error: there
// is no old certificate to keep.
func NewCertStore(listener string, pairs []config.CertPair, log *slog.Logger) (*CertStore, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &CertStore{listener: listener, log: log}
	s.table.Store(&sniTable{})
	for _, p := range pairs {
		fc, err := loadFileCert(p)
		if err != nil {
			return nil, err
		}
		s.files = append(s.files, fc)
	}
	s.rebuild()
	return s, nil
}

// loadFileCert reads one pair, refusing encrypted keys with a message that
// says what to do instead of crypto/tls's generic parse failure.
func loadFileCert(p config.CertPair) (*fileCert, error) {
	stamp, err := stampOf(p)
	if err != nil {
		return nil, fmt.Errorf("tls: certificate %s: %w", p.Cert, err)
	}
	certPEM, err := os.ReadFile(p.Cert)
	if err != nil {
		return nil, fmt.Errorf("tls: certificate %s: %w", p.Cert, err)
	}
	keyPEM, err := os.ReadFile(p.Key)
	if err != nil {
		return nil, fmt.Errorf("tls: key %s: %w", p.Key, err)
	}
	if afterCertRead != nil {
		afterCertRead(p)
	}
	if encryptedPEM(keyPEM) {
		return nil, fmt.Errorf("tls: key %s is encrypted; Portico needs an unencrypted key file (decrypt it with `openssl pkey -in %s -out NEW.pem` and protect it with file permissions)", p.Key, p.Key)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tls: certificate %s with key %s: %w", p.Cert, p.Key, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("tls: certificate %s: %w", p.Cert, err)
		}
	}
	return &fileCert{pair: p, cert: &cert, stamp: stamp}, nil
}

// afterCertRead, when set (by tests), runs between reading a pair's files
// and parsing them.
var afterCertRead func(config.CertPair)

// encryptedPEM reports a PKCS#8 encrypted key or a legacy one with a
// Proc-Type: 4,ENCRYPTED header.
func encryptedPEM(data []byte) bool {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return false
		}
		if b.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED") {
			return true
		}
	}
}

// Reload makes the store serve pairs: files that changed (or are new) are
// loaded again; one that fails keeps its previous certificate when it had
// one. The returned error lists the failures; the store stays usable.
func (s *CertStore) Reload(pairs []config.CertPair) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := map[config.CertPair]*fileCert{}
	for _, fc := range s.files {
		old[keyOf(fc.pair)] = fc
	}
	var next []*fileCert
	var errs []error
	for _, p := range pairs {
		prev := old[keyOf(p)]
		if prev != nil {
			if st, err := stampOf(p); err == nil && st.same(prev.stamp) {
				next = append(next, prev)
				continue
			}
		}
		// The state of the files before they are read: one that changes
		// while a failed load reads them is tried again at the next poll.
		before, _ := stampOf(p)
		fc, err := loadFileCert(p)
		if err != nil {
			errs = append(errs, err)
			if prev != nil {
				// Keep serving the old certificate; the watch retries
				// when the files change again.
				prev.failed = &before
				next = append(next, prev)
				s.log.Error("tls: certificate reload failed; keeping the old certificate",
					"listener", s.listener, "cert", p.Cert, "err", err.Error())
			}
			continue
		}
		if prev != nil {
			s.log.Info("tls: certificate reloaded", "listener", s.listener, "cert", p.Cert,
				"not_after", fc.cert.Leaf.NotAfter)
		}
		next = append(next, fc)
	}
	if len(next) == 0 && len(s.files) > 0 {
		// Every new file failed: serving nothing would take the listener
		// down, so the old certificates stay until a good file arrives.
		s.log.Error("tls: no new certificate loaded; keeping the old ones", "listener", s.listener)
		return errors.Join(errs...)
	}
	s.files = next
	s.rebuild()
	if s.onChange != nil {
		s.onChange()
	}
	return errors.Join(errs...)
}

// keyOf identifies a pair by its file names only.
func keyOf(p config.CertPair) config.CertPair { return config.CertPair{Cert: p.Cert, Key: p.Key} }

// Check reloads the current pairs if any file changed on disk. The file
// watch calls it every few seconds; tests call it directly.
func (s *CertStore) Check() error {
	s.mu.Lock()
	pairs := make([]config.CertPair, len(s.files))
	changed := false
	for i, fc := range s.files {
		pairs[i] = fc.pair
		st, _ := stampOf(fc.pair) // a missing file is a change too
		if !st.same(fc.stamp) && (fc.failed == nil || !st.same(*fc.failed)) {
			changed = true
		}
	}
	s.mu.Unlock()
	if !changed {
		return nil
	}
	return s.Reload(pairs)
}

// watch polls the files every interval until stop is closed. Polling needs
// no extra dependency and catches editors, cp and atomic renames alike.
func (s *CertStore) watch(interval time.Duration, stop <-chan struct{}) {
	every(interval, stop, func() { _ = s.Check() }) // failures are logged by Reload
}

// every runs f every interval until stop is closed.
func every(interval time.Duration, stop <-chan struct{}, f func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			f()
		}
	}
}

// rebuild indexes the loaded certificates by name. ECDSA pairs go before
// RSA pairs of the same name: they are faster to sign with, and clients
// that cannot use them skip to the RSA one. Callers hold s.mu.
func (s *CertStore) rebuild() {
	t := &sniTable{exact: map[string][]*tls.Certificate{}, wild: map[string][]*tls.Certificate{}}
	ordered := slices.Clone(s.files)
	slices.SortStableFunc(ordered, func(a, b *fileCert) int {
		return keyRank(a.cert) - keyRank(b.cert)
	})
	served := make(map[*fileCert]*tls.Certificate, len(ordered))
	for _, fc := range ordered {
		c := fc.cert
		if fc.staple != nil {
			cp := *c
			cp.OCSPStaple = fc.staple
			c = &cp
		}
		served[fc] = c
		for _, name := range certNames(fc.cert.Leaf) {
			if rest, ok := strings.CutPrefix(name, "*."); ok {
				t.wild[rest] = append(t.wild[rest], c)
			} else {
				t.exact[name] = append(t.exact[name], c)
			}
		}
	}
	// The default is the first configured pair and the pairs with the same
	// names, so the ECDSA/RSA choice works for clients that send no SNI.
	if len(s.files) > 0 {
		first := certNames(s.files[0].cert.Leaf)
		for _, fc := range ordered {
			if slices.Equal(certNames(fc.cert.Leaf), first) {
				t.def = append(t.def, served[fc])
			}
		}
	}
	s.table.Store(t)
}

func keyRank(c *tls.Certificate) int {
	if _, ok := c.PrivateKey.(*ecdsa.PrivateKey); ok {
		return 0
	}
	return 1
}

// certNames are the DNS names (and IP addresses) a leaf is valid for,
// lowercased; the common name only when there are no SANs.
func certNames(leaf *x509.Certificate) []string {
	var out []string
	for _, n := range leaf.DNSNames {
		out = append(out, strings.ToLower(n))
	}
	for _, ip := range leaf.IPAddresses {
		out = append(out, ip.String())
	}
	if len(out) == 0 && leaf.Subject.CommonName != "" {
		out = append(out, strings.ToLower(leaf.Subject.CommonName))
	}
	return out
}

// lookup finds the certificates for a server name: exact, then wildcard
// (one label), then nil.
func (t *sniTable) lookup(name string) []*tls.Certificate {
	if name == "" {
		return nil
	}
	if cs := t.exact[name]; cs != nil {
		return cs
	}
	if i := strings.IndexByte(name, '.'); i > 0 && hostLabel(name[:i]) {
		return t.wild[name[i+1:]]
	}
	return nil
}

// hostLabel reports whether s can be the label a wildcard stands for:
// letters, digits, '-' and '_' (RFC 6125 §6.4.3 matches one whole label).
func hostLabel(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// certFor picks the certificate for a handshake. Only the map lookups run
// per handshake unless one name has several pairs, in which case the first
// the client can use wins (ECDSA first).
func (s *CertStore) certFor(hello *tls.ClientHelloInfo) *tls.Certificate {
	t := s.table.Load()
	cs := t.lookup(sniName(hello.ServerName))
	if cs == nil {
		cs = t.def
	}
	return pick(hello, cs)
}

// has reports whether the store has a certificate for name (exact or
// wildcard), without falling back to the default.
func (s *CertStore) has(name string) bool {
	return s.table.Load().lookup(sniName(name)) != nil
}

func pick(hello *tls.ClientHelloInfo, cs []*tls.Certificate) *tls.Certificate {
	switch len(cs) {
	case 0:
		return nil
	case 1:
		return cs[0]
	}
	for _, c := range cs {
		if hello.SupportsCertificate(c) == nil {
			return c
		}
	}
	return cs[len(cs)-1]
}

// lowerASCII lowercases a server name without allocating in the common,
// already lowercase case.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// sniName is a server name as the index holds names: lowercase, without
// the one trailing dot of a fully qualified name. crypto/tls refuses such
// a name in a ClientHello, but lookups do not rely on it.
func sniName(s string) string {
	s = lowerASCII(s)
	if n := len(s); n > 1 && s[n-1] == '.' {
		s = s[:n-1]
	}
	return s
}

// Certificates describes the loaded file certificates.
func (s *CertStore) Certificates() []CertInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]CertInfo, 0, len(s.files))
	for _, fc := range s.files {
		info := describe(s.listener, "file", fc.cert)
		info.File = fc.pair.Cert
		info.OCSPStapled = fc.staple != nil
		out = append(out, info)
	}
	return out
}

func describe(listener, source string, c *tls.Certificate) CertInfo {
	leaf := c.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return CertInfo{Listener: listener, Source: source}
		}
	}
	return CertInfo{Listener: listener, Source: source, Names: certNames(leaf), NotAfter: leaf.NotAfter,
		Issuer: leaf.Issuer.String(), KeyType: keyType(c.PrivateKey), OCSPStapled: c.OCSPStaple != nil}
}

func keyType(k any) string {
	switch k.(type) {
	case *ecdsa.PrivateKey:
		return "ECDSA"
	case *rsa.PrivateKey:
		return "RSA"
	case ed25519.PrivateKey:
		return "Ed25519"
	}
	return "unknown"
}

// ExpiryWarnings reads the certificate files of cfg and describes those
// that expire within `within` of now, or cannot be read. It is for
// `portico validate`; serving never depends on it.
func ExpiryWarnings(cfg *config.Config, now time.Time, within time.Duration) []string {
	var out []string
	for _, l := range cfg.Listeners {
		if l.TLS == nil {
			continue
		}
		for _, p := range l.TLS.Certs {
			fc, err := loadFileCert(p)
			if err != nil {
				out = append(out, fmt.Sprintf("listener %s: %v", l.Addr, err))
				continue
			}
			left := fc.cert.Leaf.NotAfter.Sub(now)
			switch {
			case left <= 0:
				out = append(out, fmt.Sprintf("listener %s: certificate %s expired on %s", l.Addr, p.Cert, fc.cert.Leaf.NotAfter.UTC().Format(time.DateOnly)))
			case left < within:
				out = append(out, fmt.Sprintf("listener %s: certificate %s expires in %d days (%s)", l.Addr, p.Cert,
					int(left.Hours()/24), fc.cert.Leaf.NotAfter.UTC().Format(time.DateOnly)))
			}
		}
	}
	return out
}
