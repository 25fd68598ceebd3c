package listener

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/testpki"
)

// FuzzSNILookup feeds arbitrary server names (they come from the client's
// hello) to the certificate choice: it must never panic, and a certificate
// chosen by name must be valid for that name.
func FuzzSNILookup(f *testing.F) {
	ca := testpki.NewCA(f)
	var pairs []config.CertPair
	for _, names := range [][]string{{"default.test"}, {"a.example.com"}, {"*.example.com"}, {"127.0.0.1"}} {
		c, k, _ := ca.Issue(f, testpki.Leaf{Names: names})
		pairs = append(pairs, config.CertPair{Cert: c, Key: k})
	}
	store, err := NewCertStore("fuzz", pairs, nil)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", "a.example.com", "B.EXAMPLE.COM", "x.y.example.com", ".", "..example.com", "*.example.com", "127.0.0.1", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		hello := &tls.ClientHelloInfo{ServerName: name}
		c := store.certFor(hello)
		if c == nil {
			t.Fatal("no certificate, not even the default")
		}
		if !store.has(name) {
			return
		}
		if err := c.Leaf.VerifyHostname(strings.ToLower(name)); err != nil {
			t.Errorf("name %q got a certificate for %v: %v", name, c.Leaf.DNSNames, err)
		}
	})
}

// FuzzRedirectHTTPS feeds arbitrary Host values and targets to the https
// redirect: the Location must stay an https URL on one line.
func FuzzRedirectHTTPS(f *testing.F) {
	for _, s := range [][2]string{{"example.com", "/"}, {"example.com:80", "/a?b"}, {"[::1]:8080", "/"}, {"", "*"}, {"a:b:c", "/x"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, host, uri string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host, r.RequestURI = host, uri
		w := httptest.NewRecorder()
		redirectToHTTPS(w, r, ":8443")
		loc := w.Header().Get("Location")
		if w.Code == http.StatusBadRequest {
			return
		}
		if w.Code != http.StatusPermanentRedirect || !strings.HasPrefix(loc, "https://") {
			t.Fatalf("host %q uri %q: got %d %q", host, uri, w.Code, loc)
		}
	})
}
