package admin

import (
	"encoding/json"
	"net/http"

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
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			writeJSON(w, http.StatusBadRequest, errorBody{`body: want {"url": ...}, {"prefix": ...} or {"tag": ...}: ` + err.Error()})
			return
		}
		if countSet(p.URL, p.Prefix, p.Tag) != 1 {
			writeJSON(w, http.StatusBadRequest, errorBody{"name exactly one of url, prefix, tag"})
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

func countSet(values ...string) int {
	n := 0
	for _, v := range values {
		if v != "" {
			n++
		}
	}
	return n
}
