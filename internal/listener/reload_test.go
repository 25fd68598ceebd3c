package listener

import (
	"crypto/tls"
	"math/big"
	"os"
	"strings"
	"testing"

	"github.com/portico-proxy/portico/internal/testbackend"
	"github.com/portico-proxy/portico/internal/testpki"
)

// serves reports whether a verified handshake for site.test gets the
// certificate with serial want: the pair served is whole (its key signs)
// and is the expected one.
func serves(t *testing.T, s *Server, ca *testpki.CA, want *big.Int) bool {
	t.Helper()
	got, err := handshake(t, s.Addr().String(), &tls.Config{ServerName: "site.test", RootCAs: ca.Pool()})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return got.SerialNumber.Cmp(want) == 0
}

func TestCertReloadRemovedFileKeepsOldUntilItComesBack(t *testing.T) {
	ca := testpki.NewCA(t)
	c1, k1, leaf1 := ca.Issue(t, testpki.Leaf{Names: []string{"site.test"}})
	var log testbackend.SyncBuffer
	s := serveListener(t, tlsListener([2]string{c1, k1}), Options{}, echoBackend(t).URL, &log)
	saved, err := os.ReadFile(c1)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(c1); err != nil {
		t.Fatal(err)
	}
	if err := s.CertStore().Check(); err == nil || !strings.Contains(err.Error(), c1) {
		t.Fatalf("removed file: got %v, want an error naming %s", err, c1)
	}
	if !strings.Contains(log.String(), "keeping the old certificate") {
		t.Errorf("log does not report the failure:\n%s", log.String())
	}
	if err := s.CertStore().Check(); err != nil {
		t.Errorf("second poll of the still missing file: got %v, want nothing new", err)
	}
	if !serves(t, s, ca, leaf1.SerialNumber) {
		t.Error("the old certificate is not served after its file was removed")
	}
	if err := os.WriteFile(c1, saved, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.CertStore().Check(); err != nil {
		t.Errorf("the file is back: %v", err)
	}
	if !serves(t, s, ca, leaf1.SerialNumber) {
		t.Error("not served after the file came back")
	}
}

// TestCertReloadKeyBeforeCertificate: between the new key and the new
// certificate the files do not match; the old pair stays whole in
// service, and the new one is served once both are there.
func TestCertReloadKeyBeforeCertificate(t *testing.T) {
	ca := testpki.NewCA(t)
	c1, k1, leaf1 := ca.Issue(t, testpki.Leaf{Names: []string{"site.test"}})
	s := serveListener(t, tlsListener([2]string{c1, k1}), Options{}, echoBackend(t).URL, nil)
	c2, k2, leaf2 := ca.Issue(t, testpki.Leaf{Names: []string{"site.test"}})
	replaceFile(t, k2, k1)
	if err := s.CertStore().Check(); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("new key with the old certificate: got %v, want a mismatch error", err)
	}
	if !serves(t, s, ca, leaf1.SerialNumber) {
		t.Fatal("the old pair is not served in the mismatch window")
	}
	replaceFile(t, c2, c1)
	if err := s.CertStore().Check(); err != nil {
		t.Fatal(err)
	}
	if !serves(t, s, ca, leaf2.SerialNumber) {
		t.Error("the new pair is not served once both files are there")
	}
}
