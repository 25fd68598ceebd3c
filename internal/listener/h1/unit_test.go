package h1

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/testpki"
)

const sixHeaders = "GET /api/items?id=42 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench/1.0\r\n" +
	"Accept: */*\r\nAccept-Encoding: gzip\r\nX-Request-Id: abc123\r\nConnection: keep-alive\r\n\r\n"

// TestBuildRequestAllocs guards the request construction of a pooled
// exchange: one string for the head and the request's context; the
// exchange and its header map are reused. Request.WithContext must stay
// inlined and allocation free.
func TestBuildRequestAllocs(t *testing.T) {
	c := &conn{remoteAddr: "192.0.2.1:1234", baseCtx: context.Background()}
	buf := []byte(sixHeaders)
	allocs := testing.AllocsPerRun(200, func() {
		head := string(buf)
		if st, r := parseHead(head, &c.ph, 100); st != 0 {
			panic(r)
		}
		ex := getExchange()
		if st, r := c.buildRequest(ex, &c.ph); st != 0 {
			panic(r)
		}
		if ex.req.Context() != ex.ctx || len(ex.req.Header) != 5 {
			panic("request not built")
		}
		putExchange(ex)
	})
	if allocs > 2 {
		t.Errorf("got %v allocations per request head, want at most 2", allocs)
	}
}

func TestFastOriginFormMatchesURL(t *testing.T) {
	targets := []string{
		"/", "/a/b", "/a?b=c", "/a?", "/a??", "/a?b#c", "//host/x", "/a:b@c", "/a;b=c,d",
		"/~user/x.y-z_w", "/$&+,=", "/a?b?c", "/?", "/a/./../b",
	}
	for _, target := range targets {
		var got url.URL
		if !fastOriginForm(target, &got) {
			continue
		}
		want, err := url.ParseRequestURI(target)
		if err != nil {
			t.Errorf("%q: fast path accepted what url rejects: %v", target, err)
			continue
		}
		if got != *want {
			t.Errorf("%q: got %#v, want %#v", target, got, *want)
		}
	}
}

// TestIdleBufferRelease: a keep-alive connection idle for idleRelease
// gives its buffers back, and then still serves, pipelined requests too.
// Over TLS it waits by reading one byte through crypto/tls, which may
// already hold the next request. The heap held per idle connection before
// and after the release is logged (Linux only).
func TestIdleBufferRelease(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("buffer release needs Linux")
	}
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"plain", false}, {"tls", true}} {
		t.Run(tc.name, func(t *testing.T) {
			const conns = 100
			ln := listen(t)
			open := func() net.Conn { return dial(t, ln.Addr().String()) }
			if tc.tls {
				serverConf, clientConf := tlsConfigs(t)
				ln = tls.NewListener(ln, serverConf)
				open = func() net.Conn {
					c, err := tls.DialWithDialer(&net.Dialer{Timeout: ioWait}, "tcp", ln.Addr().String(), clientConf)
					if err != nil {
						t.Fatal(err)
					}
					_ = c.SetDeadline(time.Now().Add(ioWait))
					t.Cleanup(func() { c.Close() })
					return c
				}
			}
			s := NewServer(http.HandlerFunc(writeString("ok")), Options{})
			s.idleRelease = 300 * time.Millisecond
			go s.Serve(ln)
			t.Cleanup(func() { s.Close() })
			heap := func() uint64 {
				runtime.GC()
				runtime.GC() // and the pools' victim caches
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				return m.HeapInuse
			}
			request := func(c net.Conn, br *bufio.Reader, n int) {
				t.Helper()
				if _, err := io.WriteString(c, strings.Repeat("GET / HTTP/1.1\r\nHost: a\r\n\r\n", n)); err != nil {
					t.Fatal(err)
				}
				methods := make([]string, n)
				for i := range methods {
					methods[i] = "GET"
				}
				rs, err := readResults(br, methods...)
				if err != nil || len(rs) != n || rs[n-1].body != "ok" {
					t.Fatalf("got %v, %v; want %d answers ok", rs, err, n)
				}
			}
			base := heap()
			cs := make([]net.Conn, conns)
			brs := make([]*bufio.Reader, conns)
			for i := range cs {
				cs[i] = open()
				brs[i] = bufio.NewReader(cs[i])
				request(cs[i], brs[i], 1)
			}
			held := heap()
			for i := 0; s.releases.Load() < conns && i < 1000; i++ {
				time.Sleep(10 * time.Millisecond)
			}
			if got := s.releases.Load(); got != conns {
				t.Fatalf("got %d releases, want %d", got, conns)
			}
			released := heap()
			t.Logf("heap per idle connection: %d B with buffers, %d B after release",
				(int64(held)-int64(base))/conns, (int64(released)-int64(base))/conns)
			for i := range cs {
				request(cs[i], brs[i], 2)
			}
		})
	}
}

// tlsConfigs returns a server config with a certificate for 127.0.0.1
// and a client config that trusts it.
func tlsConfigs(t *testing.T) (server, client *tls.Config) {
	ca := testpki.NewCA(t)
	certFile, keyFile, _ := ca.Issue(t, testpki.Leaf{Names: []string{"127.0.0.1"}})
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}},
		&tls.Config{RootCAs: ca.Pool(), NextProtos: []string{"http/1.1"}}
}

func TestStatusLine(t *testing.T) {
	cases := []struct {
		code int
		want string
	}{{200, "HTTP/1.1 200 OK\r\n"}, {299, "HTTP/1.1 299 status code 299\r\n"}, {999, "HTTP/1.1 999 status code 999\r\n"}}
	for _, tc := range cases {
		got := captureWrite(func(w *bufWriter) { writeStatusLine(w.bw, true, tc.code) })
		if got != tc.want {
			t.Errorf("%d: got %q, want %q", tc.code, got, tc.want)
		}
	}
	defer func() {
		if r := recover(); r == nil || fmt.Sprint(r) != "invalid WriteHeader code 1000" {
			t.Errorf("WriteHeader(1000): got panic %v", r)
		}
	}()
	(&response{}).WriteHeader(1000)
}

type bufWriter struct {
	bw *bufio.Writer
	b  bytes.Buffer
}

func captureWrite(f func(*bufWriter)) string {
	w := &bufWriter{}
	w.bw = bufio.NewWriter(&w.b)
	f(w)
	w.bw.Flush()
	return w.b.String()
}
