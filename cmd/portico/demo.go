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
	printDemo(stdout, d.url)
	return d.inst.serveUntilSignal(sigs)
}

type demo struct {
	inst     *instance
	backends []*http.Server
	url      string
}

func (d *demo) close() {
	for _, b := range d.backends {
		b.Close()
	}
}

func startDemo(addr string, accessLog io.Writer) (*demo, error) {
	d := &demo{}
	apiAddr, err := d.serveBackend(demoAPI())
	if err != nil {
		return nil, err
	}
	siteAddr, err := d.serveBackend(demoSite())
	if err != nil {
		d.close()
		return nil, err
	}
	if ln, err := net.Listen("tcp", addr); err != nil {
		if !errors.Is(err, syscall.EADDRINUSE) {
			d.close()
			return nil, err
		}
		addr = "127.0.0.1:0" // the usual port is taken; any free one will do
	} else {
		ln.Close()
	}
	cfg, err := config.Parse("demo", []byte(demoConfig(addr, apiAddr, siteAddr)))
	if err != nil {
		d.close()
		return nil, err
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	inst, err := start(cfg, log, func() (*config.Config, error) { return cfg, nil }, accessLog)
	if err != nil {
		d.close()
		return nil, err
	}
	d.inst = inst
	d.url = "http://" + inst.servers[0].Addr().String()
	return d, nil
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
func demoConfig(addr, api, site string) string {
	return fmt.Sprintf(`listeners:
  - addr: %q
upstreams:
  api:
    backends: ["http://%s"]
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
    proxy: api
  - match: /
    proxy: site
access_log: stdout
`, addr, api, site)
}

func printDemo(w io.Writer, url string) {
	fmt.Fprintf(w, `Portico demo is running at %[1]s

Try:
  curl %[1]s/                     static site (backend 2)
  curl %[1]s/api/users            JSON API (backend 1), /api stripped
  curl %[1]s/api/users/2          one user
  curl %[1]s/api/echo             what the backend received: X-Forwarded-*, X-Request-Id
  curl -N %[1]s/api/events        server-sent events, streamed as they happen
  curl -i %[1]s/old-home          a redirect
  curl %[1]s/healthz              a fixed response

Access log lines follow below. Ctrl-C stops the demo.

`, url)
}

var demoUsers = []map[string]any{
	{"id": 1, "name": "Ada", "role": "admin"},
	{"id": 2, "name": "Grace", "role": "developer"},
	{"id": 3, "name": "Linus", "role": "maintainer"},
}

// demoAPI is the JSON backend. It announces itself with X-Powered-By so
// the demo can show Portico hiding it.
func demoAPI() http.Handler {
	mux := http.NewServeMux()
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Powered-By", "demo-api/1.0")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /users", func(w http.ResponseWriter, r *http.Request) {
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
		writeJSON(w, 200, map[string]any{"method": r.Method, "uri": r.RequestURI, "host": r.Host, "headers": h})
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
