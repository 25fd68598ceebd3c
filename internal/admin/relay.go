package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

const (
	// relayTimeout bounds one worker's answer to a relayed call. A
	// reload builds a whole generation, so it gets the same time as a
	// body does to arrive.
	relayTimeout = 10 * time.Second
	// healthTimeout is shorter: a monitor polling /healthz gives up
	// after a few seconds, and a worker that is this slow is not healthy.
	healthTimeout = 2 * time.Second
	// maxWorkerAnswer bounds what is kept of one worker's answer; the
	// largest (every route, every certificate) is far below it.
	maxWorkerAnswer = 16 << 20
)

// NewRelay is the admin listener of a supervisor in worker-process mode:
// bound on addr under the same loopback rules as New, behind the same
// guard, it answers /healthz for all workers and sends every other call
// to each worker's own admin API. workers returns the admin addresses
// (host:port, loopback) of the workers in worker order, "" for one that
// is not running (reported as not reached, under its own number, rather
// than left out: a drain that missed it must not look complete). It is
// asked again for every call, so a restarted worker is reached at its
// new address.
func NewRelay(addr string, workers func() []string, log *slog.Logger) (*Server, error) {
	if workers == nil {
		return nil, errors.New("admin: the relay needs the workers' addresses")
	}
	rl := newRelay(workers, log)
	s, err := listen(addr, guard(rl), log)
	if err != nil {
		return nil, err
	}
	s.srv.RegisterOnShutdown(rl.client.CloseIdleConnections)
	return s, nil
}

// RelayHandler is the relay without a listener, for tests and embedding.
func RelayHandler(workers func() []string, log *slog.Logger) http.Handler {
	return guard(newRelay(workers, log))
}

type relay struct {
	workers       func() []string
	client        *http.Client
	log           *slog.Logger
	timeout       time.Duration
	healthTimeout time.Duration
}

func newRelay(workers func() []string, log *slog.Logger) *relay {
	return &relay{
		workers: workers,
		client: &http.Client{
			// Workers are on loopback: an HTTP_PROXY in the supervisor's
			// environment must not see (or answer) admin calls.
			Transport: &http.Transport{
				Proxy:               nil,
				DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
				MaxIdleConns:        64,
				MaxIdleConnsPerHost: 4,
				IdleConnTimeout:     30 * time.Second,
				DisableCompression:  true,
			},
			// A worker's answer is relayed as it is, never followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		log:           log,
		timeout:       relayTimeout,
		healthTimeout: healthTimeout,
	}
}

// workerAnswer is one worker's part of a relayed answer. Body is the
// worker's JSON, or its answer as a JSON string when that is not JSON;
// a worker that could not be reached has Status 502, an Error and no Body.
type workerAnswer struct {
	Worker int             `json:"worker"`
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body,omitempty"`
	Error  string          `json:"error,omitempty"`
}

type relayAnswer struct {
	Workers []workerAnswer `json:"workers"`
}

// outcome is what came back from one worker.
type outcome struct {
	status int
	allow  string // a 405 must say what is allowed
	body   []byte
	err    error
}

// relayCall is one request as it is sent to every worker.
type relayCall struct {
	method, ctype string
	target        url.URL // path and query only
	body          []byte
}

func (rl *relay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		rl.health(w, r)
		return
	}
	// Read once, before any worker is asked: a body cut off or too big is
	// refused here, not acted on by some workers and refused by others.
	body, err := io.ReadAll(limitBody(w, r))
	if err != nil {
		status, err := bodyFailure(err)
		writeJSON(w, status, errorBody{"body: " + err.Error()})
		return
	}
	addrs := rl.workers()
	if len(addrs) == 0 {
		writeJSON(w, http.StatusServiceUnavailable, errorBody{"no live workers"})
		return
	}
	c := relayCall{method: r.Method, ctype: r.Header.Get("Content-Type"), body: body,
		target: url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}}
	// Once sent, a call goes to every worker even if the operator hangs
	// up: a drain or reload that reached only some workers is worse than
	// an answer nobody reads.
	outs := rl.fanOut(context.WithoutCancel(r.Context()), addrs, c, rl.timeout)
	answers := make([]workerAnswer, len(outs))
	status := http.StatusOK
	for i, o := range outs {
		a := workerAnswer{Worker: i, Status: o.status}
		switch {
		case o.err != nil:
			a.Status, a.Error = http.StatusBadGateway, o.err.Error()
			rl.log.Warn("admin relay: worker not reached", "worker", i, "addr", addrs[i],
				"method", c.method, "path", c.target.Path, "err", o.err)
		case json.Valid(o.body):
			a.Body = o.body
		default:
			a.Body, _ = json.Marshal(string(o.body))
		}
		if status == http.StatusOK && (a.Status < 200 || a.Status > 299) {
			status = a.Status
			if o.allow != "" {
				w.Header().Set("Allow", o.allow)
			}
		}
		answers[i] = a
	}
	writeJSON(w, status, relayAnswer{answers})
}

