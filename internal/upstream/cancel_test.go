package upstream

import (
	"bufio"
	"context"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/listener/httpreq"
	"github.com/portico-proxy/portico/internal/testbackend"
)

// TestClientGoneInterruptsTheBackendWait: when the client goes away, a
// proxy blocked on a backend that has not answered returns at once, with
// a plain context and with the request context of Portico's engines
// (which takes the onCancel fast path).
func TestClientGoneInterruptsTheBackendWait(t *testing.T) {
	arrived := make(chan struct{}, 2)
	addr := testbackend.Raw(t, func(c net.Conn, br *bufio.Reader) {
		for testbackend.ReadHead(br) == nil { // never answers
			arrived <- struct{}{}
		}
	})
	pool, _ := NewPool("p", PoolOptions{Backends: []BackendOptions{{URL: "http://" + addr}}})
	defer pool.Close()
	p := &Proxy{Pool: pool}

	cases := []struct {
		name string
		ctx  func() (context.Context, func())
	}{
		{"context.WithCancel", func() (context.Context, func()) {
			return context.WithCancel(context.Background())
		}},
		{"engine request context", func() (context.Context, func()) {
			c := new(httpreq.Context)
			c.SetParent(context.Background())
			return c, c.Cancel
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			r := httptest.NewRequest("GET", "/slow", nil).WithContext(ctx)
			done := make(chan struct{})
			go func() {
				p.ServeHTTP(httptest.NewRecorder(), r)
				close(done)
			}()
			select {
			case <-arrived:
			case <-time.After(5 * time.Second):
				t.Fatal("request never reached the backend")
			}
			cancel()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("proxy still waiting for the backend after the client went away")
			}
		})
	}
}
