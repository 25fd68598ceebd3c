package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/portico-proxy/portico/internal/admin"
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
