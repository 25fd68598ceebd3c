package upstream

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsServer is a real DNS server on loopback UDP, answering A and SRV
// questions from tables the test changes between rounds. Pools use it
// through Go's own resolver, so the whole lookup path (wire format,
// AAAA questions answered empty, SRV parsing) is what production runs.
type dnsServer struct {
	conn  net.PacketConn
	mu    sync.Mutex
	a     map[string][]string // name (with final dot) → IPv4 addresses
	srv   map[string][]dnsmessage.SRVResource
	fails bool // answer SERVFAIL to everything
}

func startDNS(t *testing.T) *dnsServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsServer{conn: pc, a: map[string][]string{}, srv: map[string][]dnsmessage.SRVResource{}}
	go s.serve()
	t.Cleanup(func() { pc.Close() })
	return s
}

// resolver is a Go resolver that asks only this server.
func (s *dnsServer) resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", s.conn.LocalAddr().String())
	}}
}

func (s *dnsServer) set(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

func (s *dnsServer) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		var q dnsmessage.Message
		if q.Unpack(buf[:n]) != nil || len(q.Questions) != 1 {
			continue
		}
		m := s.answer(q)
		out, err := m.Pack()
		if err == nil {
			s.conn.WriteTo(out, from)
		}
	}
}

func (s *dnsServer) answer(q dnsmessage.Message) dnsmessage.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	question := q.Questions[0]
	m := dnsmessage.Message{Header: dnsmessage.Header{ID: q.ID, Response: true, Authoritative: true,
		RecursionDesired: q.RecursionDesired, RecursionAvailable: true}, Questions: q.Questions}
	if s.fails {
		m.RCode = dnsmessage.RCodeServerFailure
		return m
	}
	name := strings.ToLower(question.Name.String())
	hdr := dnsmessage.ResourceHeader{Name: question.Name, Class: dnsmessage.ClassINET, TTL: 1}
	_, knownA := s.a[name]
	_, knownSRV := s.srv[name]
	if !knownA && !knownSRV {
		m.RCode = dnsmessage.RCodeNameError
		return m
	}
	switch question.Type {
	case dnsmessage.TypeA:
		for _, ip := range s.a[name] {
			var a dnsmessage.AResource
			copy(a.A[:], net.ParseIP(ip).To4())
			h := hdr
			h.Type = dnsmessage.TypeA
			m.Answers = append(m.Answers, dnsmessage.Resource{Header: h, Body: &a})
		}
	case dnsmessage.TypeSRV:
		for _, r := range s.srv[name] {
			h := hdr
			h.Type = dnsmessage.TypeSRV
			m.Answers = append(m.Answers, dnsmessage.Resource{Header: h, Body: &r})
		}
	}
	return m // AAAA and other types: no records, no error
}

// backendOn serves name on ip:port (port 0: any).
func backendOn(t *testing.T, ip string, port int, name string) (*httptest.Server, int) {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", ip, err)
	}
	s := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, name)
	})}}
	s.Start()
	t.Cleanup(s.Close)
	return s, ln.Addr().(*net.TCPAddr).Port
}

func TestRealDNSAnswerChangeMovesTrafficWithoutReload(t *testing.T) {
	dns := startDNS(t)
	_, port := backendOn(t, "127.0.0.1", 0, "first")
	backendOn(t, "127.0.0.2", port, "second")
	dns.set(func() { dns.a["api.test."] = []string{"127.0.0.1"} })

	p := mustPool(t, PoolOptions{Resolver: dns.resolver(), SlowStart: 0}, "http://api.test:"+strconv.Itoa(port))
	p.resolver.close() // rounds are driven by hand below
	front := newTestProxy(t, &Proxy{Pool: p})
	ctx := context.Background()

	p.resolver.refresh(ctx)
	if _, body, _ := get(t, front.URL); body != "first" {
		t.Fatalf("answer 127.0.0.1: got %q, want first", body)
	}

	dns.set(func() { dns.a["api.test."] = []string{"127.0.0.2"} })
	p.resolver.refresh(ctx)
	for i := range 5 {
		if _, body, _ := get(t, front.URL); body != "second" {
			t.Fatalf("request %d after the answer changed to 127.0.0.2: got %q, want second", i, body)
		}
	}

	// A DNS server in trouble leaves the pool as it was.
	dns.set(func() { dns.fails = true })
	p.resolver.refresh(ctx)
	if code, body, _ := get(t, front.URL); code != 200 || body != "second" {
		t.Errorf("SERVFAIL: got %d %q, want the last good answer kept", code, body)
	}
}

func TestRealDNSSRVRecordNamesTheBackends(t *testing.T) {
	dns := startDNS(t)
	_, portA := backendOn(t, "127.0.0.1", 0, "a")
	_, portB := backendOn(t, "127.0.0.1", 0, "b")
	target := dnsmessage.MustNewName("node.api.test.")
	dns.set(func() {
		dns.a["node.api.test."] = []string{"127.0.0.1"}
		dns.srv["_http._tcp.api.test."] = []dnsmessage.SRVResource{
			{Priority: 1, Weight: 1, Port: uint16(portA), Target: target},
			{Priority: 1, Weight: 1, Port: uint16(portB), Target: target},
		}
	})
	p := mustPool(t, PoolOptions{Resolver: dns.resolver(), Balance: PolicyRoundRobin}, "srv+http://_http._tcp.api.test")
	p.resolver.close()
	front := newTestProxy(t, &Proxy{Pool: p})
	seen := map[string]int{}
	for range 6 {
		_, body, _ := get(t, front.URL)
		seen[body]++
	}
	if seen["a"] != 3 || seen["b"] != 3 {
		t.Errorf("got %v, want 3 each from the two SRV targets", seen)
	}

	dns.set(func() { dns.srv["_http._tcp.api.test."] = dns.srv["_http._tcp.api.test."][1:] })
	p.resolver.refresh(context.Background())
	for range 3 {
		if _, body, _ := get(t, front.URL); body != "b" {
			t.Fatalf("after a target left the record: got %q, want b", body)
		}
	}
}
