package listener

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/testpki"
)

// fakeClock is a wall clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// periodStart is the first instant of a ticket period (2026-01-01 00:00
// UTC is a multiple of 12h since the epoch).
var periodStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// useClock makes k read now and re-derives its keys; k.run may already be
// reading the clock.
func useClock(k *ticketKeys, now func() time.Time) {
	k.mu.Lock()
	k.now = now
	k.mu.Unlock()
	k.refresh()
}

func keysOf(k *ticketKeys) [][32]byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.keys)
}

var tlsVersions = []struct {
	name    string
	version uint16
}{{"TLS 1.2", tls.VersionTLS12}, {"TLS 1.3", tls.VersionTLS13}}

// resumedOn makes one request over a new connection to addr and reports
// whether its handshake resumed. Reading the response also reads the
// TLS 1.3 tickets, which follow the handshake.
func resumedOn(t *testing.T, addr string, conf *tls.Config) bool {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, conf)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return c.ConnectionState().DidResume
}

// TestTicketSecretResumesAcrossListeners: two listeners stand for two
// worker processes serving one address. A session from one resumes on
// the other exactly when both have the same secret and the same
// configured address.
func TestTicketSecretResumesAcrossListeners(t *testing.T) {
	ca := testpki.NewCA(t)
	c, k, _ := ca.Issue(t, testpki.Leaf{Names: []string{"site.test"}})
	backend := echoBackend(t).URL
	shared := []byte("0123456789abcdef0123456789abcdef")
	other := []byte("fedcba9876543210fedcba9876543210")
	tests := []struct {
		name           string
		secretA, addrA string
		secretB, addrB string
		want           bool
	}{
		{"same secret, same address", string(shared), "127.0.0.1:0", string(shared), "127.0.0.1:0", true},
		{"different secrets", string(shared), "127.0.0.1:0", string(other), "127.0.0.1:0", false},
		{"same secret, other address", string(shared), "127.0.0.1:0", string(shared), "localhost:0", false},
		{"no secret", "", "127.0.0.1:0", "", "127.0.0.1:0", false},
	}
	for _, tt := range tests {
		listen := func(secret, addr string) *Server {
			l := tlsListener([2]string{c, k})
			l.Addr = addr
			var opts Options
			if secret != "" {
				opts.TicketSecret = []byte(secret)
			}
			return serveListener(t, l, opts, backend, nil)
		}
		a, b := listen(tt.secretA, tt.addrA), listen(tt.secretB, tt.addrB)
		for _, v := range tlsVersions {
			conf := &tls.Config{ServerName: "site.test", RootCAs: ca.Pool(), MinVersion: v.version, MaxVersion: v.version,
				ClientSessionCache: tls.NewLRUClientSessionCache(4)}
			resumedOn(t, a.Addr().String(), conf)
			// The session resumes where it came from, so a refusal by b
			// is b's doing.
			if !resumedOn(t, a.Addr().String(), conf) {
				t.Fatalf("%s, %s: got no resumption on the issuing listener, want one", tt.name, v.name)
			}
			if got := resumedOn(t, b.Addr().String(), conf); got != tt.want {
				t.Errorf("%s, %s: resumed on the other listener: got %v, want %v", tt.name, v.name, got, tt.want)
			}
		}
	}
}

// TestEmptyTicketSecretIsRandom: an empty, non-nil secret would make
// every key computable by anyone; it is treated as no secret.
func TestEmptyTicketSecretIsRandom(t *testing.T) {
	a := newTicketKeys(&tls.Config{}, []byte{}, "127.0.0.1:443", ticketKeep)
	b := newTicketKeys(&tls.Config{}, []byte{}, "127.0.0.1:443", ticketKeep)
	useClock(a, func() time.Time { return periodStart })
	useClock(b, func() time.Time { return periodStart })
	if got := keysOf(a)[0]; got == keysOf(b)[0] || got == deriveTicketKey(nil, "127.0.0.1:443", periodStart.Unix()/int64(ticketRotation/time.Second)) {
		t.Errorf("got the same key for two empty secrets (%x), want random ones", got)
	}
}

