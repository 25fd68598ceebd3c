package middleware

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portico-proxy/portico/internal/testbackend"
)

// TestAccessLogCarriesTheCacheVerdict: hits and misses are visible in the
// log through the Cache-Status the cache set.
func TestAccessLogCarriesTheCacheVerdict(t *testing.T) {
	var out testbackend.SyncBuffer
	log := NewAccessLog(&out)
	verdicts := []string{"Portico; fwd=uri-miss; stored", "Portico; hit", ""}
	i := 0
	h := log.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := verdicts[i]; v != "" {
			w.Header().Set("Cache-Status", v)
		}
		i++
		io.WriteString(w, "x")
	}))
	for range verdicts {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}
	log.Close()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	for j, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["cache"] != verdicts[j] {
			t.Errorf("line %d: cache %q, want %q", j, rec["cache"], verdicts[j])
		}
	}
}
