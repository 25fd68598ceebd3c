package admin

import (
	"net/http"
	"strings"

	"github.com/portico-proxy/portico/internal/cache"
)

// cacheRoutes mounts the cache endpoints: counters, and purge by URL,
// prefix or tag. With a Redis in the cluster config, a purge here reaches
// every instance.
func cacheRoutes(mux *http.ServeMux, c *cache.Cache) {
	mux.HandleFunc("GET /api/cache", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, c.Stats())
	})
	mux.HandleFunc("POST /api/cache/purge", func(w http.ResponseWriter, r *http.Request) {
		var p cache.Purge
		if !decodeBody(w, r, &p, `{"url": ...}, {"prefix": ...} or {"tag": ...}`) {
			return
		}
		if countSet(p.URL, p.Prefix, p.Tag) != 1 {
			writeJSON(w, http.StatusBadRequest, errorBody{"name exactly one of url, prefix, tag"})
			return
		}
		// Cache keys start with the host. Without one, a URL or prefix
		// (a path alone, a bare scheme) would match nothing and answer
		// {"removed": 0} as if it had worked.
		if u := p.URL + p.Prefix; u != "" && !hasHost(u) {
			writeJSON(w, http.StatusBadRequest, errorBody{`name the host: "example.com/img/" or "https://example.com/img/"`})
			return
		}
		n, err := c.Purge(r.Context(), p)
		if err != nil {
			// This instance is purged; the others may not be. Purges are
			// idempotent, so the operator can simply send it again.
			writeJSON(w, http.StatusInternalServerError, purgeResult{Removed: n, Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, purgeResult{Removed: n})
	})
}

type purgeResult struct {
	Removed int    `json:"removed"`
	Error   string `json:"error,omitempty"`
}

// hasHost reports a purge URL or prefix that starts with a host, after
// an optional scheme.
func hasHost(u string) bool {
	if _, rest, ok := strings.Cut(u, "://"); ok {
		u = rest
	}
	return u != "" && u[0] != '/' && u[0] != '?'
}

func countSet(values ...string) int {
	n := 0
	for _, v := range values {
		if v != "" {
			n++
		}
	}
	return n
}