// pipeServerConf is a listener's TLS policy with one certificate, for
// handshakes over net.Pipe.
func pipeServerConf(t testing.TB, ca *testpki.CA) *tls.Config {
	return leafServerConf(t, ca, testpki.Leaf{Names: []string{"site.test"}})
}

// leafServerConf is pipeServerConf with a certificate for leaf.
func leafServerConf(t testing.TB, ca *testpki.CA, leaf testpki.Leaf) *tls.Config {
	t.Helper()
	c, k, _ := ca.Issue(t, leaf)
	store, err := NewCertStore("pipe", []config.CertPair{{Cert: c, Key: k}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	conf, err := newTLSConfig(&config.TLS{}, func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		return store.certFor(h), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return conf
}

// pipeResumed runs one handshake over net.Pipe and reports whether it
// resumed. The server writes a byte for the client to read, which makes
// the client take the TLS 1.3 tickets that follow the handshake.
func pipeResumed(t *testing.T, srvConf, cliConf *tls.Config) bool {
	t.Helper()
	sc, cc := net.Pipe()
	defer sc.Close()
	defer cc.Close()
	done := make(chan error, 1)
	go func() {
		srv := tls.Server(sc, srvConf)
		err := srv.Handshake()
		if err == nil {
			_, err = srv.Write([]byte{1})
		}
		done <- err
	}()
	cli := tls.Client(cc, cliConf)
	if err := cli.Handshake(); err != nil {
		t.Fatal(err)
	}
	var one [1]byte
	if _, err := cli.Read(one[:]); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return cli.ConnectionState().DidResume
}

// TestTicketKeysAgreeAcrossProcessesByPeriod: two processes with the
// same secret that derive their keys at different times have the same
// list within one period; one that is some periods ahead still holds
// the other's current key until keep periods have passed, and a ticket
// from the one behind opens on it exactly as long.
func TestTicketKeysAgreeAcrossProcessesByPeriod(t *testing.T) {
	ca := testpki.NewCA(t)
	secret := []byte("0123456789abcdef0123456789abcdef")
	const listener = "127.0.0.1:443"
	tests := []struct {
		name   string
		a, b   time.Time
		ahead  int // periods b is ahead of a
		resume bool
	}{
		{"same instant", periodStart, periodStart, 0, true},
		{"first and last instant of a period", periodStart, periodStart.Add(ticketRotation - time.Nanosecond), 0, true},
		{"across a boundary", periodStart.Add(ticketRotation - time.Nanosecond), periodStart.Add(ticketRotation), 1, true},
		{"one period later", periodStart.Add(time.Hour), periodStart.Add(ticketRotation + 5*time.Hour), 1, true},
		{"last period keeping the key", periodStart, periodStart.Add((ticketKeep - 1) * ticketRotation), ticketKeep - 1, true},
		{"key forgotten", periodStart.Add(time.Hour), periodStart.Add(ticketKeep * ticketRotation), ticketKeep, false},
	}
	for _, tt := range tests {
		for _, v := range tlsVersions {
			confA, confB := pipeServerConf(t, ca), pipeServerConf(t, ca)
			a := newTicketKeys(confA, secret, listener, ticketKeep)
			b := newTicketKeys(confB, secret, listener, ticketKeep)
			useClock(a, func() time.Time { return tt.a })
			useClock(b, func() time.Time { return tt.b })
			ka, kb := keysOf(a), keysOf(b)
			if len(ka) != ticketKeep || len(kb) != ticketKeep {
				t.Fatalf("%s: got %d and %d keys, want %d", tt.name, len(ka), len(kb), ticketKeep)
			}
			if tt.ahead < ticketKeep {
				if got, want := kb[tt.ahead:], ka[:ticketKeep-tt.ahead]; !slices.Equal(got, want) {
					t.Errorf("%s: got b's older keys %x, want a's newest %x", tt.name, got, want)
				}
			} else if slices.Contains(kb, ka[0]) {
				t.Errorf("%s: got a's current key among b's, want it forgotten", tt.name)
			}
			if tt.ahead > 0 && kb[0] == ka[0] {
				t.Errorf("%s: got the same current key %x in two periods, want a new one", tt.name, kb[0])
			}

			cli := &tls.Config{ServerName: "site.test", RootCAs: ca.Pool(), MinVersion: v.version, MaxVersion: v.version,
				ClientSessionCache: tls.NewLRUClientSessionCache(1)}
			pipeResumed(t, confA, cli)
			if got := pipeResumed(t, confB, cli); got != tt.resume {
				t.Errorf("%s, %s: ticket from a resumed on b: got %v, want %v", tt.name, v.name, got, tt.resume)
			}
		}
	}
}

// TestTicketKeysRefreshWaitsForTheNextBoundary: the keys stay current
// until the wall clock reaches the next multiple of ticketRotation.
func TestTicketKeysRefreshWaitsForTheNextBoundary(t *testing.T) {
	tests := []struct {
		now  time.Time
		want time.Duration
	}{
		{periodStart, ticketRotation},
		{periodStart.Add(time.Nanosecond), ticketRotation - time.Nanosecond},
		{periodStart.Add(5 * time.Hour), ticketRotation - 5*time.Hour},
		{periodStart.Add(ticketRotation - time.Nanosecond), time.Nanosecond},
		{periodStart.In(time.FixedZone("UTC+5:30", 5*3600+1800)).Add(time.Hour), ticketRotation - time.Hour},
	}
	k := newTicketKeys(&tls.Config{}, nil, "127.0.0.1:443", ticketKeep)
	for _, tt := range tests {
		k.now = func() time.Time { return tt.now }
		if got := k.refresh(); got != tt.want {
			t.Errorf("at %v: got a wait of %v, want %v", tt.now, got, tt.want)
		}
	}
}

// TestTicketKeysRunRotatesAtTheBoundary: run sets the next period's keys
// when its timer fires, and returns once stop is closed.
func TestTicketKeysRunRotatesAtTheBoundary(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	const listener = "127.0.0.1:443"
	boundary := periodStart.Add(ticketRotation)
	k := newTicketKeys(&tls.Config{}, secret, listener, ticketKeep)
	// The first reading is a nanosecond before the boundary, so run's
	// first timer is a nanosecond long; every later one is the boundary.
	reached := make(chan struct{})
	var readings int
	k.now = func() time.Time { // called under k.mu
		readings++
		switch readings {
		case 1:
			return boundary.Add(-time.Nanosecond)
		case 2:
			close(reached)
		}
		return boundary
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); k.run(stop) }()
	select {
	case <-reached:
	case <-time.After(10 * time.Second):
		t.Fatal("run did not re-derive the keys after its timer")
	}
	want := newTicketKeys(&tls.Config{}, secret, listener, ticketKeep)
	want.now = func() time.Time { return boundary }
	want.refresh()
	if got := keysOf(k); !slices.Equal(got, want.keys) {
		t.Errorf("after the boundary: got keys %x, want %x", got, want.keys)
	}
	close(stop)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after stop was closed")
	}
}

// TestTicketKeysReachTheHTTP3Copy: HTTP/3 serves from a clone of the
// listener's config; after a rotation the clone seals with the new key
// too, so a ticket from it opens on another worker that rotated, and
// keys do not outlive their periods there.
func TestTicketKeysReachTheHTTP3Copy(t *testing.T) {
	ca := testpki.NewCA(t)
	secret := []byte("0123456789abcdef0123456789abcdef")
	const listener = "127.0.0.1:443"
	for _, v := range tlsVersions {
		conf, other := pipeServerConf(t, ca), pipeServerConf(t, ca)
		k := newTicketKeys(conf, secret, listener, ticketKeep)
		useClock(k, func() time.Time { return periodStart })
		h3 := conf.Clone()
		k.add(h3)
		later := periodStart.Add(ticketKeep * ticketRotation)
		useClock(k, func() time.Time { return later })
		useClock(newTicketKeys(other, secret, listener, ticketKeep), func() time.Time { return later })

		cli := &tls.Config{ServerName: "site.test", RootCAs: ca.Pool(), MinVersion: v.version, MaxVersion: v.version,
			ClientSessionCache: tls.NewLRUClientSessionCache(1)}
		pipeResumed(t, h3, cli)
		if !pipeResumed(t, other, cli) {
			t.Errorf("%s: a ticket from the HTTP/3 copy after a rotation did not resume on a worker in the same period", v.name)
		}
	}
}
