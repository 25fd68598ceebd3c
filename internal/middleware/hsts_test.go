package middleware

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/config"
)

func TestHSTSOnlyOverTLS(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	tests := []struct {
		name string
		cfg  config.HSTS
		tls  bool
		want string
	}{
		{"defaults over TLS", config.HSTS{MaxAge: config.DefaultHSTSMaxAge}, true, "max-age=31536000"},
		{"all options", config.HSTS{MaxAge: time.Hour, IncludeSubdomains: true, Preload: true}, true, "max-age=3600; includeSubDomains; preload"},
		{"plain HTTP never", config.HSTS{MaxAge: time.Hour}, false, ""},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		if tt.tls {
			r.TLS = &tls.ConnectionState{}
		}
		w := httptest.NewRecorder()
		HSTS(&tt.cfg, ok).ServeHTTP(w, r)
		if got := w.Header().Get("Strict-Transport-Security"); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestHSTSCanBeRemovedByRouteHeaders(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	route := &config.Route{HSTS: &config.HSTS{MaxAge: time.Hour},
		Headers: &config.Headers{Response: config.HeaderOps{Remove: []string{"Strict-Transport-Security"}}}}
	h, err := Route(ok, route, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.TLS = &tls.ConnectionState{}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if got := w.Header().Get("Strict-Transport-Security"); got != "" {
		t.Errorf("got %q, want it removed by the route's header edits", got)
	}
}
