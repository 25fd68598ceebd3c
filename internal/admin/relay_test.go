package admin

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/router"
	"github.com/portico-proxy/portico/internal/upstream"
)

// seen is one call as a fake worker received it.
type seen struct{ method, uri, ctype, body string }

// fakeWorker stands in for a worker's admin API on loopback: it records
// every call and answers with its handler.
type fakeWorker struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []seen
}

func startWorker(t *testing.T, answer http.HandlerFunc) *fakeWorker {
	t.Helper()
	f := &fakeWorker{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.got = append(f.got, seen{r.Method, r.RequestURI, r.Header.Get("Content-Type"), string(b)})
		f.mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeWorker) addr() string { return f.srv.Listener.Addr().String() }

func (f *fakeWorker) calls() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.got...)
}

func answering(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// downAddr is a loopback address nothing listens on any more.
func downAddr(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.Listener.Addr().String()
	srv.Close()
	return addr
}

func fixed(addrs ...string) func() []string { return func() []string { return addrs } }

var discard = slog.New(slog.DiscardHandler)

// relayed decodes a relay answer, which must be JSON and not be kept.
func relayed(t *testing.T, w *httptest.ResponseRecorder) []workerAnswer {
	t.Helper()
	if ct, cc := w.Header().Get("Content-Type"), w.Header().Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
		t.Errorf("got Content-Type %q, Cache-Control %q; want application/json and no-store", ct, cc)
	}
	var a relayAnswer
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
		t.Fatalf("relay answer %q: %v", trim(w.Body.String()), err)
	}
	return a.Workers
}

