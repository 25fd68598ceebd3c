package listener

import (
	"os"
	"testing"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/testpki"
)

// TestCertReloadFileChangedDuringAFailedLoad: when the certificate
// arrives while the mismatching pair is being loaded, the failure is
// recorded against the files as they were read, so the next poll loads
// the complete pair instead of taking it for the broken one.
func TestCertReloadFileChangedDuringAFailedLoad(t *testing.T) {
	ca := testpki.NewCA(t)
	c1, k1, _ := ca.Issue(t, testpki.Leaf{Names: []string{"site.test"}})
	s := serveListener(t, tlsListener([2]string{c1, k1}), Options{}, echoBackend(t).URL, nil)
	c2, k2, leaf2 := ca.Issue(t, testpki.Leaf{Names: []string{"site.test"}})
	replaceFile(t, k2, k1)
	arrived := false
	afterCertRead = func(config.CertPair) {
		if !arrived {
			arrived = true
			replaceFile(t, c2, c1) // lands after the read, before the verdict
		}
	}
	t.Cleanup(func() { afterCertRead = nil })
	if err := s.CertStore().Check(); err == nil {
		t.Fatal("the mismatching pair loaded")
	}
	if err := s.CertStore().Check(); err != nil {
		t.Fatal(err)
	}
	if !serves(t, s, ca, leaf2.SerialNumber) {
		t.Error("the complete new pair was never loaded")
	}
}

// TestCertReloadSeesAFileRenamedInWithinTheSameTick: a file's timestamp is
// only as fine as the kernel's clock tick, so a new key of the same size
// renamed over the old one may carry the very same time. It is another
// file all the same, and the poll must look at it (here: find that it
// does not match the certificate, and say so).
func TestCertReloadSeesAFileRenamedInWithinTheSameTick(t *testing.T) {
	ca := testpki.NewCA(t)
	c1, k1, _ := ca.Issue(t, testpki.Leaf{Names: []string{"site.test"}})
	s := serveListener(t, tlsListener([2]string{c1, k1}), Options{}, echoBackend(t).URL, nil)
	_, k2, _ := ca.Issue(t, testpki.Leaf{Names: []string{"site.test"}})
	old, err := os.Stat(k1)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(k2, old.ModTime(), old.ModTime()); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(k2); st.Size() != old.Size() {
		t.Skipf("the two keys differ in size (%d, %d): the case needs equal ones", st.Size(), old.Size())
	}
	replaceFile(t, k2, k1)
	if err := s.CertStore().Check(); err == nil {
		t.Fatal("the new key went unnoticed: the poll took it for the old one")
	}
}
