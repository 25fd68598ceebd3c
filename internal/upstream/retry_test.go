package upstream

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/testbackend"
)

// TestNonIdempotentRequestsAreNotRetriedOnceSent: a POST (with or
// without a body) that reached a backend which then broke the
// connection, timed out or answered a retryable status is never sent to
// another backend.
func TestNonIdempotentRequestsAreNotRetriedOnceSent(t *testing.T) {
	var other atomic.Int64
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		other.Add(1)
		io.Copy(io.Discard, r.Body)
	}))
	defer good.Close()
	breaks := testbackend.Raw(t, func(c net.Conn, br *bufio.Reader) {
		testbackend.ReadHead(br)
		c.(*net.TCPConn).SetLinger(0) // a reset, not a clean close
	})
	answers503 := testbackend.Raw(t, func(c net.Conn, br *bufio.Reader) {
		testbackend.ReadHead(br)
		io.WriteString(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
	})
	silent := hangingBackend(t)
	for _, bad := range []string{breaks, answers503, silent} {
		for _, body := range []string{"", "payload"} {
			p := mustPool(t, PoolOptions{Balance: PolicyRoundRobin, Retries: 2, RetryOn: []string{"error", "timeout", "5xx"},
				TryTimeout: 200 * time.Millisecond, Eject: EjectOptions{Off: true}}, "http://"+bad, good.URL)
			front := newTestProxy(t, &Proxy{Pool: p})
			other.Store(0)
			failed := 0
			for range 4 { // round robin: two of them start on the bad backend
				res, err := http.Post(front.URL, "text/plain", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode >= 500 {
					failed++
				}
			}
			if failed != 2 || other.Load() != 2 {
				t.Errorf("bad backend %s, body %q: %d failed, %d reached the good backend; want 2 and 2 (no retry)", bad, body, failed, other.Load())
			}
		}
	}
}

// TestRetryGoesToAnotherBackend: every retry of a request goes to a
// backend it has not tried, whatever the policy.
func TestRetryGoesToAnotherBackend(t *testing.T) {
	var mu sync.Mutex
	seen := map[string][]string{} // request id -> backends in order
	var servers []string
	for i := range 4 {
		name := strconv.Itoa(i)
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen[r.Header.Get("X-Id")] = append(seen[r.Header.Get("X-Id")], name)
			mu.Unlock()
			w.WriteHeader(503)
		}))
		defer s.Close()
		servers = append(servers, s.URL)
	}
	for _, policy := range []string{PolicyRoundRobin, PolicyLeastConn, PolicyP2C, PolicyRandom, PolicyHash, PolicySticky} {
		clear(seen)
		p := mustPool(t, PoolOptions{Balance: policy, Retries: 3, RetryOn: []string{"503"}, RetryBudget: 100,
			Eject: EjectOptions{Off: true}}, servers...)
		front := newTestProxy(t, &Proxy{Pool: p})
		for i := range 3 { // 9 retries: within the bucket's 10
			if code, _, _ := get(t, front.URL, "X-Id", strconv.Itoa(i)); code != 503 {
				t.Fatalf("%s: %d, want the backends' 503", policy, code)
			}
		}
		for id, tried := range seen {
			if len(tried) != 4 {
				t.Errorf("%s: request %s tried %v, want all 4 backends", policy, id, tried)
			}
			dup := map[string]bool{}
			for _, b := range tried {
				if dup[b] {
					t.Errorf("%s: request %s went to backend %s twice: %v", policy, id, b, tried)
				}
				dup[b] = true
			}
		}
	}
}

// TestRetryBudgetBoundsRetriesUnderATimeoutOutage: with every backend
// timing out, retries stay within the budget: the bucket's 10 plus a
// fifth of the requests.
func TestRetryBudgetBoundsRetriesUnderATimeoutOutage(t *testing.T) {
	var attempts atomic.Int64
	var servers []string
	for range 3 {
		addr := testbackend.Raw(t, func(c net.Conn, br *bufio.Reader) {
			for testbackend.ReadHead(br) == nil {
				attempts.Add(1) // and never answer
			}
		})
		servers = append(servers, "http://"+addr)
	}
	p := mustPool(t, PoolOptions{Retries: 2, TryTimeout: 20 * time.Millisecond, Eject: EjectOptions{Off: true}}, servers...)
	front := newTestProxy(t, &Proxy{Pool: p})
	const requests = 50
	for range requests {
		if code, _, _ := getWithin(t, front.URL, time.Second); code != 504 {
			t.Fatalf("%d, want 504", code)
		}
	}
	deadline := time.Now().Add(time.Second)
	for attempts.Load() < requests && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	retries := attempts.Load() - requests
	if limit := int64(budgetBurst + requests/5); retries < budgetBurst || retries > limit {
		t.Errorf("%d retries for %d requests, want %d..%d", retries, requests, budgetBurst, limit)
	}
}
