package middleware

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/testbackend"
)

// TestAccessLogInjectionStaysOneValidJSONLine: whatever a client puts in a
// logged field, the log gets exactly one valid JSON line per request, the
// fields read back as sent (invalid UTF-8 as U+FFFD) and no raw control
// byte such as ESC reaches a terminal tailing the log.
func TestAccessLogInjectionStaysOneValidJSONLine(t *testing.T) {
	nasty := []struct{ name, v string }{
		{"CRLF", "a\r\n{\"status\":200}\r\nb"},
		{"LF", "a\n\"remote\":\"1.2.3.4\""},
		{"quotes", `a","status":200,"x":"`},
		{"backslash", `a\",\"status\":200\\`},
		{"ANSI", "a\x1b[31mred\x1b[0m"},
		{"invalid UTF-8", "a\xff\xfe\xc3(b"},
		{"NUL and DEL", "a\x00b\x7f"},
		{"U+2028", "a\u2028b\u2029"},
	}
	for _, tt := range nasty {
		var out testbackend.SyncBuffer
		log := NewAccessLog(&out)
		h := log.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Status", "x") // set by the cache, not the client
			io.WriteString(w, "ok")
		}))
		r := httptest.NewRequest("GET", "/", nil)
		r.Method = tt.v
		r.Host = tt.v
		r.RequestURI = "/" + tt.v
		r.Proto = tt.v
		r.RemoteAddr = tt.v
		r.Header["User-Agent"] = []string{tt.v}
		r.Header["Referer"] = []string{tt.v}
		r.Header[RequestIDHeader] = []string{tt.v}
		h.ServeHTTP(httptest.NewRecorder(), r)
		log.Close()
		b := []byte(out.String())
		if bytes.Count(b, []byte("\n")) != 1 || !bytes.HasSuffix(b, []byte("\n")) {
			t.Errorf("%s: want one line, got %q", tt.name, b)
			continue
		}
		if bytes.ContainsFunc(b[:len(b)-1], func(r rune) bool { return r < 0x20 }) {
			t.Errorf("%s: raw control byte in the log: %q", tt.name, b)
		}
		if !json.Valid(b) {
			t.Errorf("%s: not valid JSON: %q", tt.name, b)
			continue
		}
		var rec map[string]any
		_ = json.Unmarshal(b, &rec)
		want := strings.ToValidUTF8(tt.v, "\uFFFD")
		if !utf8.ValidString(tt.v) {
			// encoding/json and slog may replace per byte; compare leniently.
			want = ""
		}
		for _, k := range []string{"method", "host", "proto", "remote", "user_agent", "request_id"} {
			got, _ := rec[k].(string)
			if want != "" && got != want {
				t.Errorf("%s: %s = %q, want %q", tt.name, k, got, want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("%s: %s not valid UTF-8", tt.name, k)
			}
		}
		if rec["status"] != float64(200) || rec["cache"] != "x" {
			t.Errorf("%s: forged fields: %v", tt.name, rec)
		}
	}
}

// TestRequestIDDuplicateFieldsReplaced: two X-Request-Id fields, even
// both well formed, are not one trusted ID.
func TestRequestIDDuplicateFieldsReplaced(t *testing.T) {
	var seen []string
	h := RequestID(NewRequestIDs(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header[RequestIDHeader]
	}))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header[RequestIDHeader] = []string{"abc", "def"}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if len(seen) != 1 || seen[0] == "abc" || seen[0] == "def" || w.Header().Get(RequestIDHeader) != seen[0] {
		t.Errorf("upstream saw %q, client got %q", seen, w.Header()[RequestIDHeader])
	}
}

// TestHeadersEditsIgnoreCaseAndDuplicates: names in config in any case
// edit every field of that name, however many the client or backend sent.
func TestHeadersEditsIgnoreCaseAndDuplicates(t *testing.T) {
	cfg := &config.Headers{
		Request: config.HeaderOps{Remove: []string{"cookie"}, Set: map[string]string{"x-user": "anon"}},
		Response: config.HeaderOps{Remove: []string{"SERVER"}, Set: map[string]string{"x-frame-options": "DENY"},
			Add: map[string]string{"vary": "Origin"}},
	}
	var up http.Header
	h, err := Headers(cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up = r.Header.Clone()
		w.Header().Add("Server", "a")
		w.Header().Add("server", "b")
		w.Header().Add("X-Frame-Options", "ALLOW")
		w.Header().Add("X-Frame-Options", "ALLOW-FROM x")
		w.Header().Add("Vary", "Accept")
		w.WriteHeader(200)
	}))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Add("Cookie", "a=1")
	r.Header.Add("Cookie", "b=2")
	r.Header.Add("X-User", "admin")
	r.Header.Add("X-User", "root")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if len(up["Cookie"]) != 0 || len(up["X-User"]) != 1 || up.Get("X-User") != "anon" {
		t.Errorf("upstream saw %v", up)
	}
	res := w.Result().Header
	if len(res["Server"]) != 0 || len(res["X-Frame-Options"]) != 1 || res.Get("X-Frame-Options") != "DENY" ||
		strings.Join(res["Vary"], ",") != "Accept,Origin" {
		t.Errorf("client got %v", res)
	}
}

