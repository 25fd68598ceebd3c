package listener

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/portico-proxy/portico/internal/testpki"
)

// TestReusePortSharesTheAddress: worker processes bind the same TCP and
// UDP address side by side; a process that does not ask to share is
// refused, and when one sharer stops the others serve every new
// connection.
func TestReusePortSharesTheAddress(t *testing.T) {
	ca := testpki.NewCA(t)
	c, k, _ := ca.Issue(t, testpki.Leaf{Names: []string{"site.test"}})
	backend := echoBackend(t).URL
	l := tlsListener([2]string{c, k})
	l.HTTP3 = true
	l.Addr = "127.0.0.1:0"
	first := newListener(t, l, Options{ReusePort: true}, backend, nil)
	done := make(chan struct{})
	go func() { defer close(done); first.Serve() }()

	l.Addr = first.Addr().String()
	second := serveListener(t, l, Options{ReusePort: true}, backend, nil)
	if got, want := second.Addr().String(), l.Addr; got != want {
		t.Fatalf("second sharer bound %s, want %s", got, want)
	}
	_, err := NewWithOptions(l, &Current{}, nil, Options{})
	if err == nil || !strings.Contains(err.Error(), syscall.EADDRINUSE.Error()) {
		t.Fatalf("a listener that does not share: got %v, want %q", err, syscall.EADDRINUSE)
	}

	first.Shutdown(context.Background())
	<-done
	tc := &tls.Config{ServerName: "site.test", RootCAs: ca.Pool()}
	h1 := &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}
	h3 := &http3.Transport{TLSClientConfig: tc}
	defer h3.Close()
	for i := range 20 {
		for _, rt := range []http.RoundTripper{h1, h3} {
			client := &http.Client{Transport: rt, Timeout: 10 * time.Second}
			resp, err := client.Get("https://" + l.Addr + "/")
			if err != nil {
				t.Fatalf("request %d after the first sharer stopped: %v", i, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "hello from backend" {
				t.Fatalf("request %d over %s: got %q", i, resp.Proto, body)
			}
		}
		h3.CloseIdleConnections()
	}
}
