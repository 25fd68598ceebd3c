package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/testbackend"
)

// testInstance starts Portico from a config file written to a temp dir,
// on a free loopback port, and returns its base URL and the file path.
func testInstance(t testing.TB, yaml string) (*instance, string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "portico.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	inst, err := start(cfg, log, func() (*config.Config, error) { return config.Load(path) }, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(inst.shutdown)
	return inst, "http://" + inst.servers[0].Addr().String(), path
}

func proxyConfig(backend string) string {
	return fmt.Sprintf("listeners:\n  - addr: \"127.0.0.1:0\"\nroutes:\n  - match: /\n    proxy: %q\n", backend)
}

// dialWebSocket opens a WebSocket to base's /ws.
func dialWebSocket(t *testing.T, ctx context.Context, base string) (*websocket.Conn, *http.Response) {
	t.Helper()
	ws, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	return ws, res
}

// namedBackend answers with its name, and echoes WebSocket messages
// prefixed with its name.
func namedBackend(t *testing.T, name string) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ws" {
			testbackend.EchoWebSocket(w, r, name+":")
			return
		}
		io.WriteString(w, name)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestReloadUnderLoadDropsNothingAndKeepsWebSockets(t *testing.T) {
	a, b := namedBackend(t, "a"), namedBackend(t, "b")
	inst, url, path := testInstance(t, proxyConfig(a.URL))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _ := dialWebSocket(t, ctx, url)
	defer ws.CloseNow()
	echo := func() string {
		if err := ws.Write(ctx, websocket.MessageText, []byte("ping")); err != nil {
			t.Fatalf("websocket write: %v", err)
		}
		_, msg, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("websocket read: %v", err)
		}
		return string(msg)
	}
	if got := echo(); got != "a:ping" {
		t.Fatalf("websocket before reload: got %q, want a:ping", got)
	}

	// A bounded load: 4 workers, 300 requests each, while the config flips
	// between the two backends; two of them share one HTTP/2 (h2c)
	// connection, so streams are in flight on it across every reload.
	var failed, done atomic.Int64
	var wg sync.WaitGroup
	h2c := &http.Transport{Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	defer h2c.CloseIdleConnections()
	for w := 0; w < 4; w++ {
		client := &http.Client{Timeout: 10 * time.Second}
		if w%2 == 1 {
			client.Transport = h2c
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				res, err := client.Get(url + "/")
				if err != nil {
					failed.Add(1)
					continue
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != 200 || (string(body) != "a" && string(body) != "b") {
					failed.Add(1)
				}
				done.Add(1)
			}
		}()
	}
	for i := 0; i < 10; i++ {
		next := a.URL
		if i%2 == 0 {
			next = b.URL
		}
		if err := os.WriteFile(path, []byte(proxyConfig(next)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := inst.reload(); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed across reloads, want 0", failed.Load(), done.Load())
	}
	// The WebSocket was opened on the first generation and still works:
	// it belongs to the listener, and its backend is still a.
	if got := echo(); got != "a:ping" {
		t.Fatalf("websocket after reloads: got %q, want a:ping", got)
	}
	// New requests see the last config (b after an odd number of flips? 10 flips end on a).
	if body := getBody(t, url); body != "a" {
		t.Fatalf("after reloads got %q, want a", body)
	}
}

func TestInvalidReloadKeepsRunningGeneration(t *testing.T) {
	a := namedBackend(t, "a")
	inst, url, path := testInstance(t, proxyConfig(a.URL))
	if err := os.WriteFile(path, []byte("listeners: [{addr: \"127.0.0.1:0\"}]\nroutes:\n  - match: /\n    proxy: nowhere\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := inst.reload()
	if err == nil || !strings.Contains(err.Error(), "config kept") || !strings.Contains(err.Error(), "nowhere") {
		t.Fatalf("reload error = %v, want a config error about the undefined upstream", err)
	}
	if body := getBody(t, url); body != "a" {
		t.Fatalf("after a broken reload got %q, want the old config's answer a", body)
	}
}

func TestWebSocketThroughProxyIsFullDuplex(t *testing.T) {
	a := namedBackend(t, "a")
	_, url, _ := testInstance(t, proxyConfig(a.URL))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _ := dialWebSocket(t, ctx, url)
	defer ws.CloseNow()
	// Several messages in flight before any reply is read.
	for i := 0; i < 5; i++ {
		if err := ws.Write(ctx, websocket.MessageText, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 5; i++ {
		_, msg, err := ws.Read(ctx)
		if err != nil || string(msg) != fmt.Sprintf("a:%d", i) {
			t.Fatalf("message %d: got %q %v", i, msg, err)
		}
	}
	ws.Close(websocket.StatusNormalClosure, "")
}

// TestInFlightRequestFinishesOnOldGeneration: a request that started
// before a reload is answered by the backend of the config it started on.
func TestInFlightRequestFinishesOnOldGeneration(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		io.WriteString(w, "old")
	}))
	defer slow.Close()
	b := namedBackend(t, "new")
	inst, url, path := testInstance(t, proxyConfig(slow.URL))
	got := make(chan string, 1)
	go func() {
		res, err := http.Get(url + "/")
		if err != nil {
			got <- err.Error()
			return
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		got <- string(body)
	}()
	<-started
	if err := os.WriteFile(path, []byte(proxyConfig(b.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := inst.reload(); err != nil {
		t.Fatal(err)
	}
	close(release)
	if g := <-got; g != "old" {
		t.Fatalf("in-flight request got %q, want old", g)
	}
	if body := getBody(t, url); body != "new" {
		t.Fatalf("new request got %q, want new", body)
	}
}

// TestWebSocketHandshakeGetsTheRouteHeaderEdits: the 101 that opens a
// tunnel is a response head like any other: the route's response edits
// hide the backend's Server and add what the route sets, and the client
// gets one request ID.
func TestWebSocketHandshakeGetsTheRouteHeaderEdits(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "secret-backend/1.2")
		w.Header().Set("X-Powered-By", "framework 9")
		w.Header().Set("X-Request-Id", "backend-own-id")
		testbackend.EchoWebSocket(w, r, "")
	}))
	t.Cleanup(backend.Close)
	_, url, _ := testInstance(t, fmt.Sprintf(`listeners:
  - addr: "127.0.0.1:0"
routes:
  - match: /
    proxy: %q
    headers:
      response:
        remove: [Server, X-Powered-By]
        set: {X-Frame-Options: DENY}
`, backend.URL))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, res := dialWebSocket(t, ctx, url)
	defer ws.CloseNow()
	h := res.Header
	if h.Get("Server") != "" || h.Get("X-Powered-By") != "" {
		t.Errorf("backend identity leaked in the 101: Server %q, X-Powered-By %q", h.Get("Server"), h.Get("X-Powered-By"))
	}
	if h.Get("X-Frame-Options") != "DENY" {
		t.Errorf("X-Frame-Options = %q, want the route's DENY", h.Get("X-Frame-Options"))
	}
	if ids := h.Values("X-Request-Id"); len(ids) != 1 || ids[0] == "backend-own-id" {
		t.Errorf("X-Request-Id values %q, want Portico's one", ids)
	}
	if h.Get("Sec-Websocket-Accept") == "" || !strings.EqualFold(h.Get("Upgrade"), "websocket") {
		t.Errorf("handshake fields missing: %v", h)
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := ws.Read(ctx); err != nil || string(msg) != "ping" {
		t.Fatalf("echo: %q, %v", msg, err)
	}
}
