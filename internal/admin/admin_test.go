package admin

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/router"
)

func testGeneration(t *testing.T) *router.Generation {
	t.Helper()
	cfg := &config.Config{
		Listeners: []config.Listener{{Addr: "127.0.0.1:0"}},
		Routes: []config.Route{
			{Name: "api", Match: config.Match{Host: []string{"example.com"}, Path: "/api/"}, Proxy: "http://127.0.0.1:1"},
			{Name: "home", Match: config.Match{Path: "/", Exact: true}, Redirect: &config.Redirect{To: "/app/"}},
		},
	}
	config.ApplyDefaults(cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	g, err := router.Build(cfg, router.Shared{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Retire)
	return g
}

// call sends one request to the admin handler as a local operator would.
func call(h http.Handler, method, target, contentType, body string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Host = "127.0.0.1:9901"
	r.RemoteAddr = "127.0.0.1:40000"
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestRoutesListsEveryRouteInFileOrder(t *testing.T) {
	g := testGeneration(t)
	h := Handler(Sources{Generation: func() *router.Generation { return g }})
	w := call(h, "GET", "/api/routes", "", "")
	if w.Code != 200 {
		t.Fatalf("got status %d, want 200: %s", w.Code, w.Body)
	}
	var got []routeInfo
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "api" || got[0].Terminal != "proxy" || got[0].Target != "http://127.0.0.1:1" ||
		got[1].Name != "home" || got[1].Terminal != "redirect" || !got[1].Exact {
		t.Errorf("got %+v", got)
	}
}

func TestReloadReportsTheConfigError(t *testing.T) {
	fail := true
	h := Handler(Sources{Reload: func() error {
		if fail {
			return errors.New("portico.yaml:3:5: routes: at least one route is required")
		}
		return nil
	}})
	w := call(h, "POST", "/api/reload", "", "")
	if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), "portico.yaml:3:5") {
		t.Errorf("failed reload: got %d %s, want 422 with the error", w.Code, w.Body)
	}
	fail = false
	if w := call(h, "POST", "/api/reload", "", ""); w.Code != 200 {
		t.Errorf("good reload: got %d %s, want 200", w.Code, w.Body)
	}
}

func TestStatusAndHealth(t *testing.T) {
	h := Handler(Sources{Status: func() Status { return Status{Version: "9.9", Reloads: 3} }})
	w := call(h, "GET", "/api/status", "", "")
	var st Status
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || st.Version != "9.9" || st.Reloads != 3 {
		t.Errorf("status: got %s (%v)", w.Body, err)
	}
	if w := call(h, "GET", "/healthz", "", ""); w.Code != 200 || w.Body.String() != "ok\n" {
		t.Errorf("healthz: got %d %q", w.Code, w.Body)
	}
}

func TestEndpointsWithoutASourceAreNotFound(t *testing.T) {
	h := Handler(Sources{})
	for _, p := range []string{"/api/routes", "/api/status"} {
		if w := call(h, "GET", p, "", ""); w.Code != http.StatusNotFound {
			t.Errorf("GET %s: got %d, want 404", p, w.Code)
		}
	}
	if w := call(h, "POST", "/api/reload", "", ""); w.Code != http.StatusNotFound {
		t.Errorf("POST /api/reload: got %d, want 404", w.Code)
	}
}

// A web page the operator has open must not be able to drive the admin
// API: not through a rebound DNS name, not through a cross-site form.
func TestGuardRefusesBrowserTricks(t *testing.T) {
	reloaded := 0
	h := Handler(Sources{Reload: func() error { reloaded++; return nil }})
	tests := []struct {
		name       string
		host       string
		ctype      string
		body       string
		origin     string
		wantStatus int
	}{
		{"rebound DNS name", "evil.example:9901", "", "", "", http.StatusForbidden},
		{"cross-site origin", "127.0.0.1:9901", "", "", "https://evil.example", http.StatusForbidden},
		{"form post", "127.0.0.1:9901", "application/x-www-form-urlencoded", "a=b", "", http.StatusUnsupportedMediaType},
		{"text/plain post", "localhost:9901", "text/plain", "x", "", http.StatusUnsupportedMediaType},
		{"curl, no body", "127.0.0.1:9901", "", "", "", http.StatusOK},
		{"local page", "[::1]:9901", "application/json", "{}", "http://localhost:9901", http.StatusOK},
	}
	for _, tt := range tests {
		w := browserCall{"POST", tt.host, "127.0.0.1:40000", tt.ctype, tt.body, tt.origin}.send(h)
		if w.Code != tt.wantStatus {
			body, _ := io.ReadAll(w.Body)
			t.Errorf("%s: got %d %s, want %d", tt.name, w.Code, body, tt.wantStatus)
		}
	}
	if reloaded != 2 {
		t.Errorf("got %d reloads, want 2 (only the allowed calls)", reloaded)
	}
}