// TestRequestIDOneIDUpstreamResponseAndLog: a backend that answers with
// its own X-Request-Id does not give the client a second ID, and a route
// edit of the request's header does not change the ID the log records.
func TestRequestIDOneIDUpstreamResponseAndLog(t *testing.T) {
	tests := []struct {
		name    string
		backend func(w http.ResponseWriter, r *http.Request)
	}{
		{"backend echoes its own ID", func(w http.ResponseWriter, r *http.Request) {
			w.Header()[RequestIDHeader] = append(w.Header()[RequestIDHeader], "backend-1") // as upstream.relayHeaders
			io.WriteString(w, "x")
		}},
		{"backend ID, explicit status", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add(RequestIDHeader, "backend-2")
			w.WriteHeader(404)
		}},
		{"route edit replaces request ID", func(w http.ResponseWriter, r *http.Request) {
			r.Header.Set(RequestIDHeader, "edited")
			w.WriteHeader(204)
		}},
	}
	for _, tt := range tests {
		var out testbackend.SyncBuffer
		log := NewAccessLog(&out)
		var upstream string
		h := RequestID(NewRequestIDs(), log.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			upstream = r.Header.Get(RequestIDHeader)
			tt.backend(w, r)
		})))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		log.Close()
		var rec map[string]any
		if err := json.Unmarshal([]byte(out.String()), &rec); err != nil {
			t.Fatal(err)
		}
		got := w.Result().Header[RequestIDHeader]
		if len(got) != 1 || got[0] != upstream || rec["request_id"] != upstream {
			t.Errorf("%s: upstream %q, client %q, log %q", tt.name, upstream, got, rec["request_id"])
		}
	}
}

// TestHSTSOnceWhenBackendSendsItsOwn: the configured value is sent once;
// a backend's own Strict-Transport-Security is not appended to it, and a
// route edit that replaces it still wins.
func TestHSTSOnceWhenBackendSendsItsOwn(t *testing.T) {
	backend := func(code int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Strict-Transport-Security"] = append(w.Header()["Strict-Transport-Security"], "max-age=0")
			if code == 0 {
				io.WriteString(w, "x")
				return
			}
			w.WriteHeader(code)
		})
	}
	tests := []struct {
		name  string
		route *config.Route
		code  int
		want  string
	}{
		{"implicit 200", &config.Route{HSTS: &config.HSTS{MaxAge: time.Hour, Preload: true}}, 0, "max-age=3600; preload"},
		{"304", &config.Route{HSTS: &config.HSTS{MaxAge: time.Hour}}, 304, "max-age=3600"},
		{"route edit sets it", &config.Route{HSTS: &config.HSTS{MaxAge: time.Hour},
			Headers: &config.Headers{Response: config.HeaderOps{Set: map[string]string{"Strict-Transport-Security": "max-age=60"}}}}, 200, "max-age=60"},
	}
	for _, tt := range tests {
		h, err := Route(backend(tt.code), tt.route, nil)
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.TLS = &tls.ConnectionState{}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if got := w.Result().Header["Strict-Transport-Security"]; len(got) != 1 || got[0] != tt.want {
			t.Errorf("%s: got %q, want [%q]", tt.name, got, tt.want)
		}
	}
}

// TestHeadersRemoveAppliesToEarlyHints: a field the route removes from
// responses does not reach the client in a 103 either.
func TestHeadersRemoveAppliesToEarlyHints(t *testing.T) {
	h, err := Headers(&config.Headers{Response: config.HeaderOps{Remove: []string{"Server"}}},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Server", "backend/1.2")
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(103)
			w.WriteHeader(204)
		}))
	if err != nil {
		t.Fatal(err)
	}
	var hints []http.Header
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, hdr textproto.MIMEHeader) error {
			hints = append(hints, http.Header(hdr))
			return nil
		}})
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if len(hints) != 1 || hints[0].Get("Link") == "" || hints[0].Get("Server") != "" || res.Header.Get("Server") != "" {
		t.Errorf("103 %v, final %v", hints, res.Header)
	}
}
