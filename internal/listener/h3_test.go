package listener

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/portico-proxy/portico/internal/testpki"
)

func TestHTTP3RoundTripThroughProxy(t *testing.T) {
	ca := testpki.NewCA(t)
	c, k, _ := ca.Issue(t, testpki.Leaf{Names: []string{"site.test"}})
	l := tlsListener([2]string{c, k})
	l.HTTP3 = true
	s := serveListener(t, l, Options{}, echoBackend(t).URL, nil)
	url := "https://" + s.Addr().String() + "/hello"

	// h1 and h2 responses advertise HTTP/3 on the same port.
	h2 := &http.Client{Transport: &http.Transport{ForceAttemptHTTP2: true,
		TLSClientConfig: &tls.Config{ServerName: "site.test", RootCAs: ca.Pool()}}}
	defer h2.CloseIdleConnections()
	resp, err := h2.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := `h3=":` + portOf(t, s) + `"; ma=86400`
	if got := resp.Header.Get("Alt-Svc"); got != want {
		t.Errorf("Alt-Svc over %s: got %q, want %q", resp.Proto, got, want)
	}

	tr := &http3.Transport{TLSClientConfig: &tls.Config{ServerName: "site.test", RootCAs: ca.Pool()}}
	defer tr.Close()
	h3 := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err = h3.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 3 || resp.StatusCode != 200 || string(body) != "hello from backend" {
		t.Errorf("got %s %d %q, want HTTP/3 200 from the backend", resp.Proto, resp.StatusCode, body)
	}
	if got := resp.Header.Get("X-Seen-Proto"); got != "https" {
		t.Errorf("backend saw X-Forwarded-Proto %q, want https", got)
	}
	if resp.Header.Get("Alt-Svc") != "" {
		t.Error("an HTTP/3 response advertised HTTP/3 again")
	}
}

func portOf(t *testing.T, s *Server) string {
	t.Helper()
	_, port, err := net.SplitHostPort(s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// TestHTTP3CountsTowardsMaxConnsPerIP: QUIC connections take the same
// per-IP slots as TCP ones; one over the limit is closed at once, and a
// slot comes back when its connection ends.
func TestHTTP3CountsTowardsMaxConnsPerIP(t *testing.T) {
	ca := testpki.NewCA(t)
	c, k, _ := ca.Issue(t, testpki.Leaf{Names: []string{"site.test"}})
	l := tlsListener([2]string{c, k})
	l.HTTP3 = true
	l.Limits.MaxConnsPerIP = 1
	s := serveListener(t, l, Options{}, echoBackend(t).URL, nil)
	url := "https://" + s.Addr().String() + "/hello"
	newClient := func() (*http.Client, *http3.Transport) {
		tr := &http3.Transport{TLSClientConfig: &tls.Config{ServerName: "site.test", RootCAs: ca.Pool()}}
		return &http.Client{Transport: tr, Timeout: 5 * time.Second}, tr
	}
	get := func(c *http.Client) error {
		resp, err := c.Get(url)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil
	}

	first, firstTr := newClient()
	if err := get(first); err != nil {
		t.Fatalf("first connection: %v", err)
	}
	second, secondTr := newClient()
	defer secondTr.Close()
	if err := get(second); err == nil {
		t.Fatal("a second QUIC connection from the same IP was served; want it refused")
	}

	firstTr.Close() // frees the slot once the server sees the close
	third, thirdTr := newClient()
	defer thirdTr.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := get(third)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the first connection closed: %v", err)
		}
		thirdTr.Close()
		third, thirdTr = newClient()
		time.Sleep(50 * time.Millisecond)
	}
}
