package upstream

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/testbackend"
)

// TestHealthCheckJudgesTheFinalAnswer: interim 1xx answers are skipped,
// as traffic skips them, and the final status is judged against the
// range: 3xx passes by default, 4xx and 5xx fail.
func TestHealthCheckJudgesTheFinalAnswer(t *testing.T) {
	for _, tt := range []struct {
		answer string
		pass   bool
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true},
		{"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true},
		{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", true},
		{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", false},
		{"HTTP/1.1 103 Early Hints\r\n\r\n", false}, // no final answer before the close
		{"HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n", true},
		{"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", false},
		{"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", false},
	} {
		addr := testbackend.Raw(t, func(c net.Conn, br *bufio.Reader) {
			if testbackend.ReadHead(br) != nil {
				return
			}
			io.WriteString(c, tt.answer)
		})
		p := mustPool(t, PoolOptions{}, "http://"+addr)
		hc := p.newHealthChecker(HealthOptions{Path: "/h", Timeout: 2 * time.Second})
		start := time.Now()
		if got := hc.check(context.Background(), p.set.Load().all[0]); got != tt.pass {
			t.Errorf("answer %q: pass %v, want %v", tt.answer, got, tt.pass)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("answer %q: check took %v", tt.answer, d)
		}
	}
}

// TestHealthCheckRequestLine: the check asks for the backend's base path
// plus the configured path, with the backend's address as Host.
func TestHealthCheckRequestLine(t *testing.T) {
	got := make(chan string, 1)
	addr := testbackend.Raw(t, func(c net.Conn, br *bufio.Reader) {
		line, _ := br.ReadString('\n')
		host := ""
		for {
			l, err := br.ReadString('\n')
			if err != nil || l == "\r\n" {
				break
			}
			if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, "Host") {
				host = strings.TrimSpace(v)
			}
		}
		got <- strings.TrimSpace(line) + " | " + host
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	})
	p := mustPool(t, PoolOptions{}, "http://"+addr+"/base/")
	hc := p.newHealthChecker(HealthOptions{Path: "/healthz?full=1", Timeout: 2 * time.Second})
	if !hc.check(context.Background(), p.set.Load().all[0]) {
		t.Fatal("check failed")
	}
	if line, want := <-got, "GET /base/healthz?full=1 HTTP/1.1 | "+addr; line != want {
		t.Errorf("request %q, want %q", line, want)
	}
}

// hangingBackend accepts connections and never answers.
func hangingBackend(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// TestHangingHealthCheckIsBoundedByItsTimeout: a backend that accepts
// and says nothing fails the check after the timeout, not later.
func TestHangingHealthCheckIsBoundedByItsTimeout(t *testing.T) {
	addr := hangingBackend(t)
	p := mustPool(t, PoolOptions{}, "http://"+addr)
	hc := p.newHealthChecker(HealthOptions{Path: "/h", Timeout: 200 * time.Millisecond})
	start := time.Now()
	if hc.check(context.Background(), p.set.Load().all[0]) {
		t.Fatal("a silent backend passed")
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > time.Second {
		t.Errorf("check took %v, want about the 200ms timeout", d)
	}
}

// TestHealthChecksStopWhenThePoolCloses: closing a pool (as a reload
// does) stops its checks at once, even one waiting on a silent backend,
// and leaves no goroutine behind.
func TestHealthChecksStopWhenThePoolCloses(t *testing.T) {
	hang := hangingBackend(t)
	ok := named("ok")
	defer ok.Close()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	base := runtime.NumGoroutine()
	p, err := NewPool("p", PoolOptions{Backends: []BackendOptions{{URL: "http://" + hang}, {URL: ok.URL}},
		Health: &HealthOptions{Path: "/h", Interval: 10 * time.Second, Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the first round is under way
	start := time.Now()
	p.Close()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v: it waited for a hanging check", d)
	}
	waitGoroutines(t, base)
}