// health is ok while every worker's own /healthz is; otherwise a 503
// naming each worker that is not, so the line alone tells which one.
func (rl *relay) health(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	addrs := rl.workers()
	if len(addrs) == 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("not ok: no live workers\n"))
		return
	}
	c := relayCall{method: http.MethodGet, target: url.URL{Path: "/healthz"}}
	var down []string
	for i, o := range rl.fanOut(r.Context(), addrs, c, rl.healthTimeout) {
		name := fmt.Sprintf("worker %d", i)
		if addrs[i] != "" {
			name += " (" + addrs[i] + ")"
		}
		switch {
		case o.err != nil:
			down = append(down, fmt.Sprintf("%s: %v", name, o.err))
		case o.status != http.StatusOK:
			down = append(down, fmt.Sprintf("%s: answered %d", name, o.status))
		}
	}
	if len(down) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ok: %s\n", strings.Join(down, "; "))
		return
	}
	w.Write([]byte("ok\n"))
}

// fanOut sends c to every worker at once and returns their outcomes in
// worker order.
func (rl *relay) fanOut(ctx context.Context, addrs []string, c relayCall, timeout time.Duration) []outcome {
	outs := make([]outcome, len(addrs))
	var wg sync.WaitGroup
	for i, addr := range addrs {
		wg.Go(func() { outs[i] = rl.send(ctx, addr, c, timeout) })
	}
	wg.Wait()
	return outs
}

func (rl *relay) send(ctx context.Context, addr string, c relayCall, timeout time.Duration) outcome {
	if addr == "" {
		return outcome{err: errors.New("worker not running")}
	}
	// The relay is a way into each worker's admin API, never a proxy to
	// anywhere else, whatever it is handed.
	if !loopbackHost(addr) {
		return outcome{err: fmt.Errorf("%q is not a loopback address", addr)}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	target := c.target
	target.Scheme, target.Host = "http", addr
	req, err := http.NewRequestWithContext(ctx, c.method, target.String(), bytes.NewReader(c.body))
	if err != nil {
		return outcome{err: err}
	}
	if c.ctype != "" {
		req.Header.Set("Content-Type", c.ctype)
	}
	res, err := rl.client.Do(req)
	if err == nil {
		defer res.Body.Close()
		var body []byte
		body, err = io.ReadAll(io.LimitReader(res.Body, maxWorkerAnswer+1))
		if err == nil && len(body) > maxWorkerAnswer {
			err = fmt.Errorf("answer over %d bytes", maxWorkerAnswer)
		}
		if err == nil {
			return outcome{status: res.StatusCode, allow: res.Header.Get("Allow"), body: body}
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return outcome{err: fmt.Errorf("no answer within %v", timeout)}
	}
	// The URL is known from the worker number; keep the cause.
	if ue := new(url.Error); errors.As(err, &ue) {
		err = ue.Err
	}
	return outcome{err: err}
}
