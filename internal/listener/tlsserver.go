package listener

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/router"
)

// Options are the parts of a listener that the process, not the listener
// config, decides.
type Options struct {
	// Challenges is shared by every listener of a process: TLS listeners
	// with ACME register in it, plain listeners answer HTTP-01 validations
	// from it. Nil: plain listeners answer none.
	Challenges *Challenges
	// ACMEHTTPPort is the port the CA's HTTP-01 validations arrive on (a
	// plain listener's); 0 means 80.
	ACMEHTTPPort int
	// CertPoll is how often certificate files are checked for changes;
	// 0 means 5s, negative means never (tests call CertStore.Check).
	CertPoll time.Duration
	// OCSPClient fetches OCSP responses; nil means a client with a 10s
	// timeout.
	OCSPClient *http.Client
	// ReusePort binds every listener socket (TCP, and UDP for HTTP/3)
	// with SO_REUSEPORT, so that several worker processes share each
	// address and the kernel spreads connections over them.
	ReusePort bool
	// TicketSecret, when set, is the secret every session ticket key is
	// derived from, so that processes given the same secret open each
	// other's tickets. Nil: a random secret of this process.
	TicketSecret []byte
}

const defaultCertPoll = 5 * time.Second

// tlsParts is what a TLS listener owns for its whole life, across
// generations and reloads.
type tlsParts struct {
	certs   *CertStore // nil when the listener has no file certificates
	acme    *acmeManager
	tickets *ticketKeys
	stapler *stapler
	h3      *h3Server
	// clientHdr is the header that carries the verified client subject;
	// an incoming copy is always removed, on every listener.
	clientHdr string
	// altSvc advertises HTTP/3 on h1 and h2 responses; nil without it.
	altSvc []string
	// redirect is the https port suffix (":8443", or "" for 443) of a
	// plain listener with redirect_https.
	redirect   string
	redirectOn bool
}

// setupTLS prepares the TLS parts of s; it returns nil for a plain
// listener.
func (s *Server) setupTLS(addr net.Addr) (*tls.Config, error) {
	s.clientHdr = http.CanonicalHeaderKey(config.DefaultClientSubject)
	if r := s.cfg.RedirectHTTPS; r != nil {
		s.redirectOn = true
		if r.Port != 0 && r.Port != 443 {
			s.redirect = ":" + strconv.Itoa(r.Port)
		}
	}
	t := s.cfg.TLS
	if t == nil {
		return nil, nil
	}
	if t.ClientAuth != nil && t.ClientAuth.Header != "" {
		s.clientHdr = http.CanonicalHeaderKey(t.ClientAuth.Header)
	}
	var err error
	if len(t.Certs) > 0 {
		if s.certs, err = NewCertStore(s.key, t.Certs, s.log); err != nil {
			return nil, err
		}
	}
	tc, err := newTLSConfig(t, s.getCertificate)
	if err != nil {
		return nil, err
	}
	if t.ACME != nil {
		port := 0
		if ta, ok := addr.(*net.TCPAddr); ok {
			port = ta.Port
		}
		if s.acme, err = newACME(s.key, t.ACME, acmePorts{http: s.opts.ACMEHTTPPort, tls: port}, s.log); err != nil {
			return nil, err
		}
	}
	s.tickets = newTicketKeys(tc, s.opts.TicketSecret, s.cfg.Addr, ticketKeep)
	s.stapler = newStapler(s.certs, s.opts.OCSPClient, s.log)
	if s.stapler != nil {
		s.certs.onChange = s.stapler.kick
	}
	if s.cfg.HTTP3 {
		if s.h3, err = newH3Server(s, addr, tc); err != nil {
			s.acme.stopIfAny()
			return nil, err
		}
		s.altSvc = []string{`h3=":` + strconv.Itoa(addr.(*net.TCPAddr).Port) + `"; ma=86400`}
	}
	return tc, nil
}

// startTLSWork starts the background work of a TLS listener.
func (s *Server) startTLSWork() {
	if s.tls == nil {
		return
	}
	poll := s.opts.CertPoll
	if poll == 0 {
		poll = defaultCertPoll
	}
	if s.certs != nil && poll > 0 {
		go s.certs.watch(poll, s.stop)
	}
	go s.tickets.run(s.stop)
	if s.stapler != nil {
		go s.stapler.run(s.stop)
	}
	if s.acme != nil {
		s.opts.Challenges.addIfAny(s.acme)
		s.acme.start()
	}
	if s.h3 != nil {
		go s.h3.serve()
	}
}

// stopTLSWork ends the background work; HTTP/3 requests in flight get
// until ctx ends, like h1 and h2 ones.
func (s *Server) stopTLSWork(ctx context.Context) error {
	var err error
	s.stopOnce.Do(func() {
		close(s.stop)
		if s.acme != nil {
			s.opts.Challenges.removeIfAny(s.acme)
			s.acme.stopIfAny()
		}
		if s.h3 != nil {
			err = s.h3.shutdown(ctx)
		}
	})
	return err
}

// getCertificate serves a handshake: ACME names from certmagic, falling
// back to the file certificates while ACME has none yet.
func (s *Server) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if s.acme != nil && s.acme.handles(hello) {
		c, err := s.acme.getCertificate(hello)
		if err == nil {
			return c, nil
		}
		if s.certs == nil || isALPNChallenge(hello) {
			return nil, err
		}
	}
	if s.certs != nil {
		if c := s.certs.certFor(hello); c != nil {
			return c, nil
		}
	}
	return nil, errNoCertificate
}

func isALPNChallenge(hello *tls.ClientHelloInfo) bool {
	return len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acmeTLS1
}

