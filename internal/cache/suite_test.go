package cache_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/config"
)

// This file replays the request/response sequences of the public HTTP cache
// conformance suite (github.com/http-tests/cache-tests) through the real
// cache in front of a real origin. A case is named after the suite's test
// id and keeps its kind: "required" cases must pass, "optimal" ones are
// what a good shared cache does, "check" ones record a choice where the
// RFC leaves room. The runner mirrors the suite's own server and client:
// the origin answers request N with step N's script (304 when the step
// expects validation and the stored validator came back), and the client
// checks what the step expects. pause_after moves the injected clock by the
// suite's pause (3 s) instead of sleeping.

// suitePause is how long the suite waits after a step marked pause_after.
const suitePause = 3 * time.Second

// at marks a header value as an HTTP date n seconds from the origin's
// now, as the suite's integer date values are.
func at(n int) string { return "\x00date" + strconv.Itoa(n) }

// kv is one header line, in order.
type kv = [2]string

// Expected types of a step, as the suite names them.
const (
	cached        = "cached"
	notCached     = "not_cached"
	etagValidated = "etag_validated"
	lmValidated   = "lm_validated"
)

type step struct {
	method     string // request_method; GET when empty
	reqHdr     []kv
	reqBody    string
	magicIMS   bool   // If-Modified-Since dates count from the previous response's time
	rfc850IMS  bool   // ... and are written in the obsolete RFC 850 form
	filename   string // a path under the test's URL
	query      string // query_arg
	status     int    // response_status; 200 when 0
	respHdr    []kv
	notSaved   map[string]bool // response header names the suite does not compare (third element false)
	body       *string         // response_body; the test's token when nil
	disconnect bool            // the origin drops the connection instead of answering
	hints      []kv            // a 103 Early Hints the origin sends first
	magicLoc   bool            // Location and Content-Location are made absolute paths under the test URL
	pause      bool

	expect         string
	expectStatus   int // 0: the response status (or 200)
	expectHdr      []kv
	expectPresent  []string
	expectMissing  []string
	expectReqHdr   []kv
	expectReqHas   []string
	expectReqNot   []string
	expectMethod   string
	expectHints    []kv // the 103 the client must get
	expectBody     *string
	noBodyCheck    bool
	ageGreaterThan int // expected_response_headers [Age, '>', n]; -1 when unset
}

type suiteCase struct {
	id    string
	kind  string // required | optimal | check
	steps []step
	// route is the route's cache options; nil is plain "cache: true".
	route *config.RouteCache
}

func str(s string) *string { return &s }

// serverRecord is what the origin saw of one request, like the suite's
// server state.
type serverRecord struct {
	reqNum   int
	method   string
	header   http.Header
	respHdrs []kv // what the origin sent, for the pass-through check
}

type suiteRun struct {
	t     *testing.T
	h     *harness
	c     suiteCase
	token string
	base  string

	mu      sync.Mutex
	state   []serverRecord
	lastNow time.Time // the origin's clock at its last answer
}

// runSuite runs each case on its own cache and origin.
func runSuite(t *testing.T, cases []suiteCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			runSuiteCase(t, c)
		})
	}
}

func runSuiteCase(t *testing.T, c suiteCase) {
	t.Logf("suite case %s, kind %s", c.id, c.kind)
	h := newHarness(t, c.route)
	s := &suiteRun{t: t, h: h, c: c, token: "body-of-" + c.id, base: "/test/" + c.id}
	h.origin.set(s.originHandler)
	for i := range c.steps {
		s.doStep(i)
		// A stale-while-revalidate refresh runs in the background; the
		// suite's pause gives it time, here it is waited for.
		h.cache.WaitBackground()
		if c.steps[i].pause {
			h.clock.Advance(suitePause)
		}
	}
}

// fixDate turns an at(n) marker into an HTTP date relative to now.
func fixDate(v string, now time.Time) string {
	n, ok := strings.CutPrefix(v, "\x00date")
	if !ok {
		return v
	}
	d, _ := strconv.Atoi(n)
	return now.Add(time.Duration(d) * time.Second).UTC().Format(http.TimeFormat)
}

