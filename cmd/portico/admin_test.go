package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/admin"
	"github.com/portico-proxy/portico/internal/cache/storetest"
	"github.com/portico-proxy/portico/internal/upstream"
)

func adminCall(t *testing.T, inst *instance, method, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+inst.admin.Addr().String()+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAdminReloadAppliesAGoodConfigAndKeepsTheOldOnError(t *testing.T) {
	a, b := namedBackend(t, "a"), namedBackend(t, "b")
	withAdmin := func(backend string) string {
		return "admin: {addr: \"127.0.0.1:0\"}\n" + proxyConfig(backend)
	}
	inst, url, path := testInstance(t, withAdmin(a.URL))
	if got := getBody(t, url); got != "a" {
		t.Fatalf("before reload: got %q, want a", got)
	}

	os.WriteFile(path, []byte(withAdmin(b.URL)), 0o644)
	if code, body := adminCall(t, inst, "POST", "/api/reload"); code != 200 {
		t.Fatalf("reload: got %d %s", code, body)
	}
	if got := getBody(t, url); got != "b" {
		t.Errorf("after reload: got %q, want b", got)
	}

	os.WriteFile(path, []byte("listeners: [\n"), 0o644)
	code, body := adminCall(t, inst, "POST", "/api/reload")
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "portico.yaml") {
		t.Errorf("broken reload: got %d %s, want 422 naming the file", code, body)
	}
	if got := getBody(t, url); got != "b" {
		t.Errorf("after broken reload: got %q, want b (old config kept)", got)
	}

	_, body = adminCall(t, inst, "GET", "/api/status")
	var st admin.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if st.Reloads != 1 || st.ReloadError == "" || len(st.Listeners) != 1 || st.Routes != 1 {
		t.Errorf("status: got %+v, want 1 reload, the last error, 1 listener, 1 route", st)
	}
}

func adminPost(t *testing.T, inst *instance, path, jsonBody string) (int, string) {
	t.Helper()
	resp, err := http.Post("http://"+inst.admin.Addr().String()+path, "application/json", strings.NewReader(jsonBody))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAdminDrainsABackendAndShowsPoolState(t *testing.T) {
	a, b := namedBackend(t, "a"), namedBackend(t, "b")
	inst, url, path := testInstance(t, fmt.Sprintf(`admin: {addr: "127.0.0.1:0"}
listeners:
  - addr: "127.0.0.1:0"
upstreams:
  app: {backends: [%q, %q], balance: round_robin}
routes:
  - match: /
    proxy: app
`, a.URL, b.URL))

	code, body := adminPost(t, inst, "/api/upstreams/app/drain", fmt.Sprintf(`{"backend": %q}`, a.URL))
	if code != 200 {
		t.Fatalf("drain: got %d %s", code, body)
	}
	for i := range 10 {
		if got := getBody(t, url); got != "b" {
			t.Fatalf("request %d with a draining: got %q, want b", i, got)
		}
	}

	var st upstream.PoolState
	_, body = adminCall(t, inst, "GET", "/api/upstreams/app")
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Backends) != 2 || !st.Backends[0].Draining || st.Backends[1].Draining {
		t.Errorf("state: got %+v, want a draining and b not", st.Backends)
	}

	// A reload builds new pools; the mark stays until it is lifted.
	os.WriteFile(path, []byte(strings.Replace(mustRead(t, path), "round_robin", "random", 1)), 0o644)
	if code, body := adminPost(t, inst, "/api/reload", ""); code != 200 {
		t.Fatalf("reload: got %d %s", code, body)
	}
	if got := getBody(t, url); got != "b" {
		t.Errorf("after reload: got %q, want b (a still draining)", got)
	}

	if code, body := adminPost(t, inst, "/api/upstreams/app/undrain", fmt.Sprintf(`{"backend": %q}`, a.URL)); code != 200 {
		t.Fatalf("undrain: got %d %s", code, body)
	}
	seen := map[string]bool{}
	for range 40 {
		seen[getBody(t, url)] = true
	}
	if !seen["a"] || !seen["b"] {
		t.Errorf("after undrain: saw %v, want both backends", seen)
	}

	for _, tt := range []struct{ path, body string }{
		{"/api/upstreams/nope/drain", `{"backend": "http://x:1"}`},
		{"/api/upstreams/app/drain", `{"backend": "http://127.0.0.1:1"}`},
	} {
		if code, _ := adminPost(t, inst, tt.path, tt.body); code != http.StatusNotFound {
			t.Errorf("POST %s %s: got %d, want 404", tt.path, tt.body, code)
		}
	}
	if code, _ := adminPost(t, inst, "/api/upstreams/app/drain", `{`); code != http.StatusBadRequest {
		t.Errorf("broken JSON: got %d, want 400", code)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAdminPurgeReachesEveryInstanceOverRedis(t *testing.T) {
	redisAddr, _ := storetest.StartRedis(t)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Cache-Tag", "news")
		io.WriteString(w, "article")
	}))
	t.Cleanup(origin.Close)
	yaml := fmt.Sprintf(`admin: {addr: "127.0.0.1:0"}
listeners:
  - addr: "127.0.0.1:0"
cluster: {redis: %q}
routes:
  - match: /
    cache: true
    proxy: %q
`, redisAddr, origin.URL)
	type node struct {
		inst *instance
		url  string
	}
	var nodes []node
	for range 2 {
		inst, url, _ := testInstance(t, yaml)
		nodes = append(nodes, node{inst, url})
	}
	cacheStatus := func(url string) string {
		t.Helper()
		res, err := http.Get(url + "/article")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.Header.Get("Cache-Status")
	}
	for _, n := range nodes {
		cacheStatus(n.url)
		if s := cacheStatus(n.url); !strings.Contains(s, "hit") {
			t.Fatalf("second request: Cache-Status %q, want a hit", s)
		}
	}

	code, body := adminPost(t, nodes[0].inst, "/api/cache/purge", `{"tag": "news"}`)
	if code != 200 || !strings.Contains(body, `"removed"`) {
		t.Fatalf("purge: got %d %s", code, body)
	}
	if s := cacheStatus(nodes[0].url); strings.Contains(s, "hit") {
		t.Errorf("instance a after purge: Cache-Status %q, want a miss", s)
	}
	// The purge travels over Redis pub/sub: a bounded wait for instance b.
	deadline := time.Now().Add(5 * time.Second)
	for strings.Contains(cacheStatus(nodes[1].url), "hit") {
		if time.Now().After(deadline) {
			t.Fatal("instance b still serves the purged entry after 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}

	_, body = adminCall(t, nodes[0].inst, "GET", "/api/cache")
	var st struct {
		Hits, Purged uint64
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || st.Hits == 0 || st.Purged == 0 {
		t.Errorf("GET /api/cache: got %s (%v), want hits and purged counted", body, err)
	}
	for _, bad := range []string{`{}`, `{"url": "/a", "tag": "b"}`, `{"path": "/a"}`, `[`} {
		if code, body := adminPost(t, nodes[0].inst, "/api/cache/purge", bad); code != http.StatusBadRequest {
			t.Errorf("purge %s: got %d %s, want 400", bad, code, body)
		}
	}
}
