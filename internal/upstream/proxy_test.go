package upstream

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// newTestProxy starts a frontend that proxies everything to the given
// backend URLs with the given proxy settings.
func newTestProxy(t *testing.T, p *Proxy, urls ...string) *httptest.Server {
	t.Helper()
	var bo []BackendOptions
	for _, u := range urls {
		bo = append(bo, BackendOptions{URL: u})
	}
	if p.Pool == nil {
		pool, err := NewPool("test", PoolOptions{Backends: bo, Retries: 2, FirstByteTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		p.Pool = pool
		t.Cleanup(pool.Close)
	}
	front := httptest.NewServer(p)
	t.Cleanup(front.Close)
	return front
}

func TestProxyForwardsRequestAndResponse(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RequestURI() != "/a/b?x=1" {
			t.Errorf("backend got URI %q, want /a/b?x=1", r.URL.RequestURI())
		}
		if got := r.Header.Get("X-Custom"); got != "v" {
			t.Errorf("backend got X-Custom %q, want v", got)
		}
		if r.Host != "front.example" {
			t.Errorf("backend got Host %q, want front.example", r.Host)
		}
		w.Header().Set("X-Backend", "yes")
		w.WriteHeader(201)
		io.WriteString(w, "hello")
	}))
	defer backend.Close()
	front := newTestProxy(t, &Proxy{}, backend.URL)
	req, _ := http.NewRequest("GET", front.URL+"/a/b?x=1", nil)
	req.Host = "front.example"
	req.Header.Set("X-Custom", "v")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 201 || string(body) != "hello" || res.Header.Get("X-Backend") != "yes" {
		t.Fatalf("got %d %q %v, want 201 hello with X-Backend", res.StatusCode, body, res.Header)
	}
}

func TestProxyRemovesHopByHopAndSetsForwarding(t *testing.T) {
	got := make(chan http.Header, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		w.Header().Set("Connection", "X-Secret-Hop")
		w.Header().Set("X-Secret-Hop", "leak")
		w.Header().Set("Keep-Alive", "timeout=5")
	}))
	defer backend.Close()
	front := newTestProxy(t, &Proxy{}, backend.URL)
	// A raw socket: net/http's client would drop some of these itself.
	c, err := net.Dial("tcp", front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive, X-Drop-Me\r\n"+
		"X-Drop-Me: 1\r\nKeep-Alive: 300\r\nProxy-Authorization: secret\r\nTe: trailers, deflate\r\n"+
		"X-Forwarded-For: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\nX-Forwarded-Host: evil\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	h := <-got
	for _, k := range []string{"X-Drop-Me", "Keep-Alive", "Proxy-Authorization"} {
		if v := h.Get(k); v != "" {
			t.Errorf("backend got %s: %q, want it removed", k, v)
		}
	}
	tests := []struct{ key, want string }{
		{"Te", "trailers"},
		{"X-Forwarded-For", "127.0.0.1"},
		{"X-Forwarded-Proto", "http"},
		{"X-Forwarded-Host", "example.com"},
		{"Forwarded", "for=127.0.0.1;host=example.com;proto=http"},
	}
	for _, tt := range tests {
		if v := h.Get(tt.key); v != tt.want {
			t.Errorf("backend got %s: %q, want %q", tt.key, v, tt.want)
		}
	}
	for _, k := range []string{"X-Secret-Hop", "Keep-Alive"} {
		if v := res.Header.Get(k); v != "" {
			t.Errorf("client got %s: %q, want it removed", k, v)
		}
	}
}

func TestProxyTrustedPeerExtendsForwardingChain(t *testing.T) {
	got := make(chan http.Header, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
	}))
	defer backend.Close()
	trust := NewTrust([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	front := newTestProxy(t, &Proxy{Trust: trust}, backend.URL)
	req, _ := http.NewRequest("GET", front.URL, nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.Header.Set("X-Forwarded-Proto", "https")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	h := <-got
	if v := h.Get("X-Forwarded-For"); v != "203.0.113.9, 127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q, want chain", v)
	}
	if v := h.Get("X-Forwarded-Proto"); v != "https" {
		t.Errorf("X-Forwarded-Proto = %q, want https kept from trusted peer", v)
	}
}

