package listener

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/portico-proxy/portico/internal/testbackend"
	"github.com/portico-proxy/portico/internal/testpki"
)

type leafSerial struct {
	serial   int64
	cn       string
	notAfter time.Time
}

func TestOCSPStaplingFromOpenSSLResponder(t *testing.T) {
	ca := testpki.NewCA(t)
	port := freePort(t)
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	c, k, leaf := ca.Issue(t, testpki.Leaf{CN: "site.test", Names: []string{"site.test"}, OCSPURL: url})
	noOCSP, noOCSPKey, _ := ca.Issue(t, testpki.Leaf{CN: "plain.test", Names: []string{"plain.test"}})
	var log testbackend.SyncBuffer
	s := serveListener(t, tlsListener([2]string{c, k}, [2]string{noOCSP, noOCSPKey}), Options{}, echoBackend(t).URL, &log)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(log.String())
		}
	})

	// Responder down: no staple, and the handshake still works.
	s.stapler.refresh(context.Background())
	if st := stapleFor(t, s, "site.test"); st != nil {
		t.Fatal("got a staple with the responder down")
	}

	startResponderOn(t, ca, port, &leafSerial{serial: leaf.SerialNumber.Int64(), cn: "site.test", notAfter: leaf.NotAfter})
	s.stapler.refresh(context.Background())
	raw := stapleFor(t, s, "site.test")
	if raw == nil {
		t.Fatal("no OCSP response stapled")
	}
	resp, err := ocsp.ParseResponseForCert(raw, leaf, ca.Cert)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != ocsp.Good || resp.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Errorf("got status %d for serial %v, want good for %v", resp.Status, resp.SerialNumber, leaf.SerialNumber)
	}
	if st := stapleFor(t, s, "plain.test"); st != nil {
		t.Error("a certificate without a responder got a staple")
	}
	infos := s.Certificates()
	if !infos[0].OCSPStapled || infos[1].OCSPStapled {
		t.Errorf("Certificates: got stapled %v, %v; want true, false", infos[0].OCSPStapled, infos[1].OCSPStapled)
	}
}

// startResponderOn runs `openssl ocsp` as the CA's responder on port,
// vouching for the listed certificates.
func startResponderOn(t *testing.T, ca *testpki.CA, port int, good ...*leafSerial) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("PORTICO_REQUIRE_REAL") == "" {
			t.Skip("openssl not installed")
		}
		t.Fatal("openssl not installed")
	}
	index := filepath.Join(ca.Dir, "index.txt")
	var lines string
	for _, g := range good {
		lines += fmt.Sprintf("V\t%s\t\t%X\tunknown\t/CN=%s\n", g.notAfter.UTC().Format("060102150405Z"), g.serial, g.cn)
	}
	if err := os.WriteFile(index, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("openssl", "ocsp", "-index", index, "-port", strconv.Itoa(port),
		"-rsigner", ca.File, "-rkey", ca.KeyFile, "-CA", ca.File, "-nmin", "10", "-ignore_err")
	out, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// Readiness comes from its own output: the responder serves one
	// connection at a time, and a probe that connects and hangs up
	// without a request stalls it.
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "waiting for OCSP client connections") {
				ready <- true
				io.Copy(io.Discard, out)
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("openssl ocsp exited before it was ready")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("openssl ocsp did not start within 10s")
	}
}

func stapleFor(t *testing.T, s *Server, name string) []byte {
	t.Helper()
	conn, err := tls.Dial("tcp", s.Addr().String(), &tls.Config{ServerName: name, InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().OCSPResponse
}
