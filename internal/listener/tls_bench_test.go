package listener

import (
	"crypto/tls"
	"net"
	"testing"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/testpki"
)

// BenchmarkGetCertificate measures the per-handshake certificate choice:
// one map lookup for a name with one certificate.
func BenchmarkGetCertificate(b *testing.B) {
	ca := testpki.NewCA(b)
	var pairs []config.CertPair
	for _, names := range [][]string{{"default.test"}, {"a.example.com"}, {"*.example.com"}} {
		c, k, _ := ca.Issue(b, testpki.Leaf{Names: names})
		pairs = append(pairs, config.CertPair{Cert: c, Key: k})
	}
	// One name with an ECDSA and an RSA pair: the client's hello decides.
	for _, rsa := range []bool{true, false} {
		c, k, _ := ca.Issue(b, testpki.Leaf{Names: []string{"both.test"}, RSA: rsa})
		pairs = append(pairs, config.CertPair{Cert: c, Key: k})
	}
	store, err := NewCertStore("bench", pairs, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"a.example.com", "b.example.com", "unknown.test", "both.test"} {
		b.Run(name, func(b *testing.B) {
			hello := &tls.ClientHelloInfo{ServerName: name, SupportedVersions: []uint16{tls.VersionTLS13},
				SignatureSchemes: []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256, tls.PSSWithSHA256},
				SupportedCurves:  []tls.CurveID{tls.X25519, tls.CurveP256}}
			b.ReportAllocs()
			for b.Loop() {
				if store.certFor(hello) == nil {
					b.Fatal("no certificate")
				}
			}
		})
	}
}

// BenchmarkTLSHandshake measures one full TLS 1.3 handshake (client and
// server CPU together, over an in-memory pipe) with the listener's
// policy, for an ECDSA P-256 and an RSA 2048 certificate, and a resumed
// one.
func BenchmarkTLSHandshake(b *testing.B) {
	ca := testpki.NewCA(b)
	for _, tc := range []struct {
		name    string
		rsa     bool
		resumed bool
	}{{"ECDSA-P256", false, false}, {"RSA-2048", true, false}, {"ECDSA-P256-resumed", false, true}} {
		b.Run(tc.name, func(b *testing.B) {
			srvConf := leafServerConf(b, ca, testpki.Leaf{Names: []string{"site.test"}, RSA: tc.rsa})
			newTicketKeys(srvConf, nil, "bench", ticketKeep)
			cliConf := &tls.Config{ServerName: "site.test", RootCAs: ca.Pool()}
			if tc.resumed {
				cliConf.ClientSessionCache = tls.NewLRUClientSessionCache(1)
				pipeHandshake(b, srvConf, cliConf, true)
			}
			b.ReportAllocs()
			for b.Loop() {
				pipeHandshake(b, srvConf, cliConf, tc.resumed)
			}
		})
	}
}

func pipeHandshake(b *testing.B, srvConf, cliConf *tls.Config, read bool) {
	sc, cc := net.Pipe()
	srv := tls.Server(sc, srvConf)
	done := make(chan error, 1)
	go func() {
		err := srv.Handshake()
		if err == nil && read {
			// TLS 1.3 tickets follow the handshake; the client reads them
			// with its first read, so the server writes a byte.
			_, err = srv.Write([]byte{1})
		}
		done <- err
	}()
	cli := tls.Client(cc, cliConf)
	if err := cli.Handshake(); err != nil {
		b.Fatal(err)
	}
	if read {
		var one [1]byte
		if _, err := cli.Read(one[:]); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	sc.Close()
	cc.Close()
}

// BenchmarkListenerTLSHandshake measures full handshakes against a real
// listener over loopback TCP (dial, TLS 1.3 handshake with an ECDSA
// certificate, close), as a handshakes-per-second figure; the Go client's
// CPU is included.
func BenchmarkListenerTLSHandshake(b *testing.B) {
	ca := testpki.NewCA(b)
	c, k, _ := ca.Issue(b, testpki.Leaf{Names: []string{"site.test"}})
	s := serveListener(b, tlsListener([2]string{c, k}), Options{}, "http://127.0.0.1:9", nil)
	addr := s.Addr().String()
	conf := &tls.Config{ServerName: "site.test", RootCAs: ca.Pool()}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			conn, err := tls.Dial("tcp", addr, conf)
			if err != nil {
				b.Error(err)
				return
			}
			conn.Close()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
}
