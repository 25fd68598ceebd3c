package middleware

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/testbackend"
)

// fullChain is what a request on a TLS listener passes through: request
// ID, access log, then a route with hsts, headers and compress.
func fullChain(t *testing.T, log *AccessLog, terminal http.Handler) http.Handler {
	t.Helper()
	route := &config.Route{
		HSTS:     &config.HSTS{MaxAge: time.Hour},
		Headers:  &config.Headers{Response: config.HeaderOps{Remove: []string{"Server"}}},
		Compress: &config.Compress{},
	}
	h, err := Route(terminal, route, nil)
	if err != nil {
		t.Fatal(err)
	}
	return RequestID(NewRequestIDs(), log.Wrap(h))
}

// TestChainKeepsWriterFeaturesAndLogsSizes: through every wrapping
// middleware, Flush, Hijack, ReadFrom and the ResponseController calls
// still reach net/http, and the log's status and bytes are what went on
// the wire for HEAD, 304 and 1xx.
func TestChainKeepsWriterFeaturesAndLogsSizes(t *testing.T) {
	tests := []struct {
		name, method string
		handler      func(t *testing.T, w http.ResponseWriter, r *http.Request)
		status       float64
		bytes        float64
	}{
		{"HEAD", "HEAD", func(t *testing.T, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "hello")
		}, 200, 0},
		{"HEAD ReadFrom", "HEAD", func(t *testing.T, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5")
			w.(io.ReaderFrom).ReadFrom(strings.NewReader("hello"))
		}, 200, 0},
		{"304", "GET", func(t *testing.T, w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(304)
			io.WriteString(w, "not sent")
		}, 304, 0},
		{"103 then 200", "GET", func(t *testing.T, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(103)
			io.WriteString(w, "hi")
		}, 200, 2},
		{"Flush and deadlines", "GET", func(t *testing.T, w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			io.WriteString(w, "a")
			if err := rc.Flush(); err != nil {
				t.Errorf("Flush: %v", err)
			}
			if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
				t.Errorf("SetWriteDeadline: %v", err)
			}
			if err := rc.EnableFullDuplex(); err != nil {
				t.Errorf("EnableFullDuplex: %v", err)
			}
			io.WriteString(w, "b")
		}, 200, 2},
		{"ReadFrom reaches net/http", "GET", func(t *testing.T, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "image/png") // not compressed
			var u http.ResponseWriter = w
			for {
				if _, ok := u.(io.ReaderFrom); !ok {
					t.Errorf("%T hides io.ReaderFrom", u)
				}
				x, ok := u.(interface{ Unwrap() http.ResponseWriter })
				if !ok {
					break
				}
				u = x.Unwrap()
			}
			if got := strings.TrimPrefix(fmtType(u), "*"); got != "http.response" {
				t.Errorf("innermost writer %s", got)
			}
			w.(io.ReaderFrom).ReadFrom(strings.NewReader("0123456789"))
		}, 200, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out testbackend.SyncBuffer
			log := NewAccessLog(&out)
			srv := httptest.NewTLSServer(fullChain(t, log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tt.handler(t, w, r)
			})))
			defer srv.Close()
			req, _ := http.NewRequest(tt.method, srv.URL, nil)
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			srv.Close()
			log.Close()
			var rec map[string]any
			if err := json.Unmarshal([]byte(out.String()), &rec); err != nil {
				t.Fatalf("%v: %q", err, []byte(out.String()))
			}
			if rec["status"] != tt.status || rec["bytes"] != tt.bytes {
				t.Errorf("logged status %v bytes %v, want %v %v", rec["status"], rec["bytes"], tt.status, tt.bytes)
			}
			if got := res.Header["Strict-Transport-Security"]; len(got) != 1 {
				t.Errorf("HSTS %q", got)
			}
		})
	}
}

func fmtType(v any) string { return strings.TrimSpace(strings.Split(typeName(v), " ")[0]) }

// TestChainHijacks: a WebSocket-style hijack works through every wrapper
// and is logged as 101.
func TestChainHijacks(t *testing.T) {
	var out testbackend.SyncBuffer
	log := NewAccessLog(&out)
	srv := httptest.NewTLSServer(fullChain(t, log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nping")
		brw.Flush()
	})))
	conn, err := tls.Dial("tcp", srv.Listener.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 101 {
		t.Fatalf("status %d", res.StatusCode)
	}
	if b, _ := io.ReadAll(br); string(b) != "ping" {
		t.Errorf("tunnel read %q", b)
	}
	// A hijacked handler is not waited for by Close: wait for its line.
	var line string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		line = out.String()
		if line != "" {
			break
		}
	}
	srv.Close()
	log.Close()
	if !strings.Contains(line, `"status":101`) {
		t.Errorf("log %s", line)
	}
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }
