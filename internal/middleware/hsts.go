package middleware

import (
	"net/http"
	"strconv"

	"github.com/portico-proxy/portico/internal/config"
)

// HSTS sets Strict-Transport-Security on responses to requests that came
// over TLS. RFC 6797 §7.2: a host must not send it over plain HTTP, where
// an attacker could forge or strip it anyway. The value is built once.
// It replaces a Strict-Transport-Security the backend sends, unless a
// route's response edit removed or replaced it.
func HSTS(cfg *config.HSTS, next http.Handler) http.Handler {
	v := "max-age=" + strconv.FormatInt(int64(cfg.MaxAge.Seconds()), 10)
	if cfg.IncludeSubdomains {
		v += "; includeSubDomains"
	}
	if cfg.Preload {
		v += "; preload"
	}
	val := []string{v}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			next.ServeHTTP(w, r)
			return
		}
		w.Header()["Strict-Transport-Security"] = val
		// Sent once: a backend's own value is dropped.
		serveOnlyOurs(w, r, "Strict-Transport-Security", val, next)
	})
}
