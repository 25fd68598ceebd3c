package listener

import (
	"crypto/tls"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/testbackend"
)

// TestACMEWithTwoWorkersSharingPortsAndStorage: two worker processes
// (here two sets of listeners, each with its own Challenges, as each
// process has) share the listener ports and the ACME storage. One of them
// obtains the certificate, the other waits on certmagic's storage lock and
// loads it, and both serve it. The CA's validation lands on whichever
// worker the kernel picks; one that did not start the order answers from
// the challenge certmagic keeps in the shared storage.
func TestACMEWithTwoWorkersSharingPortsAndStorage(t *testing.T) {
	for _, challenge := range []string{"http-01", "tls-alpn-01"} {
		t.Run(challenge, func(t *testing.T) {
			httpPort, tlsPort := freePort(t), freePort(t)
			peb := startPebble(t, httpPort, tlsPort)
			storage := t.TempDir()
			backend := echoBackend(t).URL
			var logs [2]testbackend.SyncBuffer
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("worker 0 log:\n%s\nworker 1 log:\n%s", logs[0].String(), logs[1].String())
				}
			})
			var workers [2]*Server
			for i := range workers {
				opts := Options{Challenges: &Challenges{}, ACMEHTTPPort: httpPort, ReusePort: true,
					TicketSecret: []byte("one secret for both workers.....")}
				serveListener(t, config.Listener{Addr: "127.0.0.1:" + strconv.Itoa(httpPort),
					RedirectHTTPS: &config.RedirectHTTPS{Port: 443}}, opts, backend, &logs[i])
				l := config.Listener{Addr: "127.0.0.1:" + strconv.Itoa(tlsPort), TLS: &config.TLS{ACME: &config.ACME{
					Email: "ops@example.com", Domains: []string{"localhost"}, CA: peb.dir, CARoot: peb.caRoot,
					Storage: storage, Challenges: []string{challenge},
				}}}
				workers[i] = serveListener(t, l, opts, backend, &logs[i])
			}
			for _, w := range workers {
				waitACME(t, w, 90*time.Second)
			}
			obtained := 0
			for i := range logs {
				obtained += strings.Count(logs[i].String(), "certificate obtained successfully")
			}
			if obtained != 1 {
				t.Errorf("got %d certificates obtained, want 1: the second worker should load the first one's", obtained)
			}
			client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
				TLSClientConfig: &tls.Config{ServerName: "localhost", RootCAs: peb.root}}}
			for i := range 10 { // new connections, spread over both workers
				resp, err := client.Get("https://127.0.0.1:" + strconv.Itoa(tlsPort) + "/")
				if err != nil {
					t.Fatalf("request %d: HTTPS with the ACME certificate: %v", i, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(body) != "hello from backend" {
					t.Fatalf("request %d: got %q", i, body)
				}
			}
		})
	}
}
