package upstream

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestFailoverLosesNoIdempotentRequest sends a bounded load of GETs
// through the proxy while one of three backends is closed and later
// restarted on the same address: no client request may fail, and the
// restarted backend must get traffic again.
func TestFailoverLosesNoIdempotentRequest(t *testing.T) {
	var served [3]atomic.Int64
	handler := func(i int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			served[i].Add(1)
			io.WriteString(w, "ok")
		})
	}
	var backends [3]*httptest.Server
	var urls []string
	for i := range backends {
		backends[i] = httptest.NewServer(handler(i))
		urls = append(urls, backends[i].URL)
	}
	defer func() {
		for _, b := range backends {
			b.Close()
		}
	}()
	p := mustPool(t, PoolOptions{Retries: 2, Eject: EjectOptions{Failures: 2, Duration: 100 * time.Millisecond}}, urls...)
	front := newTestProxy(t, &Proxy{Pool: p})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()

	const workers, maxRequests = 4, 4000
	deadline := time.Now().Add(15 * time.Second)
	var sent, failed atomic.Int64
	var restarted atomic.Bool
	var afterRestart atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				n := sent.Add(1)
				if n > maxRequests || time.Now().After(deadline) {
					return
				}
				res, err := client.Get(front.URL)
				if err != nil {
					failed.Add(1)
					t.Errorf("request %d: %v", n, err)
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					failed.Add(1)
					t.Errorf("request %d: status %d", n, res.StatusCode)
				}
			}
		}()
	}
	waitSent := func(n int64) {
		for sent.Load() < n && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond) // pacing the scenario, not a result
		}
	}
	waitSent(200)
	addr := backends[1].Listener.Addr().String()
	backends[1].Close()
	waitSent(800)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("restart on %s: %v", addr, err)
	}
	before := served[1].Load()
	backends[1] = httptest.NewUnstartedServer(handler(1))
	backends[1].Listener.Close()
	backends[1].Listener = ln
	backends[1].Start()
	restarted.Store(true)
	// Keep the load on until the restarted backend is back in rotation.
	for time.Now().Before(deadline) && sent.Load() < maxRequests {
		if served[1].Load() > before+10 {
			afterRestart.Store(served[1].Load() - before)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(done)
	wg.Wait()
	t.Logf("%d requests, %d failed; restarted backend served %d after restart", min(sent.Load(), maxRequests), failed.Load(), afterRestart.Load())
	if failed.Load() != 0 {
		t.Fatalf("%d client requests failed, want 0", failed.Load())
	}
	if afterRestart.Load() == 0 {
		t.Fatal("the restarted backend got no traffic back")
	}
}