// originHandler is the suite's server: it answers with the script of the
// step the request belongs to (its Req-Num header).
func (s *suiteRun) originHandler(w http.ResponseWriter, r *http.Request) {
	now := s.h.clock.Now()
	reqNum, _ := strconv.Atoi(r.Header.Get("Req-Num"))
	if reqNum < 1 || reqNum > len(s.c.steps) {
		http.Error(w, "no such step", http.StatusConflict)
		return
	}
	cfg := s.c.steps[reqNum-1]
	status := s.statusFor(r, reqNum)
	hdr := w.Header()
	if len(cfg.hints) > 0 {
		// Sent before any other field is set, as Node's writeEarlyHints
		// sends only the hints.
		for _, l := range cfg.hints {
			hdr.Add(l[0], l[1])
		}
		w.WriteHeader(http.StatusEarlyHints)
		for _, l := range cfg.hints {
			hdr.Del(l[0])
		}
	}
	hdr.Set("Date", now.UTC().Format(http.TimeFormat))
	s.mu.Lock()
	srvNum := len(s.state) + 1
	hdr.Set("Server-Request-Count", strconv.Itoa(srvNum))
	hdr.Set("Server-Now", strconv.FormatInt(now.Unix(), 10))
	rec := serverRecord{reqNum: reqNum, method: r.Method, header: r.Header.Clone()}
	sentDate := false
	for _, l := range cfg.respHdr {
		v := fixDate(l[1], now)
		if cfg.magicLoc && (strings.EqualFold(l[0], "Location") || strings.EqualFold(l[0], "Content-Location")) {
			if v == "" {
				v = r.URL.Path
			} else {
				v = r.URL.Path + "/" + v
			}
		}
		if strings.EqualFold(l[0], "Date") && !sentDate {
			// The suite's server replaces the Date node would send.
			hdr.Del("Date")
			sentDate = true
		}
		hdr.Add(l[0], v)
		if !cfg.notSaved[l[0]] {
			rec.respHdrs = append(rec.respHdrs, kv{l[0], v})
		}
	}
	if hdr.Get("Content-Type") == "" {
		hdr.Set("Content-Type", "text/plain")
	}
	s.state = append(s.state, rec)
	s.lastNow = now
	s.mu.Unlock()
	if cfg.disconnect {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
	}
	if status == http.StatusNotModified {
		writeRaw304(w, hdr)
		return
	}
	w.WriteHeader(status)
	if status == http.StatusNoContent || status == http.StatusNotModified || r.Method == http.MethodHead {
		return
	}
	body := s.token
	if cfg.body != nil {
		body = *cfg.body
	}
	_, _ = io.WriteString(w, body)
}

// statusFor is the status the suite's server answers request reqNum
// with: the step's, or, when the step expects validation, 304 if the
// previous step's validator came back and 999 ("304 Not Generated") if not.
func (s *suiteRun) statusFor(r *http.Request, reqNum int) int {
	cfg := s.c.steps[reqNum-1]
	if cfg.expect != etagValidated && cfg.expect != lmValidated {
		if cfg.status == 0 {
			return http.StatusOK
		}
		return cfg.status
	}
	prev := s.c.steps[reqNum-2]
	if lm := headerOf(prev.respHdr, "Last-Modified"); lm != "" && r.Header.Get("If-Modified-Since") == fixDate(lm, s.prevNow(reqNum)) {
		return http.StatusNotModified
	}
	if et := headerOf(prev.respHdr, "ETag"); et != "" && r.Header.Get("If-None-Match") == et {
		return http.StatusNotModified
	}
	return 999
}

// prevNow is the clock at the previous step's origin answer: the suite
// compares If-Modified-Since with the Last-Modified it sent then. Steps
// only move the clock by pauses, so it is now minus the pauses between.
func (s *suiteRun) prevNow(reqNum int) time.Time {
	now := s.h.clock.Now()
	if reqNum >= 2 && s.c.steps[reqNum-2].pause {
		now = now.Add(-suitePause)
	}
	return now
}

func headerOf(lines []kv, name string) string {
	for _, l := range lines {
		if strings.EqualFold(l[0], name) {
			return l[1]
		}
	}
	return ""
}

