package upstream

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/testbackend"
)

// tableDNS answers lookups from tables the test changes between rounds.
// (It stands in for a DNS server: the rules under test are what the pool
// does with the answers.)
type tableDNS struct {
	mu    sync.Mutex
	hosts map[string][]string
	srv   map[string][]*net.SRV
	err   error
}

func (d *tableDNS) LookupHost(_ context.Context, host string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return nil, d.err
	}
	if a, ok := d.hosts[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func (d *tableDNS) LookupSRV(_ context.Context, _, _, name string) (string, []*net.SRV, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return "", nil, d.err
	}
	return name, d.srv[name], nil
}

func addrs(p *Pool) []string {
	var out []string
	for _, b := range p.set.Load().all {
		out = append(out, b.addr)
	}
	return out
}

func TestHostNameReResolvedWithoutReload(t *testing.T) {
	dns := &tableDNS{hosts: map[string][]string{"api.test": {"127.0.0.1"}}}
	clock := newFakeClock()
	p := mustPool(t, PoolOptions{Resolver: dns, Now: clock.Now, SlowStart: 1e9}, "http://api.test:8080")
	r := p.resolver
	r.close() // its first round may have run; the rest are driven by hand
	ctx := context.Background()
	r.refresh(ctx)
	if got := addrs(p); len(got) != 1 || got[0] != "127.0.0.1:8080" {
		t.Fatalf("after lookup: %v, want [127.0.0.1:8080]", got)
	}
	first := p.set.Load().all[0]
	if first.rampFrom.Load() != 0 {
		t.Error("the first answer for a name started slow start")
	}
	dns.hosts["api.test"] = []string{"127.0.0.2", "127.0.0.1"}
	r.refresh(ctx)
	all := p.set.Load().all
	if len(all) != 2 || all[0] != first || all[1].addr != "127.0.0.2:8080" {
		t.Fatalf("after a new address: %v, want the kept backend and 127.0.0.2:8080", addrs(p))
	}
	if all[1].rampFrom.Load() != clock.Now().UnixNano() {
		t.Error("a new address did not start slow start")
	}
	dns.err = errors.New("resolver down")
	r.refresh(ctx)
	if got := addrs(p); len(got) != 2 {
		t.Fatalf("DNS failing: %v, want the last good answer kept", got)
	}
	dns.err = nil
	dns.hosts["api.test"] = []string{"127.0.0.2"}
	r.refresh(ctx)
	if got := addrs(p); len(got) != 1 || got[0] != "127.0.0.2:8080" {
		t.Fatalf("after an address went away: %v, want [127.0.0.2:8080]", got)
	}
}

func TestSRVBackendsServeTraffic(t *testing.T) {
	a, b := named("a"), named("b")
	defer a.Close()
	defer b.Close()
	port := func(u string) uint16 {
		_, p, _ := net.SplitHostPort(u[len("http://"):])
		n, _ := strconv.Atoi(p)
		return uint16(n)
	}
	dns := &tableDNS{srv: map[string][]*net.SRV{"_http._tcp.api.test": {
		{Target: "127.0.0.1.", Port: port(a.URL), Weight: 1},
		{Target: "127.0.0.1.", Port: port(b.URL), Weight: 1},
	}}}
	p := mustPool(t, PoolOptions{Resolver: dns, Balance: PolicyRoundRobin}, "srv+http://_http._tcp.api.test")
	p.resolver.close()
	if n := len(p.set.Load().all); n != 2 {
		t.Fatalf("%d backends from the SRV record, want 2", n)
	}
	front := newTestProxy(t, &Proxy{Pool: p})
	seen := map[string]bool{}
	for i := 0; i < 6; i++ {
		code, body, _ := get(t, front.URL)
		if code != 200 {
			t.Fatalf("status %d", code)
		}
		seen[body] = true
	}
	if !seen["a"] || !seen["b"] {
		t.Errorf("saw %v, want both SRV targets", seen)
	}
	if err := p.SetDraining("srv+http://_http._tcp.api.test", true); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := get(t, front.URL); code != 503 {
		t.Errorf("every SRV target draining: got %d, want 503", code)
	}
}

func TestSRVLookupFailingAtStartGives503NotACrash(t *testing.T) {
	dns := &tableDNS{err: errors.New("no DNS")}
	p := mustPool(t, PoolOptions{Resolver: dns}, "srv+http://_http._tcp.api.test")
	p.resolver.close()
	front := newTestProxy(t, &Proxy{Pool: p})
	if code, _, _ := get(t, front.URL); code != 503 {
		t.Fatalf("got %d, want 503 while the SRV record is unknown", code)
	}
}

// TestResolvedBackendsKeepTheirName: a backend written as a name and
// dialled at its resolved address sends the name as Host in its health
// checks and under host_header: upstream, as does an SRV target; the
// scheme's default port is left out, as clients write it.
func TestResolvedBackendsKeepTheirName(t *testing.T) {
	hosts := make(chan string, 8)
	addr := testbackend.Raw(t, func(c net.Conn, br *bufio.Reader) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			hosts <- req.Host
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	_, port, _ := net.SplitHostPort(addr)
	portN, _ := strconv.Atoi(port)
	dns := &tableDNS{
		hosts: map[string][]string{"api.test": {"127.0.0.1"}, "web.test": {"127.0.0.1"}},
		srv:   map[string][]*net.SRV{"_http._tcp.svc.test": {{Target: "web.test.", Port: uint16(portN), Weight: 1}}},
	}
	for _, tt := range []struct{ url, want string }{
		{"http://api.test:" + port, "api.test:" + port},
		{"srv+http://_http._tcp.svc.test", "web.test:" + port},
	} {
		p := mustPool(t, PoolOptions{Resolver: dns}, tt.url)
		p.resolver.refresh(context.Background())
		b := p.set.Load().all[0]
		if b.addr != addr {
			t.Fatalf("%s: dialled %s, want %s", tt.url, b.addr, addr)
		}
		hc := p.newHealthChecker(HealthOptions{Path: "/healthz", Timeout: 2 * time.Second})
		if !hc.check(context.Background(), b) {
			t.Fatalf("%s: check failed", tt.url)
		}
		if got := <-hosts; got != tt.want {
			t.Errorf("%s: health check Host %q, want %q", tt.url, got, tt.want)
		}
		front := newTestProxy(t, &Proxy{Pool: p, HostHeader: "upstream"})
		if code, _, _ := get(t, front.URL); code != 200 {
			t.Fatalf("%s: status %d", tt.url, code)
		}
		if got := <-hosts; got != tt.want {
			t.Errorf("%s: host_header upstream sent %q, want %q", tt.url, got, tt.want)
		}
	}
}

func TestHostField(t *testing.T) {
	for _, tt := range []struct {
		host, port string
		https      bool
		want       string
	}{
		{"api.test", "80", false, "api.test"},
		{"api.test", "443", true, "api.test"},
		{"api.test", "443", false, "api.test:443"},
		{"api.test", "8080", true, "api.test:8080"},
		{"::1", "80", false, "[::1]"},
		{"::1", "9000", false, "[::1]:9000"},
	} {
		if got := hostField(tt.host, tt.port, tt.https); got != tt.want {
			t.Errorf("hostField(%q, %q, %v) = %q, want %q", tt.host, tt.port, tt.https, got, tt.want)
		}
	}
}
