package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/portico-proxy/portico/internal/config"
)

// cmdDemo starts two small backends in this process (a JSON API and a
// static site) and a Portico in front of them, then prints what to try.
func cmdDemo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("addr", "127.0.0.1:8080", "address for Portico (a free port is used if it is taken)")
	if err := fs.Parse(args); err != nil {
		return usageError{"demo: " + err.Error()}
	}
	sigs := catchSignals()
	defer signal.Stop(sigs)
	d, err := startDemo(*addr, stdout)
	if err != nil {
		return err
	}
	defer d.close()
	printDemo(stdout, d.url, d.adminURL)
	return d.inst.serveUntilSignal(sigs, nil)
}

type demo struct {
	inst     *instance
	backends []*http.Server
	url      string
	adminURL string
}

func (d *demo) close() {
	for _, b := range d.backends {
		b.Close()
	}
}

func startDemo(addr string, accessLog io.Writer) (*demo, error) {
	d := &demo{}
	api1, err := d.serveBackend(demoAPI("api-1"))
	if err != nil {
		return nil, err
	}
	api2, err := d.serveBackend(demoAPI("api-2"))
	if err != nil {
		d.close()
		return nil, err
	}
	siteAddr, err := d.serveBackend(demoSite())
	if err != nil {
		d.close()
		return nil, err
	}
	if addr, err = freeOr(addr); err != nil {
		d.close()
		return nil, err
	}
	adminAddr, err := freeOr(demoAdminAddr)
	if err != nil {
		d.close()
		return nil, err
	}
	cfg, err := config.Parse("demo", []byte(demoConfig(addr, adminAddr, []string{api1, api2}, siteAddr)))
	if err != nil {
		d.close()
		return nil, err
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	inst, err := start(cfg, log, func() (*config.Config, error) { return cfg, nil }, accessLog, nil)
	if err != nil {
		d.close()
		return nil, err
	}
	d.inst = inst
	d.url = "http://" + inst.servers[0].Addr().String()
	d.adminURL = "http://" + inst.admin.Addr().String()
	return d, nil
}

// demoAdminAddr is where the demo's admin API listens when it is free.
const demoAdminAddr = "127.0.0.1:9901"

// freeOr returns addr if it can be bound now, or any free loopback port
// if it is taken, so a second demo or a busy port does not stop the demo.
func freeOr(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if !errors.Is(err, syscall.EADDRINUSE) {
			return "", err
		}
		return "127.0.0.1:0", nil
	}
	ln.Close()
	return addr, nil
}

func (d *demo) serveBackend(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	d.backends = append(d.backends, srv)
	go srv.Serve(ln)
	return ln.Addr().String(), nil
}

// demoConfig is an ordinary Portico config; `portico demo` prints nothing
// that a config file could not do.
func demoConfig(addr, admin string, api []string, site string) string {
	return fmt.Sprintf(`admin: {addr: %q}
listeners:
  - addr: %q
upstreams:
  api:
    backends: ["http://%s", "http://%s"]
    health: {path: /users, interval: 2s}
  site:
    backends: ["http://%s"]
routes:
  - match: {path: /healthz, exact: true}
    respond: "ok\n"
  - match: {path: /old-home, exact: true}
    redirect: {to: "/", status: 301}
  - match: /api/
    strip_prefix: /api
    headers: {response: {remove: [X-Powered-By]}}
    cache: true
    compress: {min_size: 64B}
    proxy: api
  - match: /
    proxy: site
access_log: stdout
`, admin, addr, api[0], api[1], site)
}

func printDemo(w io.Writer, url, adminURL string) {
	fmt.Fprintf(w, `Portico demo is running at %[1]s

Try:
  curl %[1]s/                     a page from the site backend
  curl -i %[1]s/api/users         JSON from a pool of two API backends, /api stripped;
                                   again within 10 s: Cache-Status says it was a hit
  curl %[1]s/api/users/2          one user
  curl %[1]s/api/echo             what the backend received: X-Forwarded-*, X-Request-Id,
                                   and which of the two backends served it
  curl -N %[1]s/api/events        server-sent events, streamed as they happen
  curl -si --compressed %[1]s/api/users | grep -i content-encoding
                                   compressed on the fly (zstd, br or gzip)
  curl -i %[1]s/old-home          a redirect
  curl %[1]s/healthz              a fixed response
  curl %[2]s/api/upstreams        the admin API: live state of the pools

Access log lines follow below. Ctrl-C stops the demo.

`, url, adminURL)
}

var demoUsers = []map[string]any{
	{"id": 1, "name": "Ada", "role": "admin"},
	{"id": 2, "name": "Grace", "role": "developer"},
	{"id": 3, "name": "Linus", "role": "maintainer"},
}

// demoAPI is one JSON backend of the api pool. It announces itself with
// X-Powered-By so the demo can show Portico hiding it, and lets the user
// list be cached for 10 seconds.
func demoAPI(name string) http.Handler {
	mux := http.NewServeMux()
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Powered-By", "demo-api/1.0")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /users", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=10")
		writeJSON(w, 200, demoUsers)
	})
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		for _, u := range demoUsers {
			if u["id"] == id {
				writeJSON(w, 200, u)
				return
			}
		}
		writeJSON(w, 404, map[string]string{"error": "no such user"})
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		h := map[string]string{}
		for k := range r.Header {
			h[k] = r.Header.Get(k)
		}
		writeJSON(w, 200, map[string]any{"served_by": name, "method": r.Method, "uri": r.RequestURI, "host": r.Host, "headers": h})
	})
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 1; i <= 5; i++ {
			fmt.Fprintf(w, "data: {\"tick\": %d, \"at\": %q}\n\n", i, time.Now().Format(time.TimeOnly))
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	})
	return mux
}

const demoPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Portico demo</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}
code{background:#f3f3f3;padding:.1rem .3rem;border-radius:3px}</style></head>
<body><h1>Portico demo</h1>
<p>This page comes from the <em>site</em> backend, through Portico.</p>
<ul>
<li><a href="/api/users">/api/users</a>: the JSON API backend (Portico strips <code>/api</code>)</li>
<li><a href="/api/echo">/api/echo</a>: the headers the backend received</li>
<li><a href="/api/events">/api/events</a>: server-sent events, streamed</li>
<li><a href="/old-home">/old-home</a>: a redirect back here</li>
<li><a href="/healthz">/healthz</a>: a fixed response</li>
</ul></body></html>
`

func demoSite() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" && r.URL.Path != "/index.html" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(demoPage)))
		if r.Method != http.MethodHead {
			io.WriteString(w, demoPage)
		}
	})
}
