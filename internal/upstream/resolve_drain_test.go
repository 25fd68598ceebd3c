package upstream

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// slowOn serves on ip:port: /slow answers "name:" at once, then the rest
// of its body once release is closed; anything else answers name.
func slowOn(t *testing.T, ip string, port int, name string, release chan struct{}) int {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", ip, err)
	}
	s := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			io.WriteString(w, name+":")
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
			io.WriteString(w, "done")
			return
		}
		io.WriteString(w, name)
	})}}
	s.Start()
	t.Cleanup(s.Close)
	return ln.Addr().(*net.TCPAddr).Port
}

// TestDNSDroppedAddressDrainsWithoutCuttingRequests: an address gone
// from the answer gets no new request, while the one it is serving
// finishes whole.
func TestDNSDroppedAddressDrainsWithoutCuttingRequests(t *testing.T) {
	release := make(chan struct{})
	port := slowOn(t, "127.0.0.1", 0, "first", release)
	slowOn(t, "127.0.0.2", port, "second", release)
	dns := &tableDNS{hosts: map[string][]string{"api.test": {"127.0.0.1"}}}
	p := mustPool(t, PoolOptions{Resolver: dns, Eject: EjectOptions{Off: true}}, "http://api.test:"+strconv.Itoa(port))
	p.resolver.close()
	ctx := context.Background()
	p.resolver.refresh(ctx)
	front := newTestProxy(t, &Proxy{Pool: p})

	res, err := http.Get(front.URL + "/slow")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	head := make([]byte, len("first:"))
	if _, err := io.ReadFull(res.Body, head); err != nil || string(head) != "first:" {
		t.Fatalf("slow request began %q, %v; want first:", head, err)
	}
	dns.mu.Lock()
	dns.hosts["api.test"] = []string{"127.0.0.2"}
	dns.mu.Unlock()
	p.resolver.refresh(ctx)
	if got := addrs(p); len(got) != 1 || got[0] != "127.0.0.2:"+strconv.Itoa(port) {
		t.Fatalf("after the address went: %v", got)
	}
	for i := range 5 {
		if code, body, _ := get(t, front.URL); code != 200 || body != "second" {
			t.Fatalf("request %d after the change: %d %q, want 200 second", i, code, body)
		}
	}
	close(release)
	rest, err := io.ReadAll(res.Body)
	if err != nil || string(rest) != "done" {
		t.Fatalf("in-flight request on the dropped address ended %q, %v; want done", rest, err)
	}
}

// TestDNSEmptyAnswerKeepsTheLastGoodSet: an answer with no address (a
// name with no records, an SRV record with no targets) is no reason to
// empty the pool: the last good answer stays.
func TestDNSEmptyAnswerKeepsTheLastGoodSet(t *testing.T) {
	dns := &tableDNS{
		hosts: map[string][]string{"api.test": {"127.0.0.1"}, "t.test": {"127.0.0.3"}},
		srv:   map[string][]*net.SRV{"_http._tcp.api.test": {{Target: "t.test.", Port: 9, Weight: 1}}},
	}
	p := mustPool(t, PoolOptions{Resolver: dns}, "http://api.test:8080", "srv+http://_http._tcp.api.test")
	p.resolver.close()
	ctx := context.Background()
	p.resolver.refresh(ctx)
	want := []string{"127.0.0.1:8080", "127.0.0.3:9"}
	check := func(when string) {
		t.Helper()
		if got := addrs(p); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
			t.Fatalf("%s: %v, want %v", when, got, want)
		}
	}
	check("first answer")
	dns.mu.Lock()
	dns.hosts["api.test"] = []string{}
	dns.srv["_http._tcp.api.test"] = nil
	dns.mu.Unlock()
	p.resolver.refresh(ctx)
	check("empty answers")
	dns.mu.Lock()
	dns.srv["_http._tcp.api.test"] = []*net.SRV{{Target: "gone.test.", Port: 9, Weight: 1}}
	delete(dns.hosts, "api.test")
	dns.mu.Unlock()
	p.resolver.refresh(ctx)
	check("no such host, SRV target not resolving")
}