// doStep sends step i's request as the suite's client does, and checks
// what the client can see; then what the origin saw.
func (s *suiteRun) doStep(i int) {
	t := s.t
	cfg := s.c.steps[i]
	reqNum := i + 1
	method := cfg.method
	if method == "" {
		method = http.MethodGet
	}
	url := s.h.front.URL + s.base
	if cfg.filename != "" {
		url += "/" + cfg.filename
	}
	if cfg.query != "" {
		url += "?" + cfg.query
	}
	var reqBody io.Reader
	if cfg.reqBody != "" {
		reqBody = strings.NewReader(cfg.reqBody)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, reqBody)
	if err != nil {
		t.Fatal(err)
	}
	// The suite's client always sends these two, to keep fetch() from
	// using its own cache; a cache must not read them as directives.
	req.Header.Add("Pragma", "foo")
	req.Header.Add("Cache-Control", "nothing-to-see-here")
	for _, l := range cfg.reqHdr {
		v := fixDate(l[1], s.h.clock.Now())
		if cfg.magicIMS && l[0] == "If-Modified-Since" {
			s.mu.Lock()
			v = fixDate(l[1], s.lastNow)
			s.mu.Unlock()
			if cfg.rfc850IMS {
				t, _ := http.ParseTime(v)
				v = t.Format(time.RFC850)
			}
		}
		req.Header.Add(l[0], v)
	}
	req.Header.Set("Test-ID", s.c.id)
	req.Header.Set("Req-Num", strconv.Itoa(reqNum))
	var hints []http.Header
	if len(cfg.expectHints) > 0 {
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			if code == http.StatusEarlyHints {
				hints = append(hints, http.Header(h))
			}
			return nil
		}}
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	}
	before := s.serverCount()
	resp, err := s.h.client.Do(req)
	if err != nil {
		t.Fatalf("request %d: %v", reqNum, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("request %d: reading body: %v", reqNum, err)
	}
	if len(cfg.expectHints) > 0 {
		if len(hints) != 1 {
			t.Errorf("response %d: got %d 103 responses, want 1", reqNum, len(hints))
		} else {
			for _, l := range cfg.expectHints {
				if got := hints[0].Get(l[0]); got != l[1] {
					t.Errorf("response %d: 103 header %s is %q, not %q", reqNum, l[0], got, l[1])
				}
			}
		}
	}
	s.checkClient(reqNum, cfg, resp, string(body))
	s.checkServer(reqNum, cfg, resp, before)
}

func (s *suiteRun) serverCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.state)
}

// joined is a header as fetch() shows it: all lines joined with ", ".
func joined(h http.Header, name string) (string, bool) {
	v, ok := h[http.CanonicalHeaderKey(name)]
	return strings.Join(v, ", "), ok
}

func (s *suiteRun) checkClient(reqNum int, cfg step, resp *http.Response, body string) {
	t := s.t
	t.Helper()
	cs := resp.Header.Get("Cache-Status")
	resNum, numErr := strconv.Atoi(resp.Header.Get("Server-Request-Count"))
	switch cfg.expect {
	case cached:
		if !(resp.StatusCode == http.StatusNotModified && numErr != nil) && !(numErr == nil && resNum < reqNum) {
			t.Errorf("response %d does not come from cache (Cache-Status %q)", reqNum, cs)
		}
	case notCached:
		if cfg.disconnect {
			// The origin dropped the connection: the suite's server counted
			// the request, but no header of its made it; what matters is
			// that no stored response stood in for it.
			if resp.StatusCode < 500 || strings.Contains(cs, "; hit") || strings.Contains(cs, "detail=") {
				t.Errorf("response %d was answered from cache (status %d, Cache-Status %q)", reqNum, resp.StatusCode, cs)
			}
			return
		}
		if resNum != reqNum {
			t.Errorf("response %d comes from cache (server count %q, Cache-Status %q)", reqNum, resp.Header.Get("Server-Request-Count"), cs)
		}
	}
	want := http.StatusOK
	switch {
	case cfg.expectStatus != 0:
		want = cfg.expectStatus
	case cfg.status != 0:
		want = cfg.status
	case resp.StatusCode == 999:
		t.Errorf("request %d should have been conditional, but was not (Cache-Status %q)", reqNum, cs)
	}
	if cfg.expectStatus != -1 && resp.StatusCode != 999 && resp.StatusCode != want {
		t.Errorf("response %d status is %d, not %d (Cache-Status %q)", reqNum, resp.StatusCode, want, cs)
	}
	// Expected dates count from the time the origin made the response,
	// as the suite's client reads it from Server-Now.
	serverNow := s.h.clock.Now()
	if sec, err := strconv.ParseInt(resp.Header.Get("Server-Now"), 10, 64); err == nil {
		serverNow = time.Unix(sec, 0)
	}
	for _, l := range cfg.expectHdr {
		got, _ := joined(resp.Header, l[0])
		if exp := fixDate(l[1], serverNow); got != exp {
			t.Errorf("response %d header %s is %q, not %q", reqNum, l[0], got, exp)
		}
	}
	for _, name := range cfg.expectPresent {
		if _, ok := joined(resp.Header, name); !ok {
			t.Errorf("response %d %s header not present", reqNum, name)
		}
	}
	if cfg.ageGreaterThan > 0 {
		if age, _ := strconv.Atoi(resp.Header.Get("Age")); age <= cfg.ageGreaterThan {
			t.Errorf("response %d Age is %q, should be bigger than %d", reqNum, resp.Header.Get("Age"), cfg.ageGreaterThan)
		}
	}
	for _, name := range cfg.expectMissing {
		if v, ok := joined(resp.Header, name); ok {
			t.Errorf("response %d includes unexpected header %s: %q", reqNum, name, v)
		}
	}
	switch {
	case cfg.noBodyCheck:
	case cfg.expectBody != nil:
		if body != *cfg.expectBody {
			t.Errorf("response %d body is %q, not %q", reqNum, body, *cfg.expectBody)
		}
	case cfg.body != nil:
		if body != *cfg.body {
			t.Errorf("response %d body is %q, not %q", reqNum, body, *cfg.body)
		}
	case resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotModified && cfg.method != http.MethodHead:
		if body != s.token {
			t.Errorf("response %d body is %q, not %q", reqNum, body, s.token)
		}
	}
}