func TestProxyUnreachableBackendIs502WithNeutralBody(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + l.Addr().String()
	l.Close()
	front := newTestProxy(t, &Proxy{}, dead)
	res, err := http.Get(front.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 502 {
		t.Fatalf("status %d, want 502", res.StatusCode)
	}
	if strings.Contains(string(body), "127.0.0.1") || strings.Contains(string(body), "refused") {
		t.Errorf("body leaks backend detail: %q", body)
	}
}

func TestProxySlowBackendIs504(t *testing.T) {
	release := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer backend.Close()
	defer close(release)
	pool, _ := NewPool("slow", PoolOptions{Backends: []BackendOptions{{URL: backend.URL}}, FirstByteTimeout: 100 * time.Millisecond})
	defer pool.Close()
	front := newTestProxy(t, &Proxy{Pool: pool})
	res, err := http.Get(front.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 504 {
		t.Fatalf("status %d, want 504", res.StatusCode)
	}
}

// TestFirstByteTimeoutOnAReusedConnection: the first-byte deadline a
// busy connection keeps between requests never makes a prompt backend
// time out, and still stops a slow one.
func TestFirstByteTimeoutOnAReusedConnection(t *testing.T) {
	release := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		io.WriteString(w, "ok")
	}))
	defer backend.Close()
	defer close(release)
	const timeout = 200 * time.Millisecond
	pool, _ := NewPool("p", PoolOptions{Backends: []BackendOptions{{URL: backend.URL}}, FirstByteTimeout: timeout})
	defer pool.Close()
	front := newTestProxy(t, &Proxy{Pool: pool})
	get := func(path string) (int, time.Duration) {
		start := time.Now()
		res, err := http.Get(front.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode, time.Since(start)
	}
	// Prompt requests spaced past the timeout, and back to back: all 200.
	for _, pause := range []time.Duration{0, 0, 250 * time.Millisecond, 0, 150 * time.Millisecond, 0} {
		time.Sleep(pause)
		if code, _ := get("/"); code != 200 {
			t.Fatalf("prompt request after %v: status %d, want 200", pause, code)
		}
	}
	if code, took := get("/slow"); code != 504 || took < timeout*3/4 {
		t.Fatalf("slow request: %d after %v, want 504 after about %v", code, took, timeout)
	}
}

func TestProxyRetriesIdempotentOnAnotherBackend(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + l.Addr().String()
	l.Close()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer backend.Close()
	front := newTestProxy(t, &Proxy{}, dead, backend.URL)
	for i := 0; i < 10; i++ {
		res, err := http.Get(front.URL)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("request %d: status %d, want 200 via retry", i, res.StatusCode)
		}
	}
}

func TestProxyStreamsLargeBodiesBothWays(t *testing.T) {
	const size = 8 << 20
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil || n != size {
			t.Errorf("backend read %d bytes (%v), want %d", n, err, size)
		}
		w.Header().Set("Content-Length", fmt.Sprint(size))
		io.CopyN(w, zeros{}, size)
	}))
	defer backend.Close()
	front := newTestProxy(t, &Proxy{}, backend.URL)
	for _, chunked := range []bool{false, true} {
		var body io.Reader = io.LimitReader(zeros{}, size)
		req, _ := http.NewRequest("POST", front.URL, body)
		if !chunked {
			req.ContentLength = size
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if n != size {
			t.Errorf("chunked=%v: client read %d, want %d", chunked, n, size)
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestProxyFlushesServerSentEventsAtOnce(t *testing.T) {
	next := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			<-next
		}
	}))
	defer backend.Close()
	front := newTestProxy(t, &Proxy{}, backend.URL)
	res, err := http.Get(front.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	for i := 0; i < 3; i++ {
		// Each event must arrive while the backend is still blocked.
		line, err := br.ReadString('\n')
		if err != nil || line != fmt.Sprintf("data: %d\n", i) {
			t.Fatalf("event %d: got %q %v", i, line, err)
		}
		br.ReadString('\n')
		next <- struct{}{}
	}
}

