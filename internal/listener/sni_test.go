package listener

import (
	"crypto/tls"
	"testing"

	"github.com/portico-proxy/portico/internal/testpki"
)

// TestSNIEdgeCases: a trailing dot, letter case, an IP address as the
// name (some clients send one), names a wildcard must not cover, and
// the default for everything else.
func TestSNIEdgeCases(t *testing.T) {
	ca := testpki.NewCA(t)
	dc, dk, _ := ca.Issue(t, testpki.Leaf{Names: []string{"default.test"}})
	wc, wk, _ := ca.Issue(t, testpki.Leaf{Names: []string{"*.example.com"}})
	ec, ek, _ := ca.Issue(t, testpki.Leaf{Names: []string{"a.example.com"}})
	ic, ik, _ := ca.Issue(t, testpki.Leaf{Names: []string{"127.0.0.1", "::1"}})
	// The wildcard is listed before the exact name: order does not matter.
	s := serveListener(t, tlsListener([2]string{dc, dk}, [2]string{wc, wk}, [2]string{ec, ek}, [2]string{ic, ik}), Options{}, echoBackend(t).URL, nil)
	name := func(c *tls.Certificate) string {
		if c == nil {
			return "<none>"
		}
		if len(c.Leaf.DNSNames) > 0 {
			return c.Leaf.DNSNames[0]
		}
		return c.Leaf.IPAddresses[0].String()
	}
	for _, tt := range []struct{ sni, want string }{
		{"a.example.com", "a.example.com"},
		{"a.example.com.", "a.example.com"},
		{"A.EXAMPLE.COM.", "a.example.com"},
		{"b.example.com", "*.example.com"},
		{"B.Example.Com.", "*.example.com"},
		{"a.b.example.com", "default.test"},
		{"example.com", "default.test"},
		{".example.com", "default.test"},
		{"*.example.com", "default.test"},
		{"a.example.com..", "default.test"},
		{"127.0.0.1", "127.0.0.1"},
		{"::1", "127.0.0.1"},
		{"10.0.0.1", "default.test"},
		{"", "default.test"},
		{".", "default.test"},
	} {
		if got := name(s.certs.certFor(&tls.ClientHelloInfo{ServerName: tt.sni})); got != tt.want {
			t.Errorf("certFor(%q): got %s, want %s", tt.sni, got, tt.want)
		}
	}
	// Over the wire: Go clients drop the trailing dot, and send no SNI for
	// an IP address (RFC 6066 3), which gets the default.
	for _, tt := range []struct{ server, want string }{
		{"a.example.com.", "a.example.com"},
		{"X.Example.Com", "*.example.com"},
		{"127.0.0.1", "default.test"},
	} {
		got, err := handshake(t, s.Addr().String(), &tls.Config{ServerName: tt.server, InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("%s: %v", tt.server, err)
		}
		if got.DNSNames[0] != tt.want {
			t.Errorf("handshake for %q: got %v, want %s", tt.server, got.DNSNames, tt.want)
		}
	}
}
