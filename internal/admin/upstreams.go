package admin

import (
	"net/http"

	"github.com/portico-proxy/portico/internal/router"
	"github.com/portico-proxy/portico/internal/upstream"
)

// upstreamRoutes mounts the pool endpoints: live state, and draining a
// backend (no new requests; in-flight ones finish).
func upstreamRoutes(mux *http.ServeMux, gen func() *router.Generation) {
	mux.HandleFunc("GET /api/upstreams", func(w http.ResponseWriter, _ *http.Request) {
		pools := gen().Pools()
		out := make([]upstream.PoolState, 0, len(pools))
		for _, p := range pools {
			out = append(out, p.State())
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /api/upstreams/{pool}", func(w http.ResponseWriter, r *http.Request) {
		p := findPool(gen(), r.PathValue("pool"))
		if p == nil {
			writeJSON(w, http.StatusNotFound, errorBody{"no upstream " + r.PathValue("pool")})
			return
		}
		writeJSON(w, http.StatusOK, p.State())
	})
	drain := func(on bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			g := gen()
			p := findPool(g, r.PathValue("pool"))
			if p == nil {
				writeJSON(w, http.StatusNotFound, errorBody{"no upstream " + r.PathValue("pool")})
				return
			}
			var body struct {
				Backend string `json:"backend"`
			}
			body.Backend = r.URL.Query().Get("backend")
			if r.ContentLength != 0 && !decodeBody(w, r, &body, `{"backend": "URL as written"}`) {
				return
			}
			if body.Backend == "" {
				writeJSON(w, http.StatusBadRequest, errorBody{`name the backend: {"backend": "http://host:port"}`})
				return
			}
			// A reload may swap in a generation built before the mark was
			// set; apply it again to whatever is live until that holds
			// still, so the answer and the live pool agree. (A reload
			// that builds before and swaps after this call returns is
			// outside what the admin API can see.)
			for range 10 {
				if err := p.SetDraining(body.Backend, on); err != nil {
					writeJSON(w, http.StatusNotFound, errorBody{err.Error()})
					return
				}
				live := gen()
				if live == g {
					break
				}
				g = live
				if p = findPool(g, r.PathValue("pool")); p == nil {
					writeJSON(w, http.StatusNotFound, errorBody{"no upstream " + r.PathValue("pool")})
					return
				}
			}
			writeJSON(w, http.StatusOK, p.State())
		}
	}
	mux.HandleFunc("POST /api/upstreams/{pool}/drain", drain(true))
	mux.HandleFunc("POST /api/upstreams/{pool}/undrain", drain(false))
}

func findPool(g *router.Generation, name string) *upstream.Pool {
	for _, p := range g.Pools() {
		if p.Name() == name {
			return p
		}
	}
	return nil
}