func TestProxyPassesTrailers(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		io.WriteString(w, "body")
		w.Header().Set("X-Checksum", "abc")
	}))
	defer backend.Close()
	front := newTestProxy(t, &Proxy{}, backend.URL)
	res, err := http.Get(front.URL)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(res.Body)
	res.Body.Close()
	if v := res.Trailer.Get("X-Checksum"); v != "abc" {
		t.Fatalf("trailer X-Checksum = %q, want abc", v)
	}
}

func TestProxyStripAndAddPrefix(t *testing.T) {
	tests := []struct{ strip, add, in, want string }{
		{"/api", "", "/api/users?id=1", "/users?id=1"},
		{"/api", "", "/api", "/"},
		{"/api", "", "/apix", "/apix"},
		{"/api/", "/v2", "/api/users", "/v2/users"},
		{"", "/base/", "/x%2Fy", "/base/x%2Fy"},
		// The prefix sent escaped: the router matches it decoded, so it is
		// cut all the same and the rest sent escaped.
		{"/api", "", "/%61pi/users", "/users"},
		{"/api", "", "/api%2Fusers", "/users"},
		{"/api", "", "/%61pi/a%20b%2Fc", "/a%20b/c"},
		{"/api", "", "/%61pix", "/%61pix"},
	}
	for _, tt := range tests {
		got := make(chan string, 1)
		backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got <- r.RequestURI
		}))
		front := newTestProxy(t, &Proxy{StripPrefix: tt.strip, AddPrefix: tt.add}, backend.URL)
		res, err := http.Get(front.URL + tt.in)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if g := <-got; g != tt.want {
			t.Errorf("strip %q add %q: %s went upstream as %q, want %q", tt.strip, tt.add, tt.in, g, tt.want)
		}
		backend.Close()
	}
}

func TestForwardedHeaderValues(t *testing.T) {
	tests := []struct {
		remote, host, tls, prior string
		trusted                  bool
		want                     string
	}{
		{"192.0.2.1:1234", "example.com", "", "", false, "for=192.0.2.1;host=example.com;proto=http"},
		{"[2001:db8::1]:1234", "example.com:8080", "", "", false, `for="[2001:db8::1]";host="example.com:8080";proto=http`},
		{"192.0.2.1:1234", "example.com", "", "for=198.51.100.7", false, "for=192.0.2.1;host=example.com;proto=http"},
		{"192.0.2.1:1234", "example.com", "", "for=198.51.100.7", true, "for=198.51.100.7, for=192.0.2.1;host=example.com;proto=http"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr, r.Host = tt.remote, tt.host
		if tt.prior != "" {
			r.Header.Set("Forwarded", tt.prior)
		}
		var trust *Trust
		if tt.trusted {
			trust = NewTrust([]netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")})
		}
		f := (&Proxy{Trust: trust}).forwardingFor(r)
		if got := f.rfc7239(); got != tt.want {
			t.Errorf("remote %s host %s: got %q, want %q", tt.remote, tt.host, got, tt.want)
		}
	}
}

func TestHostHeaderKeptOrRewritten(t *testing.T) {
	tests := []struct{ setting, want string }{
		{"", "client.example"},
		{"upstream", ""}, // filled with the backend address below
		{"internal.example", "internal.example"},
	}
	for _, tt := range tests {
		got := make(chan string, 1)
		backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Host }))
		front := newTestProxy(t, &Proxy{HostHeader: tt.setting}, backend.URL)
		req, _ := http.NewRequest("GET", front.URL, nil)
		req.Host = "client.example"
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		want := tt.want
		if want == "" {
			want = backend.Listener.Addr().String()
		}
		if g := <-got; g != want {
			t.Errorf("host_header %q: backend saw Host %q, want %q", tt.setting, g, want)
		}
		backend.Close()
	}
}

