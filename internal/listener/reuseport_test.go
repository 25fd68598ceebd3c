package listener

import (
	"context"
	"crypto/tls"
	"fmt"
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

	tc := &tls.Config{ServerName: "site.test", RootCAs: ca.Pool()}
	h1 := &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}
	h3 := &http3.Transport{TLSClientConfig: tc}
	defer h3.Close()
	// Both sharers serving: each QUIC connection (a new UDP source port
	// each time) stays with the socket the kernel picked for it.
	for i := range 10 {
		if err := getOver(h3, l.Addr); err != nil {
			t.Fatalf("HTTP/3 request %d with both sharers up: %v", i, err)
		}
		h3.CloseIdleConnections()
	}

	first.Shutdown(context.Background())
	<-done
	for i := range 20 {
		for _, rt := range []http.RoundTripper{h1, h3} {
			if err := getOver(rt, l.Addr); err != nil {
				t.Fatalf("request %d after the first sharer stopped: %v", i, err)
			}
		}
		h3.CloseIdleConnections()
	}
}

// getOver makes one request to addr over rt and checks the backend's
// answer came back.
func getOver(rt http.RoundTripper, addr string) error {
	client := &http.Client{Transport: rt, Timeout: 10 * time.Second}
	resp, err := client.Get("https://" + addr + "/")
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello from backend" {
		return fmt.Errorf("over %s: got %q", resp.Proto, body)
	}
	return nil
}
