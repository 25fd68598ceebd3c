// Package admin owns the admin listener: a small JSON API for operators
// (status, reload, routes, upstream pools, certificates, cache purge).
// It listens on a loopback address only (config.Validate enforces that)
// and reads live state through the functions it is given; it must not
// keep state of its own or reach into the request path.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/portico-proxy/portico/internal/cache"
	"github.com/portico-proxy/portico/internal/listener"
	"github.com/portico-proxy/portico/internal/router"
)

// Sources is what the admin API reads and acts on. A nil field turns its
// endpoints off (404).
type Sources struct {
	// Generation returns the live generation.
	Generation func() *router.Generation
	// Reload loads the config file again, as SIGHUP does.
	Reload func() error
	// Status describes the process (version, start time, reloads).
	Status func() Status
	// Certificates lists the certificates of every TLS listener.
	Certificates func() []listener.CertInfo
	// Cache is the process's HTTP cache, for counters and purges.
	Cache *cache.Cache
}

// Status is the answer of GET /api/status.
type Status struct {
	Version      string    `json:"version"`
	Started      time.Time `json:"started"`
	Reloads      int       `json:"reloads"`
	LastReload   time.Time `json:"last_reload,omitzero"`
	ReloadError  string    `json:"last_reload_error,omitempty"`
	ConfigFile   string    `json:"config_file,omitempty"`
	Listeners    []string  `json:"listeners"`
	Routes       int       `json:"routes"`
	Upstreams    int       `json:"upstreams"`
	PID          int       `json:"pid"`
	GoMaxProcs   int       `json:"gomaxprocs"`
	Goroutines   int       `json:"goroutines"`
	HeapInuseMiB float64   `json:"heap_inuse_mib"`
}

// Server is the admin listener.
type Server struct {
	ln  net.Listener
	srv *http.Server
}

// New binds addr at once, so a busy admin port is reported at start.
// addr must be on a loopback host, as config.Validate demands; New checks
// again, before and after binding, so that no caller can put the API on
// every interface.
func New(addr string, src Sources, log *slog.Logger) (*Server, error) {
	return listen(addr, Handler(src), log)
}

// listen is New for any handler: the relay binds under the same rules.
func listen(addr string, h http.Handler, log *slog.Logger) (*Server, error) {
	if host, _, err := net.SplitHostPort(addr); err != nil || !loopbackHost(host) {
		return nil, fmt.Errorf("admin: %q is not on a loopback host; use 127.0.0.1, ::1 or localhost", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	if a, ok := ln.Addr().(*net.TCPAddr); !ok || !a.IP.IsLoopback() {
		ln.Close()
		return nil, fmt.Errorf("admin: %q bound %s, which is not loopback", addr, ln.Addr())
	}
	return &Server{ln: ln, srv: &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}}, nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve answers until Shutdown.
func (s *Server) Serve() error {
	if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("admin: %w", err)
	}
	return nil
}

// Shutdown stops accepting and waits for running calls until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// Handler is the admin API without a listener, for tests and embedding.
func Handler(src Sources) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	if src.Status != nil {
		mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, src.Status())
		})
	}
	if src.Reload != nil {
		mux.HandleFunc("POST /api/reload", func(w http.ResponseWriter, _ *http.Request) {
			if err := src.Reload(); err != nil {
				writeJSON(w, http.StatusUnprocessableEntity, errorBody{err.Error()})
				return
			}
			writeJSON(w, http.StatusOK, map[string]string{"status": "reloaded"})
		})
	}
	if src.Generation != nil {
		mux.HandleFunc("GET /api/routes", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, routesOf(src.Generation()))
		})
		upstreamRoutes(mux, src.Generation)
	}
	if src.Cache != nil {
		cacheRoutes(mux, src.Cache)
	}
	if src.Certificates != nil {
		mux.HandleFunc("GET /api/certificates", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, certificatesOf(src.Certificates(), time.Now()))
		})
	}
	return guard(jsonErrors(mux))
}

// jsonErrors answers what the mux itself would answer in text (404, 405
// with Allow, a redirect to the clean path) in JSON, as every other
// answer is.
func jsonErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" && path.Clean(r.URL.Path) == r.URL.Path {
			mux.ServeHTTP(w, r)
			return
		}
		if pattern != "" { // a path with dots or doubled slashes
			writeJSON(w, http.StatusNotFound, errorBody{"not found: " + r.URL.Path + " is not a clean path"})
			return
		}
		rec := &headerOnly{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		msg := strings.ToLower(http.StatusText(rec.code))
		if rec.code == http.StatusMethodNotAllowed {
			msg += "; use " + rec.header.Get("Allow")
		}
		writeJSON(w, rec.code, errorBody{msg})
	})
}

// headerOnly keeps the status and header of an answer, not its body.
type headerOnly struct {
	header http.Header
	code   int
}

func (h *headerOnly) Header() http.Header { return h.header }
func (h *headerOnly) WriteHeader(code int) {
	if h.code == 0 {
		h.code = code
	}
}

func (h *headerOnly) Write(b []byte) (int, error) {
	h.WriteHeader(http.StatusOK)
	return len(b), nil
}

type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// guard keeps web pages out of the admin API. The listener is on loopback
// (a peer that is not is refused all the same), but a browser on the same
// machine can still be made to send requests to it: a Host that is not a loopback name (DNS rebinding) is refused, and a
// state-changing call must come with a JSON content type or no body and no
// foreign Origin, which a cross-site form cannot forge without a CORS
// preflight that this API never answers.
func guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if !loopbackPeer(r.RemoteAddr) {
			writeJSON(w, http.StatusForbidden, errorBody{"admin API answers loopback peers only"})
			return
		}
		if !loopbackHost(r.Host) {
			writeJSON(w, http.StatusForbidden, errorBody{"admin API answers loopback host names only"})
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if o := r.Header.Get("Origin"); o != "" && !loopbackOrigin(o) {
				writeJSON(w, http.StatusForbidden, errorBody{"cross-origin call refused"})
				return
			}
			ct := r.Header.Get("Content-Type")
			if r.ContentLength != 0 && !strings.HasPrefix(ct, "application/json") {
				writeJSON(w, http.StatusUnsupportedMediaType, errorBody{"send application/json"})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loopbackPeer reports a client on this machine. An address that is not
// host:port at all (a Unix socket, when embedded) has no network peer and
// is let through to the other checks.
func loopbackPeer(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return true
	}
	ip := net.ParseIP(host)
	return ip == nil || ip.IsLoopback()
}

func loopbackOrigin(origin string) bool {
	for _, scheme := range []string{"http://", "https://"} {
		if rest, ok := strings.CutPrefix(origin, scheme); ok {
			return loopbackHost(rest)
		}
	}
	return false
}
