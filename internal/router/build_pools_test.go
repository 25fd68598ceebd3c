package router

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/upstream"
)

func buildShared(t *testing.T, yaml string, shared Shared) *Generation {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	g, err := Build(cfg, shared)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Retire)
	return g
}

// TestDrainingSurvivesReload: a backend marked draining in one
// generation is still draining in the next one built from the same
// Shared, and gets no traffic there.
func TestDrainingSurvivesReload(t *testing.T) {
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "a") }))
	defer a.Close()
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "b") }))
	defer b.Close()
	yaml := `listeners: [{addr: "127.0.0.1:0"}]
upstreams:
  api: {backends: ["` + a.URL + `", "` + b.URL + `"], balance: round_robin}
routes: [{proxy: api}, {match: /inline, proxy: "` + a.URL + `"}]
`
	shared := Shared{Drains: upstream.NewDrainSet()}
	g1 := buildShared(t, yaml, shared)
	pools := g1.Pools()
	if len(pools) != 2 || pools[0].Name() != "api" {
		t.Fatalf("pools: got %d (first %q), want api and the inline one", len(pools), pools[0].Name())
	}
	if err := pools[0].SetDraining(a.URL, true); err != nil {
		t.Fatal(err)
	}
	g2 := buildShared(t, yaml, shared)
	st := g2.Pools()[0].State()
	if !st.Backends[0].Draining || st.Backends[1].Draining {
		t.Fatalf("after reload: draining %v,%v, want true,false", st.Backends[0].Draining, st.Backends[1].Draining)
	}
	if g2.Pools()[1].State().Backends[0].Draining {
		t.Error("the same URL in another pool got drained too")
	}
	h := g2.Handler("127.0.0.1:0")
	for i := 0; i < 6; i++ {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		if w.Body.String() != "b" {
			t.Fatalf("request %d after reload: got %q, want b only", i, w.Body.String())
		}
	}
}
