package middleware

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/testbackend"
)

func TestRequestIDKeepsValidAndReplacesInvalid(t *testing.T) {
	ids := NewRequestIDs()
	tests := []struct {
		name, incoming string
		keep           bool
	}{
		{"absent", "", false},
		{"valid", "abc-123_x.y:z", true},
		{"too long", strings.Repeat("a", 129), false},
		{"bad bytes", "abc def", false},
		{"header injection", "a\"b", false},
	}
	for _, tt := range tests {
		var seen string
		h := RequestID(ids, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen = r.Header.Get(RequestIDHeader)
		}))
		r := httptest.NewRequest("GET", "/", nil)
		if tt.incoming != "" {
			r.Header.Set(RequestIDHeader, tt.incoming)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if seen == "" || w.Header().Get(RequestIDHeader) != seen {
			t.Errorf("%s: upstream saw %q, client got %q, want the same non-empty ID", tt.name, seen, w.Header().Get(RequestIDHeader))
		}
		if got := seen == tt.incoming; got != tt.keep {
			t.Errorf("%s: kept incoming = %v, want %v", tt.name, got, tt.keep)
		}
	}
	if a, b := ids.next(), ids.next(); a == b {
		t.Errorf("two IDs are equal: %q", a)
	}
}

func TestHeadersEditRequestAndResponse(t *testing.T) {
	cfg := &config.Headers{
		Request:  config.HeaderOps{Set: map[string]string{"x-env": "prod"}, Remove: []string{"Cookie"}},
		Response: config.HeaderOps{Remove: []string{"Server", "X-Powered-By"}, Add: map[string]string{"X-Frame-Options": "DENY"}},
	}
	h, err := Headers(cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Env") != "prod" || r.Header.Get("Cookie") != "" {
			t.Errorf("request headers not edited: %v", r.Header)
		}
		w.Header().Set("Server", "backend/1.2")
		w.Header().Set("X-Powered-By", "php")
		io.WriteString(w, "body") // implicit 200: edits must still apply
	}))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", "a=b")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Header().Get("Server") != "" || w.Header().Get("X-Powered-By") != "" || w.Header().Get("X-Frame-Options") != "DENY" {
		t.Errorf("response headers: got %v", w.Header())
	}
}

func TestHeadersRejectsControlCharacters(t *testing.T) {
	_, err := Headers(&config.Headers{Response: config.HeaderOps{Set: map[string]string{"X-A": "a\r\nb"}}}, http.NotFoundHandler())
	if err == nil {
		t.Fatal("want an error for a CRLF in a header value")
	}
}

func TestAccessLogWritesOneJSONLinePerRequest(t *testing.T) {
	var out testbackend.SyncBuffer
	log := NewAccessLog(&out)
	h := log.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(201)
		io.WriteString(w, "hello")
	}))
	for i := 0; i < 3; i++ {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/x?y=1", nil))
	}
	log.Close()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3:\n%s", len(lines), out.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["status"] != float64(201) || rec["bytes"] != float64(5) || rec["method"] != "POST" || rec["uri"] != "/x?y=1" {
		t.Errorf("got %v", rec)
	}
}

func TestAccessLogRecordsClientGoneAs499(t *testing.T) {
	var out testbackend.SyncBuffer
	log := NewAccessLog(&out)
	h := log.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the client went away before anything was written
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil).WithContext(ctx))
	log.Close()
	if !strings.Contains(out.String(), `"status":499`) {
		t.Fatalf("got %s, want status 499", out.String())
	}
}

func TestRecorderKeepsReaderFrom(t *testing.T) {
	rec := &recorder{ResponseWriter: httptest.NewRecorder()}
	var w http.ResponseWriter = rec
	if _, ok := w.(io.ReaderFrom); !ok {
		t.Fatal("recorder hides io.ReaderFrom: sendfile/splice would be lost")
	}
	n, err := rec.ReadFrom(strings.NewReader("abc"))
	if n != 3 || err != nil || rec.bytes != 3 || rec.status != 200 {
		t.Fatalf("got n=%d err=%v bytes=%d status=%d", n, err, rec.bytes, rec.status)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// blockingWriter never returns until released, like a stuck disk.
type blockingWriter struct{ release chan struct{} }

func (b blockingWriter) Write(p []byte) (int, error) {
	<-b.release
	return len(p), nil
}

func TestAccessLogFullDiskNeverFailsRequests(t *testing.T) {
	log := NewAccessLog(failingWriter{})
	h := log.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	for i := 0; i < 100; i++ {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		if w.Code != 200 || w.Body.String() != "ok" {
			t.Fatalf("request %d: got %d %q", i, w.Code, w.Body.String())
		}
	}
	log.Close()
}

func TestAccessLogStuckWriterDropsInsteadOfBlocking(t *testing.T) {
	bw := blockingWriter{release: make(chan struct{})}
	log := NewAccessLog(bw)
	h := log.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Far more lines than the queue holds: none of these may block.
		for i := 0; i < 3*accessQueueLen; i++ {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("requests blocked behind a stuck access log writer")
	}
	if log.Dropped() == 0 {
		t.Fatal("want dropped lines counted")
	}
	close(bw.release)
	log.Close()
}