// beforeRoute does the listener's own per-request work: the client
// subject header, ACME HTTP-01, the https redirect and Alt-Svc. It
// reports whether it answered the request.
func (s *Server) beforeRoute(w http.ResponseWriter, r *http.Request, gen *router.Generation) bool {
	// Clients must not be able to claim a certificate they did not show.
	stripClientHeaders(r.Header, s.clientHeaders(gen))
	if r.TLS != nil {
		if len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
			r.Header[s.clientHdr] = []string{r.TLS.VerifiedChains[0][0].Subject.String()}
		}
		if s.altSvc != nil && r.ProtoMajor < 3 {
			w.Header()["Alt-Svc"] = s.altSvc
		}
		return false
	}
	if s.opts.Challenges.serve(w, r) {
		return true
	}
	if s.redirectOn {
		redirectToHTTPS(w, r, s.redirect)
		return true
	}
	return false
}

// subjectHeaders are the client subject header names of a generation.
type subjectHeaders struct {
	gen   *router.Generation
	names []string
}

// clientHeaders returns the names to strip from every request: this
// listener's, the default, and those of every other listener in gen's
// config, since a plain listener's routes may lead to the backends that
// trust another listener's header.
func (s *Server) clientHeaders(gen *router.Generation) []string {
	if c := s.subjectHdrs.Load(); c != nil && c.gen == gen {
		return c.names
	}
	names := []string{s.clientHdr}
	add := func(n string) {
		if n = http.CanonicalHeaderKey(n); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	add(config.DefaultClientSubject)
	if gen != nil && gen.Config != nil {
		for _, l := range gen.Config.Listeners {
			if l.TLS != nil && l.TLS.ClientAuth != nil && l.TLS.ClientAuth.Header != "" {
				add(l.TLS.ClientAuth.Header)
			}
		}
	}
	s.subjectHdrs.Store(&subjectHeaders{gen: gen, names: names})
	return names
}

// stripClientHeaders removes every field named as one of names (all
// canonical), and those that differ only by '_' for '-': CGI-style
// gateways (WSGI, Rack, PHP) turn both into the same HTTP_X_... variable.
func stripClientHeaders(h http.Header, names []string) {
	for _, n := range names {
		delete(h, n)
	}
	for k := range h {
		if strings.IndexByte(k, '_') < 0 {
			continue
		}
		for _, n := range names {
			if sameFieldName(k, n) {
				delete(h, k)
				break
			}
		}
	}
}

// sameFieldName compares field names ignoring ASCII case and treating
// '_' and '-' alike.
func sameFieldName(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == '_' {
			x = '-'
		}
		if y == '_' {
			y = '-'
		}
		if x >= 'A' && x <= 'Z' {
			x += 'a' - 'A'
		}
		if y >= 'A' && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// redirectToHTTPS answers with 308, which keeps the method and body.
func redirectToHTTPS(w http.ResponseWriter, r *http.Request, port string) {
	host, ok := redirectHost(r.Host)
	if !ok {
		http.Error(w, "Bad Request: malformed Host", http.StatusBadRequest)
		return
	}
	uri := r.RequestURI
	if uri == "" || uri[0] != '/' {
		uri = r.URL.RequestURI()
	}
	if uri == "" || uri[0] != '/' { // OPTIONS *
		uri = "/"
	}
	w.Header().Set("Location", "https://"+host+port+uri)
	w.WriteHeader(http.StatusPermanentRedirect)
}

// redirectHost is the host of a Host field value without its port, for
// a Location: a name or IPv4 address of letters, digits, '-', '.', '_'
// and '~', or an IPv6 address in brackets. Anything else (a path,
// userinfo, an unbracketed IPv6 address, control bytes) would let the
// field point the redirect at another place, and is refused. Only HTTP/2
// requests without :authority reach here with a Host the engine did not
// check.
func redirectHost(hostport string) (string, bool) {
	host := hostport
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 && !strings.HasSuffix(hostport, "]") {
		h, _, err := net.SplitHostPort(hostport)
		if err != nil {
			return "", false
		}
		host = h
		if strings.IndexByte(h, ':') >= 0 { // IPv6: brackets again
			host = "[" + h + "]"
		}
	}
	if inner, ok := strings.CutPrefix(host, "["); ok {
		inner, ok = strings.CutSuffix(inner, "]")
		ip, err := netip.ParseAddr(inner)
		return host, ok && err == nil && ip.Is6()
	}
	if host == "" {
		return "", false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return "", false
		}
	}
	return host, true
}

// ReloadTLS applies new certificate files to a running listener; other
// TLS settings need a restart (see SameTLSPolicy). A file that fails to
// load keeps its old certificate; the error says which.
func (s *Server) ReloadTLS(t *config.TLS) error {
	if s.certs == nil || t == nil {
		return nil
	}
	return s.certs.Reload(t.Certs)
}

// Certificates describes every certificate the listener serves, for the
// admin API (GET /api/certificates).
func (s *Server) Certificates() []CertInfo {
	var out []CertInfo
	if s.certs != nil {
		out = append(out, s.certs.Certificates()...)
	}
	if s.acme != nil {
		out = append(out, s.acme.certificates()...)
	}
	return out
}

// CertStore is the listener's file certificate store, nil without one.
func (s *Server) CertStore() *CertStore { return s.certs }

func (c *Challenges) addIfAny(m *acmeManager) {
	if c != nil {
		c.add(m)
	}
}

func (c *Challenges) removeIfAny(m *acmeManager) {
	if c != nil {
		c.remove(m)
	}
}

func (m *acmeManager) stopIfAny() {
	if m != nil {
		m.stop()
	}
}
