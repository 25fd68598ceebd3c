package router

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/upstream"
)

func buildFrom(t *testing.T, yaml string) *Generation {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	g, err := Build(cfg, Shared{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Retire)
	return g
}

func TestGenerationServesTerminals(t *testing.T) {
	g := buildFrom(t, `listeners: [{addr: "127.0.0.1:0", name: web}]
routes:
  - match: {path: /admin}
    respond: {status: 403, body: "no\n"}
  - match: {path: /public/}
    respond: "public\n"
  - match: {path: /old, exact: true}
    redirect: "https://{host}/new{uri}"
  - match: {path: /moved}
    redirect: {to: "/elsewhere{path}", status: 308}
`)
	h := g.Handler("web")
	tests := []struct {
		name, method, target, host string
		wantStatus                 int
		wantBody, wantLocation     string
	}{
		{"respond", "GET", "/public/a", "x", 200, "public\n", ""},
		{"respond HEAD has no body", "HEAD", "/public/a", "x", 200, "", ""},
		{"respond status", "GET", "/admin", "x", 403, "no\n", ""},
		{"dot segments cannot bypass a rule", "GET", "/public/../admin", "x", 403, "no\n", ""},
		{"double slashes are merged", "GET", "//admin", "x", 403, "no\n", ""},
		{"redirect with host and uri", "GET", "/old?a=1", "example.com:8080", 302, "", "https://example.com/new/old?a=1"},
		{"redirect status and path", "GET", "/moved/x", "x", 308, "", "/elsewhere/moved/x"},
		{"no route", "GET", "/nothing", "x", 404, "404 Not Found\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/", nil)
			r.Host = tt.host
			// Set the path as a client could send it, uncleaned.
			r.URL.Path, r.URL.RawQuery, _ = strings.Cut(tt.target, "?")
			r.RequestURI = tt.target
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			body, _ := io.ReadAll(w.Body)
			if w.Code != tt.wantStatus || string(body) != tt.wantBody || w.Header().Get("Location") != tt.wantLocation {
				t.Fatalf("got %d %q Location %q, want %d %q Location %q",
					w.Code, body, w.Header().Get("Location"), tt.wantStatus, tt.wantBody, tt.wantLocation)
			}
			if w.Header().Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id on the response")
			}
		})
	}
}

func TestGenerationRoutesByListener(t *testing.T) {
	g := buildFrom(t, `listeners: [{addr: "127.0.0.1:0", name: a}, {addr: "127.0.0.1:1", name: b}]
routes:
  - match: {path: /, listener: a}
    respond: "a"
  - match: /
    respond: "other"
`)
	for _, tt := range []struct{ listener, want string }{{"a", "a"}, {"b", "other"}} {
		w := httptest.NewRecorder()
		g.Handler(tt.listener).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		if w.Body.String() != tt.want {
			t.Errorf("listener %s: got %q, want %q", tt.listener, w.Body.String(), tt.want)
		}
	}
}

func TestCleanPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/", "/"}, {"/a/b", "/a/b"}, {"/a/../b", "/b"}, {"/a/./b/", "/a/b/"},
		{"//a", "/a"}, {"/a/..", "/"}, {"/../../etc/passwd", "/etc/passwd"}, {"/a//b//", "/a/b/"},
	}
	for _, tt := range tests {
		got := tt.in
		if !isClean(got) {
			got = cleanPath(got)
		}
		if got != tt.want {
			t.Errorf("clean %q: got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestBuildReportsAnUnwritableAccessLog(t *testing.T) {
	cfg, err := config.Parse("t.yaml", []byte("listeners: [{addr: \"127.0.0.1:0\"}]\nroutes: [{match: /, respond: x}]\naccess_log: /nonexistent-dir/portico/access.log\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(cfg, Shared{})
	if err == nil || !strings.Contains(err.Error(), "access_log") {
		t.Fatalf("got %v, want an access_log error (a reload keeps the running config)", err)
	}
}

func TestCacheRouteWithoutStoresIsABuildError(t *testing.T) {
	cfg, err := config.Parse("test.yaml", []byte("listeners: [{addr: \"127.0.0.1:0\"}]\nroutes:\n  - match: /\n    proxy: \"http://127.0.0.1:9\"\n    cache: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(cfg, Shared{})
	if err == nil || !strings.Contains(err.Error(), `route "route[0]": cache: no cache stores`) {
		t.Fatalf("got %v, want a cache build error naming the route", err)
	}
}

// TestEncodedPathsPickTheRouteOfThePathSent sends unnormalised and
// percent-encoded targets through a generation and checks both the route
// chosen and the target the backend receives: a request never reaches a
// harmless route while the path sent upstream names a protected one. As in
// nginx, the path is matched decoded, with dot segments and double slashes
// resolved (and then sent upstream resolved); ";" and "\" are ordinary bytes.
func TestEncodedPathsPickTheRouteOfThePathSent(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "backend "+r.RequestURI)
	}))
	t.Cleanup(backend.Close)
	g := buildFrom(t, `listeners: [{addr: "127.0.0.1:0", name: web}]
routes:
  - match: {path: /admin}
    respond: {status: 403, body: "denied"}
  - match: {path: "/my%20files"}
    respond: {status: 403, body: "denied"}
  - match: {path: /api}
    strip_prefix: /api
    proxy: "`+backend.URL+`"
  - match: /
    proxy: "`+backend.URL+`"
`)
	h := g.Handler("web")
	tests := []struct{ name, target, want string }{
		{"prefix stops at a segment", "/apiary", "backend /apiary"},
		{"strip_prefix on the bare prefix", "/api", "backend /"},
		{"paths are case-sensitive", "/ADMIN", "backend /ADMIN"},
		{"encoded dot-dot", "/public/%2e%2e/admin", "denied"},
		{"encoded dot-dot upper case", "/public/%2E%2E/admin", "denied"},
		{"half-encoded dot-dot", "/public/.%2e/admin", "denied"},
		{"dot-dot then encoded slash", "/public/..%2Fadmin", "denied"},
		{"encoded slashes around dot-dot", "/public%2F..%2Fadmin", "denied"},
		{"dot-dot out of a stripped prefix", "/api/%2e%2e/admin", "denied"},
		{"encoded dot-dot inside a stripped prefix", "/api/x%2F..%2Fy", "backend /y"},
		{"dot segment", "/./admin", "denied"},
		{"encoded dot segment", "/public/%2e/x", "backend /public/x"},
		{"trailing dot segment", "/admin/.", "denied"},
		{"trailing encoded dot segment", "/admin/%2e", "denied"},
		{"trailing dot-dot leaves the prefix", "/admin/x/../..", "backend /"},
		{"encoded trailing slash", "/admin%2F", "denied"},
		{"encoded slash inside a segment", "/admin%2Fx", "denied"},
		{"encoded letter", "/%61dmin", "denied"},
		{"double encoding is one decoding", "/public/%252e%252e/admin", "backend /public/%252e%252e/admin"},
		{"escaped route path, plain request", "/my%20files", "denied"},
		{"escaped route path, double-encoded request", "/my%2520files", "backend /my%2520files"},
		{"backslash is not a separator", `/public\..\admin`, `backend /public%5C..%5Cadmin`},
		{"path parameter is part of the segment", "/admin;x=1", "backend /admin;x=1"},
		{"dot-dot with a parameter is not a dot segment", "/public/..;/admin", "backend /public/..;/admin"},
		{"trailing dot in a name", "/admin.", "backend /admin."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.target, nil) // parsed as the listeners parse it
			r.Host = "x"
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if got := w.Body.String(); got != tt.want {
				t.Errorf("%s: got %d %q, want %q", tt.target, w.Code, got, tt.want)
			}
		})
	}
}

// Every value Validate accepts maps to a setting; a value missing here
// would silently send both kinds.
func TestEveryForwardedHeadersValueMaps(t *testing.T) {
	for _, v := range config.ForwardedHeaderSets {
		if _, ok := forwardedHeaders[v]; !ok {
			t.Errorf("forwarded_headers %q has no setting", v)
		}
	}
	if forwardedHeaders["none"] != upstream.ForwardNone || forwardedHeaders[""] != upstream.ForwardBoth {
		t.Error("none or the default maps wrongly")
	}
}