// checkServer compares what the origin saw for this step with what the
// step expects, and that every header the origin sent reached the client
// unchanged (Date aside), as the suite's checkServerRequests does.
func (s *suiteRun) checkServer(reqNum int, cfg step, resp *http.Response, before int) {
	t := s.t
	t.Helper()
	if cfg.expect == cached {
		return
	}
	s.mu.Lock()
	var rec *serverRecord
	for j := before; j < len(s.state); j++ {
		if s.state[j].reqNum == reqNum {
			rec = &s.state[j]
			break
		}
	}
	s.mu.Unlock()
	validating := cfg.expect == etagValidated || cfg.expect == lmValidated
	if rec == nil {
		if cfg.expect == notCached || validating || len(cfg.expectReqHdr)+len(cfg.expectReqHas)+len(cfg.expectReqNot) > 0 || cfg.expectMethod != "" {
			t.Errorf("request %d was not sent to the origin", reqNum)
		}
		return
	}
	if cfg.expect == etagValidated && len(rec.header["If-None-Match"]) == 0 {
		t.Errorf("request %d has no If-None-Match", reqNum)
	}
	if cfg.expect == lmValidated && len(rec.header["If-Modified-Since"]) == 0 {
		t.Errorf("request %d has no If-Modified-Since", reqNum)
	}
	for _, l := range cfg.expectReqHdr {
		if got, _ := joined(rec.header, l[0]); got != l[1] {
			t.Errorf("request %d header %s is %q, not %q", reqNum, l[0], got, l[1])
		}
	}
	for _, name := range cfg.expectReqHas {
		if _, ok := joined(rec.header, name); !ok {
			t.Errorf("request %d %s header not present", reqNum, name)
		}
	}
	for _, name := range cfg.expectReqNot {
		if _, ok := joined(rec.header, name); ok {
			t.Errorf("request %d %s header present", reqNum, name)
		}
	}
	if cfg.expectMethod != "" && rec.method != cfg.expectMethod {
		t.Errorf("request %d had method %s, not %s", reqNum, rec.method, cfg.expectMethod)
	}
	if cfg.disconnect {
		return
	}
	seen := map[string][]string{}
	for _, l := range rec.respHdrs {
		if strings.EqualFold(l[0], "Date") {
			continue
		}
		k := http.CanonicalHeaderKey(l[0])
		seen[k] = append(seen[k], l[1])
	}
	for k, vals := range seen {
		if got, _ := joined(resp.Header, k); got != strings.Join(vals, ", ") {
			t.Errorf("response %d header %s is %q, not %q (as the origin sent it)", reqNum, k, got, strings.Join(vals, ", "))
		}
	}
}

// writeRaw304 sends a 304 with every header field the script set. Go's
// server drops Content-Type from a 304; the suite's server (Node) does
// not, and the update304 cases depend on it.
func writeRaw304(w http.ResponseWriter, hdr http.Header) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	buf.WriteString("HTTP/1.1 304 Not Modified\r\nConnection: close\r\n")
	_ = hdr.Write(buf)
	buf.WriteString("\r\n")
	_ = buf.Flush()
}