func TestExpectContinueWaitsForBackendVerdict(t *testing.T) {
	var bodyRead atomic.Bool
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/reject" {
			w.WriteHeader(http.StatusRequestEntityTooLarge) // before reading: no 100 sent
			return
		}
		b, _ := io.ReadAll(r.Body)
		bodyRead.Store(true)
		w.Write(b)
	}))
	defer backend.Close()
	front := newTestProxy(t, &Proxy{}, backend.URL)
	for _, tt := range []struct {
		path string
		want int
	}{{"/accept", 200}, {"/reject", 413}} {
		c, err := net.Dial("tcp", front.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", tt.path)
		br := bufio.NewReader(c)
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode == 100 {
			io.WriteString(c, "hello")
			res, err = http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
		}
		if res.StatusCode != tt.want {
			t.Errorf("%s: status %d, want %d", tt.path, res.StatusCode, tt.want)
		}
		c.Close()
	}
}

func TestActiveHealthChecksSteerAroundDownBackends(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" && !healthy.Load() {
			w.WriteHeader(503)
			return
		}
		io.WriteString(w, "flaky")
	}))
	defer flaky.Close()
	steady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "steady")
	}))
	defer steady.Close()
	pool, err := NewPool("h", PoolOptions{
		Backends: []BackendOptions{{URL: flaky.URL}, {URL: steady.URL}},
		Health:   &HealthOptions{Path: "/healthz", Interval: 20 * time.Millisecond, Timeout: 10 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	front := newTestProxy(t, &Proxy{Pool: pool})
	bodies := func() map[string]int {
		seen := map[string]int{}
		for i := 0; i < 20; i++ {
			res, err := http.Get(front.URL)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			seen[fmt.Sprintf("%d %s", res.StatusCode, b)]++
		}
		return seen
	}
	waitFor := func(what string, ok func() bool) {
		deadline := time.Now().Add(5 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	healthy.Store(false)
	waitFor("flaky marked down", func() bool { return pool.set.Load().all[0].down.Load() })
	if seen := bodies(); seen["200 steady"] != 20 {
		t.Fatalf("with flaky down got %v, want only steady", seen)
	}
	steady.Close()
	pool.set.Load().all[1].down.Store(true) // as its next check would
	res, err := http.Get(front.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 503 || res.Header.Get("Retry-After") == "" {
		t.Fatalf("no healthy backend: got %d, want a fast 503 with Retry-After", res.StatusCode)
	}
	healthy.Store(true)
	waitFor("flaky back up", func() bool { return !pool.set.Load().all[0].down.Load() })
}

// forwarded_headers picks what goes upstream, over HTTP/1.1 and h2c
// alike; a client's own copies never get through.
func TestForwardedHeadersSetting(t *testing.T) {
	tests := []struct {
		setting ForwardedHeaders
		want    []string
	}{
		{ForwardBoth, []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"}},
		{ForwardXForwarded, []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"}},
		{ForwardRFC7239, []string{"Forwarded"}},
		{ForwardNone, nil},
	}
	for _, protocol := range []string{"http1", "h2c"} {
		for _, tt := range tests {
			got := make(chan []string, 1)
			backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var seen []string
				for _, k := range forwardingHeaders {
					if vv := r.Header[k]; len(vv) > 0 {
						seen = append(seen, k)
						if strings.Contains(strings.Join(vv, ","), "203.0.113.9") {
							seen = append(seen, "the client's "+k)
						}
					}
				}
				slices.Sort(seen)
				got <- seen
			}))
			if protocol == "h2c" {
				backend.Config.Protocols = new(http.Protocols)
				backend.Config.Protocols.SetUnencryptedHTTP2(true)
			}
			backend.Start()
			pool, err := NewPool("test", PoolOptions{Backends: []BackendOptions{{URL: backend.URL}}, H2C: protocol == "h2c"})
			if err != nil {
				t.Fatal(err)
			}
			front := newTestProxy(t, &Proxy{Pool: pool, Forwarded: tt.setting})
			req, _ := http.NewRequest("GET", front.URL, nil)
			req.Header.Set("X-Forwarded-For", "203.0.113.9")
			req.Header.Set("Forwarded", "for=203.0.113.9")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if g := <-got; !slices.Equal(g, tt.want) {
				t.Errorf("%s, setting %d: backend saw %q, want %q", protocol, tt.setting, g, tt.want)
			}
			pool.Close()
			backend.Close()
		}
	}
}
