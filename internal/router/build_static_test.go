package router

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-proxy/portico/internal/config"
)

func TestBuildStaticRouteWithCompress(t *testing.T) {
	root := t.TempDir()
	page := strings.Repeat("<p>static</p>\n", 200)
	g := buildFrom(t, "listeners: [{addr: \"127.0.0.1:0\"}]\nroutes:\n  - match: /site/\n    static: "+root+"\n    compress: true\n")
	h := g.Handler("127.0.0.1:0")
	os.MkdirAll(filepath.Join(root, "site"), 0o755)
	os.WriteFile(filepath.Join(root, "site", "page.html"), []byte(page), 0o644)
	r := httptest.NewRequest("GET", "/site/page.html", nil)
	r.Header.Set("Accept-Encoding", "gzip")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 || w.Header().Get("Content-Encoding") != "gzip" || w.Body.Len() >= len(page) {
		t.Fatalf("got %d Content-Encoding %q, %d bytes; want 200, gzip, smaller than %d",
			w.Code, w.Header().Get("Content-Encoding"), w.Body.Len(), len(page))
	}
}

func TestBuildFailsOnAMissingStaticRoot(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	cfg, err := config.Parse("t.yaml", []byte("listeners: [{addr: \"127.0.0.1:0\"}]\nroutes:\n  - name: site\n    static: "+missing+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(cfg, Shared{})
	if err == nil || !strings.Contains(err.Error(), `route "site": static: root`) {
		t.Fatalf("got %v, want a static root error naming the route", err)
	}
}