// Every method, path, query, content type and body reaches every worker
// exactly as the operator sent it, and the answers come back in worker
// order.
func TestRelaySendsEveryCallToEveryWorker(t *testing.T) {
	for _, tt := range []struct {
		name                     string
		method, uri, ctype, body string
	}{
		{"GET with a query", "GET", "/api/status?verbose=1", "", ""},
		{"POST with a JSON body", "POST", "/api/cache/purge", "application/json", `{"tag": "a"}`},
		{"POST with the body in the query", "POST", "/api/upstreams/app/drain?backend=http://127.0.0.1:9001", "", ""},
		{"encoded slash kept", "POST", "/api/upstreams/app%2Fx/drain", "application/json; charset=utf-8", `{"backend": "x"}`},
		{"unclean path left to the worker", "POST", "/api/upstreams/app/../../reload", "", ""},
		{"any method", "DELETE", "/api/nope", "application/json", `{}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var addrs []string
			var workers []*fakeWorker
			for i := range 3 {
				f := startWorker(t, answering(200, fmt.Sprintf(`{"n": %d}`, i)))
				workers, addrs = append(workers, f), append(addrs, f.addr())
			}
			w := call(RelayHandler(fixed(addrs...), discard), tt.method, tt.uri, tt.ctype, tt.body)
			if w.Code != 200 {
				t.Errorf("got status %d, want 200: %s", w.Code, trim(w.Body.String()))
			}
			answers := relayed(t, w)
			if len(answers) != 3 {
				t.Fatalf("got %d answers, want 3: %s", len(answers), w.Body)
			}
			want := seen{tt.method, tt.uri, tt.ctype, tt.body}
			for i, f := range workers {
				if got := f.calls(); len(got) != 1 || got[0] != want {
					t.Errorf("worker %d received %+v, want one %+v", i, got, want)
				}
				var body struct{ N int }
				a := answers[i]
				if err := json.Unmarshal(a.Body, &body); err != nil || a.Worker != i || a.Status != 200 || body.N != i {
					t.Errorf("answer %d: got %+v (%s), want worker %d, 200, n=%d", i, a, a.Body, i, i)
				}
			}
		})
	}
}

// The relay's status is 200 only when every worker said 2xx; otherwise
// the first worker's failure (502 for one not reached), and every
// worker's entry is there all the same.
func TestRelayStatusIsTheFirstFailure(t *testing.T) {
	for _, tt := range []struct {
		name    string
		workers []string // a status to answer, "down", "foreign" or "" (not running)
		want    int
	}{
		{"all 200", []string{"200", "200"}, 200},
		{"200 and 201", []string{"200", "201"}, 200},
		{"second down", []string{"200", "down", "200"}, 502},
		{"first 422", []string{"422", "200"}, 422},
		{"404 before 500", []string{"200", "404", "500"}, 404},
		{"down before 422", []string{"down", "422"}, 502},
		{"not a loopback address", []string{"200", "foreign"}, 502},
		{"not running", []string{"200", "", "200"}, 502},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var addrs []string
			for _, kind := range tt.workers {
				switch kind {
				case "down":
					addrs = append(addrs, downAddr(t))
				case "foreign": // never dialled: nothing answers there
					addrs = append(addrs, "192.0.2.1:9901")
				case "":
					addrs = append(addrs, "")
				default:
					var status int
					fmt.Sscan(kind, &status)
					addrs = append(addrs, startWorker(t, answering(status, `{"status": "`+kind+`"}`)).addr())
				}
			}
			w := call(RelayHandler(fixed(addrs...), discard), "POST", "/api/reload", "", "")
			if w.Code != tt.want {
				t.Errorf("got status %d, want %d: %s", w.Code, tt.want, trim(w.Body.String()))
			}
			answers := relayed(t, w)
			if len(answers) != len(tt.workers) {
				t.Fatalf("got %d answers, want %d: %s", len(answers), len(tt.workers), w.Body)
			}
			for i, kind := range tt.workers {
				a := answers[i]
				if kind == "down" || kind == "foreign" || kind == "" {
					if a.Status != 502 || a.Error == "" || a.Body != nil {
						t.Errorf("worker %d (%s): got %+v, want 502 with an error and no body", i, kind, a)
					}
					continue
				}
				var body struct{ Status string }
				if err := json.Unmarshal(a.Body, &body); err != nil || fmt.Sprint(a.Status) != kind || body.Status != kind || a.Error != "" {
					t.Errorf("worker %d: got %+v (%s), want %s with its body", i, a, a.Body, kind)
				}
			}
		})
	}
}

// A 405 from the workers is the relay's 405, with their Allow, as the
// admin API answers it.
func TestRelayKeepsAllowOnA405(t *testing.T) {
	var addrs []string
	for range 2 {
		srv := httptest.NewServer(Handler(Sources{Reload: func() error { return nil }}))
		t.Cleanup(srv.Close)
		addrs = append(addrs, srv.Listener.Addr().String())
	}
	w := call(RelayHandler(fixed(addrs...), discard), "PUT", "/api/reload", "", "")
	if answers := relayed(t, w); w.Code != 405 || w.Header().Get("Allow") != "POST" || len(answers) != 2 {
		t.Errorf("got %d with Allow %q: %s; want 405 allowing POST", w.Code, w.Header().Get("Allow"), w.Body)
	}
}

// A worker that does not answer in time is a 502 of its own; the others
// are not held up past the timeout.
func TestRelayGivesUpOnASlowWorker(t *testing.T) {
	fast := startWorker(t, answering(200, `{}`))
	slow := startWorker(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	rl := newRelay(fixed(fast.addr(), slow.addr()), discard)
	rl.timeout = 200 * time.Millisecond
	start := time.Now()
	w := call(guard(rl), "GET", "/api/status", "", "")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("answered after %v, want about %v", d, rl.timeout)
	}
	answers := relayed(t, w)
	if w.Code != 502 || len(answers) != 2 || answers[0].Status != 200 ||
		answers[1].Status != 502 || !strings.Contains(answers[1].Error, "no answer within") {
		t.Errorf("got %d %s, want 502 with worker 1 timed out", w.Code, w.Body)
	}
}

// An answer that is not JSON is relayed as a JSON string, byte for byte.
func TestRelayQuotesAnAnswerThatIsNotJSON(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status int
		body   string
	}{
		{"plain text", 200, "plain text\n"},
		{"half an object", 200, `{"a": `},
		{"HTML error", 500, "<html>oops</html>"},
		{"empty", 204, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := startWorker(t, answering(tt.status, tt.body))
			w := call(RelayHandler(fixed(f.addr()), discard), "GET", "/api/status", "", "")
			answers := relayed(t, w)
			var got string
			if len(answers) != 1 || json.Unmarshal(answers[0].Body, &got) != nil || got != tt.body || answers[0].Status != tt.status {
				t.Errorf("got %s, want status %d and body the string %q", w.Body, tt.status, tt.body)
			}
		})
	}
}

// The relay's /healthz is its own: ok while every worker's is, else a 503
// line naming each worker that is not.
func TestRelayHealthz(t *testing.T) {
	up := func() string { return startWorker(t, answering(200, "ok\n")).addr() }
	sick := func() string { return startWorker(t, answering(500, "no\n")).addr() }
	for _, tt := range []struct {
		name    string
		workers func() []string
		want    int
		body    []string // in the answer
		notBody []string // not in it
	}{
		{"all up", func() []string { return []string{up(), up()} }, 200, []string{"ok\n"}, nil},
		{"one down", func() []string { return []string{up(), downAddr(t), up()} }, 503,
			[]string{"not ok: worker 1 (127.0.0.1:"}, []string{"worker 0", "worker 2"}},
		{"one answers 500", func() []string { return []string{sick(), up()} }, 503,
			[]string{"worker 0 (127.0.0.1:", "answered 500"}, []string{"worker 1"}},
		{"one not running", func() []string { return []string{up(), ""} }, 503,
			[]string{"not ok: worker 1: worker not running\n"}, []string{"worker 0"}},
		{"two down", func() []string { return []string{downAddr(t), downAddr(t)} }, 503,
			[]string{"worker 0 (", "; worker 1 ("}, nil},
		{"no workers", func() []string { return nil }, 503, []string{"not ok: no live workers\n"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := call(RelayHandler(fixed(tt.workers()...), discard), "GET", "/healthz", "", "")
			body := w.Body.String()
			if w.Code != tt.want || w.Header().Get("Content-Type") != "text/plain; charset=utf-8" ||
				strings.Count(body, "\n") != 1 || !strings.HasSuffix(body, "\n") {
				t.Errorf("got %d %q (%s), want %d and one plain-text line", w.Code, body, w.Header().Get("Content-Type"), tt.want)
			}
			for _, s := range tt.body {
				if !strings.Contains(body, s) {
					t.Errorf("got %q, want it to contain %q", body, s)
				}
			}
			for _, s := range tt.notBody {
				if strings.Contains(body, s) {
					t.Errorf("got %q, want no %q in it", body, s)
				}
			}
		})
	}
}

// The relay refuses what the admin API refuses, with the same status, and
// a refused call reaches no worker.
func TestRelayGuardRefusesWhatHandlerRefuses(t *testing.T) {
	f := startWorker(t, answering(200, `{"status": "reloaded"}`))
	relay := RelayHandler(fixed(f.addr()), discard)
	direct := Handler(Sources{Reload: func() error { return nil }})
	for _, tt := range []struct {
		name, method, host, peer, ctype, body, origin string
		want                                          int
	}{
		{"foreign Origin", "POST", "127.0.0.1:9901", "127.0.0.1:40000", "", "", "https://evil.example", 403},
		{"look-alike Origin", "POST", "127.0.0.1:9901", "127.0.0.1:40000", "", "", "http://127.0.0.1.evil.test", 403},
		{"rebound Host", "POST", "evil.example:9901", "127.0.0.1:40000", "", "", "", 403},
		{"non-loopback peer", "GET", "127.0.0.1:9901", "192.0.2.7:40000", "", "", "", 403},
		{"form post", "POST", "127.0.0.1:9901", "127.0.0.1:40000", "application/x-www-form-urlencoded", "a=b", "", 415},
		{"text/plain post", "POST", "localhost:9901", "127.0.0.1:40000", "text/plain", "x", "", 415},
	} {
		c := browserCall{tt.method, tt.host, tt.peer, tt.ctype, tt.body, tt.origin}
		got, handler := c.send(relay), c.send(direct)
		if got.Code != tt.want || handler.Code != tt.want {
			t.Errorf("%s: got %d from the relay, %d from Handler, want %d", tt.name, got.Code, handler.Code, tt.want)
		}
	}
	if got := f.calls(); len(got) != 0 {
		t.Errorf("refused calls reached the worker: %+v", got)
	}
	// What Handler lets through, the relay sends on.
	if w := call(relay, "POST", "/api/reload", "application/json", "{}", "Origin", "http://localhost:9901"); w.Code != 200 || len(f.calls()) != 1 {
		t.Errorf("local page: got %d and %d worker calls, want 200 and 1", w.Code, len(f.calls()))
	}
}

// A body is read once by the relay under the admin API's limits: one too
// big, or not all received, is refused before any worker sees it.
func TestRelayRefusesABadBodyBeforeAnyWorker(t *testing.T) {
	f := startWorker(t, answering(200, `{}`))
	h := RelayHandler(fixed(f.addr()), discard)
	huge := `{"tag": "` + strings.Repeat("a", maxBody) + `"}`
	if w := call(h, "POST", "/api/cache/purge", "application/json", huge); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("huge body: got %d %s, want 413", w.Code, trim(w.Body.String()))
	}
	if w := call(h, "POST", "/api/cache/purge", "application/json", huge[:maxBody]); w.Code != 200 {
		t.Errorf("body of exactly maxBody: got %d %s, want 200", w.Code, trim(w.Body.String()))
	}
	if got := f.calls(); len(got) != 1 || len(got[0].body) != maxBody {
		t.Errorf("worker got %d calls, want only the one within the limit", len(got))
	}
}

// Over a real socket: a body that stalls is a 408 within the body read
// timeout, and no worker is asked.
func TestRelayCutsOffASlowBody(t *testing.T) {
	defer func(d time.Duration) { bodyReadTimeout = d }(bodyReadTimeout)
	bodyReadTimeout = 200 * time.Millisecond
	f := startWorker(t, answering(200, `{}`))
	base := serveRelay(t, fixed(f.addr()))
	host := strings.TrimPrefix(base, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "POST /api/cache/purge HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"tag\": ", host)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	if res.StatusCode != http.StatusRequestTimeout {
		t.Errorf("got %d, want 408", res.StatusCode)
	}
	if got := f.calls(); len(got) != 0 {
		t.Errorf("worker got %+v from half a body", got)
	}
}

// No worker to ask is a 503, not an empty list that reads as success.
func TestRelayWithoutWorkersIsUnavailable(t *testing.T) {
	w := call(RelayHandler(fixed(), discard), "POST", "/api/reload", "", "")
	if w.Code != http.StatusServiceUnavailable || !json.Valid(w.Body.Bytes()) {
		t.Errorf("got %d %s, want 503 in JSON", w.Code, w.Body)
	}
}

// The workers are asked for on every call: a restarted worker is reached
// at its new address, and the old one no more.
func TestRelayFollowsARestartedWorker(t *testing.T) {
	old, next := startWorker(t, answering(200, `{}`)), startWorker(t, answering(200, `{}`))
	var addrs atomic.Pointer[[]string]
	addrs.Store(&[]string{old.addr()})
	h := RelayHandler(func() []string { return *addrs.Load() }, discard)
	call(h, "POST", "/api/reload", "", "")
	addrs.Store(&[]string{next.addr()})
	call(h, "POST", "/api/reload", "", "")
	if o, n := len(old.calls()), len(next.calls()); o != 1 || n != 1 {
		t.Errorf("got %d calls to the old worker and %d to the new, want 1 and 1", o, n)
	}
}

// NewRelay binds under New's rules.
func TestNewRelayRefusesANonLoopbackAddress(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:0"} {
		if s, err := NewRelay(addr, fixed(), discard); err == nil {
			t.Errorf("NewRelay(%q): bound %s, want an error", addr, s.Addr())
			s.ln.Close()
		}
	}
	if _, err := NewRelay("127.0.0.1:0", nil, discard); err == nil {
		t.Error("NewRelay without workers: got no error")
	}
}

// End to end: two real admin APIs, one per worker, behind a bound relay.
// A reload through the relay reloads both; a drain drains the backend in
// both; a failed reload in one is the relay's 422.
func TestRelayReachesRealWorkers(t *testing.T) {
	var reloads [2]atomic.Int32
	var fail atomic.Bool
	var gens [2]*router.Generation
	var addrs []string
	for i := range 2 {
		gens[i] = poolGeneration(t, upstream.NewDrainSet())
		reload := func() error {
			reloads[i].Add(1)
			if i == 1 && fail.Load() {
				return errors.New("portico.yaml:3:5: bad")
			}
			return nil
		}
		srv := httptest.NewServer(Handler(Sources{Reload: reload,
			Generation: func() *router.Generation { return gens[i] },
			Status:     func() Status { return Status{Version: "9.9", Reloads: int(reloads[i].Load())} }}))
		t.Cleanup(srv.Close)
		addrs = append(addrs, srv.Listener.Addr().String())
	}
	base := serveRelay(t, fixed(addrs...))
	post := func(path, body string) (int, []workerAnswer) {
		t.Helper()
		res, err := client.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var a relayAnswer
		if err := json.NewDecoder(res.Body).Decode(&a); err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, a.Workers
	}

	code, answers := post("/api/reload", "")
	if code != 200 || len(answers) != 2 || reloads[0].Load() != 1 || reloads[1].Load() != 1 {
		t.Fatalf("reload: got %d %+v and reloads %d, %d; want 200 and one reload each", code, answers, reloads[0].Load(), reloads[1].Load())
	}
	for i, a := range answers {
		var body map[string]string
		if json.Unmarshal(a.Body, &body); a.Status != 200 || body["status"] != "reloaded" {
			t.Errorf("reload answer %d: got %+v (%s)", i, a, a.Body)
		}
	}

	if code, answers := post("/api/upstreams/app/drain", `{"backend": "`+backendA+`"}`); code != 200 || len(answers) != 2 {
		t.Errorf("drain: got %d %+v, want 200 from both", code, answers)
	}
	for i, g := range gens {
		if d := draining(t, g); !d[backendA] || d[backendB] {
			t.Errorf("worker %d after the drain: %v, want only %s draining", i, d, backendA)
		}
	}

	fail.Store(true)
	code, answers = post("/api/reload", "")
	if code != http.StatusUnprocessableEntity || len(answers) != 2 || answers[0].Status != 200 ||
		answers[1].Status != 422 || !strings.Contains(string(answers[1].Body), "portico.yaml:3:5") {
		t.Errorf("failed reload: got %d %+v, want 422 with worker 1's error", code, answers)
	}
	if reloads[0].Load() != 2 || reloads[1].Load() != 2 {
		t.Errorf("got reloads %d, %d, want 2 each", reloads[0].Load(), reloads[1].Load())
	}
}

// serveRelay runs a relay on a loopback port and returns its base URL.
func serveRelay(t *testing.T, workers func() []string) string {
	t.Helper()
	s, err := NewRelay("127.0.0.1:0", workers, discard)
	return runServer(t, s, err)
}
