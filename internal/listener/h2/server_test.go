package h2_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/portico-proxy/portico/internal/listener/h2"
)

// h2cClient returns a client that speaks HTTP/2 with prior knowledge to
// any address. Small windows make the server's flow control work.
func h2cClient(t testing.TB, smallWindows bool) *http.Client {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	if smallWindows {
		tr.HTTP2 = &http.HTTP2Config{MaxReceiveBufferPerStream: 16 << 10, MaxReceiveBufferPerConnection: 64 << 10}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

func serve(t testing.TB, h http.HandlerFunc, o h2.Options) (string, *h2.Server) {
	s := h2.NewServer(h, o)
	return "http://" + serveH2C(t, s), s
}

func TestRequestAndResponseFields(t *testing.T) {
	var got *http.Request
	url, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got = r
		w.Header().Set("X-Custom", "yes")
		w.Header().Set("Connection", "close") // HTTP/2 forbids it: dropped
		w.Header()["Bad\nName"] = []string{"x"}
		io.WriteString(w, "body")
	}, h2.Options{})
	req, _ := http.NewRequest("GET", url+"/a/b?q=1", nil)
	req.Header.Set("User-Agent", "test")
	req.Header.Add("Cookie", "a=1")
	req.AddCookie(&http.Cookie{Name: "b", Value: "2"})
	res, err := h2cClient(t, false).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	checks := []struct {
		what      string
		got, want any
	}{
		{"status", res.StatusCode, 200},
		{"proto", res.ProtoMajor, 2},
		{"body", string(body), "body"},
		{"custom field", res.Header.Get("X-Custom"), "yes"},
		{"connection field", res.Header.Get("Connection"), ""},
		{"content-length", res.ContentLength, int64(4)},
		{"date present", res.Header.Get("Date") != "", true},
		{"request proto", got.Proto, "HTTP/2.0"},
		{"request method", got.Method, "GET"},
		{"request path", got.URL.Path, "/a/b"},
		{"request query", got.URL.RawQuery, "q=1"},
		{"request uri", got.RequestURI, "/a/b?q=1"},
		{"request host", got.Host, strings.TrimPrefix(url, "http://")},
		{"user agent", got.Header.Get("User-Agent"), "test"},
		{"cookies joined", got.Header.Get("Cookie"), "a=1; b=2"},
		{"remote addr set", got.RemoteAddr != "", true},
		{"no body", got.Body, http.NoBody},
		{"local addr in context", got.Context().Value(http.LocalAddrContextKey) != nil, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
		}
	}
}

// TestBodiesLargerThanTheWindows echoes bodies larger than every
// flow-control window, with a client that grants small ones: both
// directions must wait for window and go on.
func TestBodiesLargerThanTheWindows(t *testing.T) {
	url, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(w, r.Body)
	}, h2.Options{})
	client := h2cClient(t, true)
	for _, size := range []int{0, 1, 16<<10 - 1, 16 << 10, 300 << 10, 3 << 20} {
		payload := make([]byte, size)
		rand.Read(payload)
		res, err := client.Post(url, "application/octet-stream", bytes.NewReader(payload))
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		got, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("%d bytes: got %d bytes back (%v)", size, len(got), err)
		}
	}
}

// TestConcurrentStreams runs many streams at once over one connection;
// every response must carry its own body, whatever frames share writes.
func TestConcurrentStreams(t *testing.T) {
	url, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		n := len(r.URL.Path) * 997
		w.Write(bytes.Repeat([]byte(r.URL.Path), n/len(r.URL.Path)))
	}, h2.Options{})
	client := h2cClient(t, false)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				path := fmt.Sprintf("/%d/%s", g, strings.Repeat("x", i))
				res, err := client.Get(url + path)
				if err != nil {
					errs <- err
					return
				}
				body, err := io.ReadAll(res.Body)
				res.Body.Close()
				want := bytes.Repeat([]byte(path), len(path)*997/len(path))
				if err != nil || !bytes.Equal(body, want) {
					errs <- fmt.Errorf("%s: got %d bytes, want %d (%v)", path, len(body), len(want), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestTrailers(t *testing.T) {
	var reqTrailer http.Header
	url, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		reqTrailer = r.Trailer.Clone()
		w.Header().Set("Trailer", "Grpc-Status")
		w.Header().Set("Content-Type", "application/grpc")
		io.WriteString(w, "payload")
		w.Header().Set("Grpc-Status", "0")
		w.Header().Set(http.TrailerPrefix+"Late", "also")
	}, h2.Options{})
	req, _ := http.NewRequest("POST", url, strings.NewReader("request"))
	req.ContentLength = -1
	req.Trailer = http.Header{"Checksum": {"abc"}}
	res, err := h2cClient(t, false).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != "payload" {
		t.Errorf("body %q", body)
	}
	if res.Trailer.Get("Grpc-Status") != "0" || res.Trailer.Get("Late") != "also" {
		t.Errorf("response trailers %v", res.Trailer)
	}
	if res.Header.Get("Grpc-Status") != "" {
		t.Error("a declared trailer was sent as a header")
	}
	if reqTrailer.Get("Checksum") != "abc" {
		t.Errorf("request trailers %v", reqTrailer)
	}
}

// TestFlushSendsAtOnce: a flushed part reaches the client while the
// handler is still running (server-sent events, gRPC streams).
func TestFlushSendsAtOnce(t *testing.T) {
	release := make(chan struct{})
	url, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "second\n")
	}, h2.Options{})
	res, err := h2cClient(t, false).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	buf := make([]byte, 6)
	if _, err := io.ReadFull(res.Body, buf); err != nil || string(buf) != "first\n" {
		t.Fatalf("got %q, %v before the handler went on", buf, err)
	}
	close(release)
	rest, _ := io.ReadAll(res.Body)
	if string(rest) != "second\n" {
		t.Errorf("rest %q", rest)
	}
}

func TestClientResetCancelsTheHandler(t *testing.T) {
	started, cancelled := make(chan struct{}), make(chan struct{})
	url, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		close(cancelled)
	}, h2.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	go func() { <-started; cancel() }()
	if _, err := h2cClient(t, false).Do(req); err == nil {
		t.Fatal("request succeeded")
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("handler context not cancelled after RST_STREAM")
	}
}

func TestBrokenResponses(t *testing.T) {
	cases := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
		wantErr    bool
	}{
		{"panic before anything is sent", func(w http.ResponseWriter, r *http.Request) { panic("boom") }, 500, false},
		{"abort after the headers", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}, 200, true},
		{"body shorter than its Content-Length", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, "short")
		}, 200, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url, _ := serve(t, tc.handler, h2.Options{})
			res, err := h2cClient(t, false).Get(url)
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.wantStatus || (err != nil) != tc.wantErr {
				t.Errorf("got %d, body error %v; want %d, error %v", res.StatusCode, err, tc.wantStatus, tc.wantErr)
			}
		})
	}
}

func TestHeadAndBodilessStatuses(t *testing.T) {
	url, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/204" {
			w.WriteHeader(204)
			return
		}
		io.WriteString(w, "twelve bytes")
	}, h2.Options{})
	client := h2cClient(t, false)
	res, err := client.Head(url)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.ContentLength != 12 {
		t.Errorf("HEAD: %d, length %d; want 200, 12", res.StatusCode, res.ContentLength)
	}
	res, err = client.Get(url + "/204")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 204 || res.Header.Get("Content-Length") != "" {
		t.Errorf("204: %d with Content-Length %q", res.StatusCode, res.Header.Get("Content-Length"))
	}
}

func TestInterimResponses(t *testing.T) {
	url, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		body, _ := io.ReadAll(r.Body)
		w.Write(body)
	}, h2.Options{})
	var got []int
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		got = append(got, code)
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "POST", url, strings.NewReader("data"))
	req.Header.Set("Expect", "100-continue")
	tr := h2cClient(t, false).Transport.(*http.Transport)
	tr.ExpectContinueTimeout = 10 * time.Second // the body waits for the 100
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != "data" || fmt.Sprint(got) != "[103 100]" {
		t.Errorf("got interim %v and body %q; want [103 100] and \"data\"", got, body)
	}
}

func TestHeaderLimits(t *testing.T) {
	url, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {}, h2.Options{MaxHeaderCount: 10, MaxHeaderBytes: 4 << 10})
	base := []string{":method", "GET", ":scheme", "http", ":path", "/", ":authority", "x"}
	many := base
	for i := range 20 {
		many = append(many, fmt.Sprintf("x-f%d", i), "v")
	}
	for i, tc := range []struct {
		name   string
		fields []string
	}{
		{"too many fields", many},
		{"too many bytes", append(base, "x-a", strings.Repeat("v", 2000), "x-b", strings.Repeat("v", 2000), "x-c", strings.Repeat("v", 2000))},
	} {
		c := dialRaw(t, url)
		id := uint32(2*i + 1)
		c.headers(id, true, tc.fields...)
		status := c.status(id)
		if status != "431" {
			t.Errorf("%s: got %s, want 431", tc.name, status)
		}
	}
}

// TestBodyReadIdleTimeout: a client that stops sending its body makes
// the handler's read fail after the read idle timeout, not hang.
func TestBodyReadIdleTimeout(t *testing.T) {
	readErr := make(chan error, 1)
	url, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
	}, h2.Options{ReadIdleTimeout: 200 * time.Millisecond})
	pr, pw := io.Pipe()
	defer pw.Close()
	req, _ := http.NewRequest("POST", url, pr)
	go h2cClient(t, false).Do(req)
	pw.Write([]byte("some of the body"))
	select {
	case err := <-readErr:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("got %v, want a deadline error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("body read did not time out")
	}
}

// rawConn is a hand-driven HTTP/2 client, for what net/http's will not
// send.
type rawConn struct {
	t   testing.TB
	nc  net.Conn
	fr  *http2.Framer
	enc *hpack.Encoder
	hb  bytes.Buffer
}

func dialRaw(t testing.TB, addr string) *rawConn {
	nc, err := net.Dial("tcp", strings.TrimPrefix(addr, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &rawConn{t: t, nc: nc, fr: http2.NewFramer(nc, nc)}
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.enc = hpack.NewEncoder(&c.hb)
	io.WriteString(nc, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	c.fr.WriteSettings()
	return c
}

func (c *rawConn) headers(id uint32, end bool, fields ...string) {
	c.hb.Reset()
	for i := 0; i < len(fields); i += 2 {
		c.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.hb.Bytes(), EndStream: end, EndHeaders: true}); err != nil {
		c.t.Fatal(err)
	}
}

// status reads frames until the response HEADERS of stream id and
// returns its :status.
func (c *rawConn) status(id uint32) string {
	var status string
	c.until("response", func(f http2.Frame) bool {
		if h, ok := f.(*http2.MetaHeadersFrame); ok && h.StreamID == id {
			status = h.PseudoValue("status")
			return true
		}
		return false
	})
	return status
}

// until reads frames until match returns true; it fails on timeout.
func (c *rawConn) until(what string, match func(http2.Frame) bool) {
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", what, err)
		}
		if match(f) {
			return
		}
	}
}

// TestRapidResetKeepsHandlersBounded opens and at once resets many
// streams (CVE-2023-44487): the handlers running at any time must not
// exceed the stream limit, and the connection must be cut off when the
// client keeps going.
func TestRapidResetKeepsHandlersBounded(t *testing.T) {
	const limit = 5
	var running, peak atomic.Int32
	release := make(chan struct{})
	url, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		running.Add(-1)
	}, h2.Options{MaxConcurrentStreams: limit})
	defer close(release)
	c := dialRaw(t, url)
	go func() {
		// The server hangs up part way: writes then fail, as they should.
		for id := uint32(1); id < 2*200; id += 2 {
			c.hb.Reset()
			c.enc.WriteField(hpack.HeaderField{Name: ":method", Value: "GET"})
			c.enc.WriteField(hpack.HeaderField{Name: ":scheme", Value: "http"})
			c.enc.WriteField(hpack.HeaderField{Name: ":path", Value: "/"})
			c.enc.WriteField(hpack.HeaderField{Name: ":authority", Value: "x"})
			if c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.hb.Bytes(), EndStream: true, EndHeaders: true}) != nil ||
				c.fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
				return
			}
		}
	}()
	var code http2.ErrCode
	c.until("GOAWAY", func(f http2.Frame) bool {
		if g, ok := f.(*http2.GoAwayFrame); ok {
			code = g.ErrCode
			return true
		}
		return false
	})
	if code != http2.ErrCodeEnhanceYourCalm {
		t.Errorf("GOAWAY %v, want ENHANCE_YOUR_CALM", code)
	}
	if p := peak.Load(); p > limit {
		t.Errorf("%d handlers ran at once, limit %d", p, limit)
	}
}

// TestRequestsThatMustBeRefused checks malformed requests (RFC 9113
// 8.2–8.3) get RST_STREAM PROTOCOL_ERROR and never reach the handler.
func TestRequestsThatMustBeRefused(t *testing.T) {
	var reached atomic.Int32
	url, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { reached.Add(1) }, h2.Options{})
	base := []string{":method", "GET", ":scheme", "http", ":path", "/", ":authority", "x"}
	cases := []struct {
		name   string
		fields []string
	}{
		{"no :path", []string{":method", "GET", ":scheme", "http", ":authority", "x"}},
		{"empty :path", []string{":method", "GET", ":scheme", "http", ":path", "", ":authority", "x"}},
		{"relative :path", []string{":method", "GET", ":scheme", "http", ":path", "a/b", ":authority", "x"}},
		{"no :method", []string{":scheme", "http", ":path", "/", ":authority", "x"}},
		{"connection field", append(base, "connection", "keep-alive")},
		{"transfer-encoding", append(base, "transfer-encoding", "chunked")},
		{"te other than trailers", append(base, "te", "gzip")},
		{"two different content-lengths", append(base, "content-length", "1", "content-length", "2")},
		{"CONNECT with a path", []string{":method", "CONNECT", ":scheme", "http", ":path", "/", ":authority", "x:443"}},
		{":protocol without CONNECT", append(base, ":protocol", "websocket")},
		{"bad authority", []string{":method", "GET", ":scheme", "http", ":path", "/", ":authority", "a b"}},
		{"bad Host standing in for :authority", []string{":method", "GET", ":scheme", "http", ":path", "/", "host", "evil.test/x"}},
		{"two Host fields", []string{":method", "GET", ":scheme", "http", ":path", "/", "host", "a", "host", "b"}},
		{"Host other than :authority", append(base, "host", "elsewhere")},
		// Sent with END_STREAM: the body is empty, shorter than declared.
		{"content-length with no body", []string{":method", "POST", ":scheme", "http", ":path", "/", ":authority", "x", "content-length", "5"}},
	}
	for i, tc := range cases {
		c := dialRaw(t, url)
		id := uint32(2*i + 1)
		c.headers(id, true, tc.fields...)
		var code http2.ErrCode
		c.until("RST_STREAM", func(f http2.Frame) bool {
			if r, ok := f.(*http2.RSTStreamFrame); ok && r.StreamID == id {
				code = r.ErrCode
				return true
			}
			if _, ok := f.(*http2.GoAwayFrame); ok {
				code = 0xff
				return true
			}
			return false
		})
		if code != http2.ErrCodeProtocol {
			t.Errorf("%s: got %v, want RST_STREAM PROTOCOL_ERROR", tc.name, code)
		}
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("%d malformed requests reached the handler", n)
	}
}

func TestExtendedConnect(t *testing.T) {
	url, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect || r.Header.Get(":protocol") != "websocket" || r.URL.Path != "/chat" {
			w.WriteHeader(400)
			return
		}
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		buf := make([]byte, 64) // echo, full duplex
		for {
			n, err := r.Body.Read(buf)
			w.Write(buf[:n])
			w.(http.Flusher).Flush()
			if err != nil {
				return
			}
		}
	}, h2.Options{})
	c := dialRaw(t, url)
	var enabled bool
	c.until("SETTINGS", func(f http2.Frame) bool {
		if s, ok := f.(*http2.SettingsFrame); ok && !s.IsAck() {
			v, _ := s.Value(http2.SettingEnableConnectProtocol)
			enabled = v == 1
			return true
		}
		return false
	})
	if !enabled {
		t.Fatal("SETTINGS_ENABLE_CONNECT_PROTOCOL not advertised")
	}
	c.headers(1, false, ":method", "CONNECT", ":protocol", "websocket", ":scheme", "http", ":path", "/chat", ":authority", "x")
	c.fr.WriteData(1, false, []byte("ping"))
	var status string
	var echoed []byte
	c.until("echo", func(f http2.Frame) bool {
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			status = f.PseudoValue("status")
		case *http2.DataFrame:
			echoed = append(echoed, f.Data()...)
		}
		return len(echoed) >= 4
	})
	if status != "200" || string(echoed) != "ping" {
		t.Errorf("got %s and %q, want 200 and ping", status, echoed)
	}
}

// TestGracefulShutdown: Shutdown lets a stream in flight finish, refuses
// new ones with GOAWAY and returns once the connection is closed.
func TestGracefulShutdown(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	url, s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release
		}
		io.WriteString(w, "done")
	}, h2.Options{})
	client := h2cClient(t, false)
	type result struct {
		body string
		err  error
	}
	slow := make(chan result, 1)
	go func() {
		res, err := client.Get(url + "/slow")
		if err != nil {
			slow <- result{err: err}
			return
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		slow <- result{string(b), err}
	}()
	<-started
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	time.Sleep(50 * time.Millisecond)
	close(release)
	if r := <-slow; r.err != nil || r.body != "done" {
		t.Errorf("in-flight request: %q, %v", r.body, r.err)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if n := s.OpenConns(); n != 0 {
		t.Errorf("%d connections open after Shutdown", n)
	}
}

func TestIdleConnectionIsClosed(t *testing.T) {
	url, s := serve(t, func(w http.ResponseWriter, r *http.Request) {}, h2.Options{IdleTimeout: 100 * time.Millisecond})
	c := dialRaw(t, url)
	c.until("GOAWAY", func(f http2.Frame) bool {
		g, ok := f.(*http2.GoAwayFrame)
		return ok && g.ErrCode == http2.ErrCodeNo
	})
	deadline := time.Now().Add(5 * time.Second)
	for s.OpenConns() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := s.OpenConns(); n != 0 {
		t.Errorf("%d connections still open", n)
	}
}

// TestPrefaceTimeout: a connection that never sends the preface is
// closed after the read header timeout.
func TestPrefaceTimeout(t *testing.T) {
	url, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {}, h2.Options{ReadHeaderTimeout: 100 * time.Millisecond})
	nc, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Read(make([]byte, 1)); err != io.EOF {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("connection still open after the read header timeout")
		}
	}
}

// TestIdleConnectionMemory opens many HTTP/2 connections that each make
// one request and then sit idle, and reports the heap they hold: write
// buffers go back to the pool when a connection has no stream.
func TestIdleConnectionMemory(t *testing.T) {
	url, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }, h2.Options{})
	const conns = 200
	var before, after runtime.MemStats
	runtime.GC() // twice: pooled buffers survive one collection
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range conns {
		c := dialRaw(t, url)
		c.headers(1, true, ":method", "GET", ":scheme", "http", ":path", "/", ":authority", "x")
		c.until("response", func(f http2.Frame) bool {
			d, ok := f.(*http2.DataFrame)
			return ok && d.StreamEnded()
		})
	}
	time.Sleep(50 * time.Millisecond) // handlers finish their bookkeeping
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	perConn := (int64(after.HeapInuse) - int64(before.HeapInuse)) / conns
	t.Logf("about %d KiB of heap per idle HTTP/2 connection (client side included)", perConn>>10)
	if perConn > 32<<10 {
		t.Errorf("%d KiB per idle connection, want at most 32 (buffers not released?)", perConn>>10)
	}
}

// TestUnannouncedRequestTrailers: trailers a client sends without a
// Trailer field still reach the handler once the body is read.
func TestUnannouncedRequestTrailers(t *testing.T) {
	got := make(chan string, 1)
	url, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		got <- r.Trailer.Get("X-Sum")
	}, h2.Options{})
	c := dialRaw(t, url)
	c.headers(1, false, ":method", "POST", ":scheme", "http", ":path", "/", ":authority", "x")
	c.fr.WriteData(1, false, []byte("body"))
	c.headers(1, true, "x-sum", "42")
	select {
	case v := <-got:
		if v != "42" {
			t.Errorf("handler saw trailer %q, want 42", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("handler did not finish")
	}
}

// TestFramesAfterOurResetAreIgnored: a handler that answers without
// reading the whole request body ends its stream with RST_STREAM
// (NO_ERROR). Body and trailers the client had in flight then arrive on
// a stream that is closed; RFC 9113 5.1 says to ignore them, so the
// connection and its next stream go on.
func TestFramesAfterOurResetAreIgnored(t *testing.T) {
	url, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "early")
	}, h2.Options{})
	c := dialRaw(t, url)
	base := []string{":method", "POST", ":scheme", "http", ":path", "/", ":authority", "x"}
	c.headers(1, false, base...)
	c.until("RST_STREAM of stream 1", func(f http2.Frame) bool {
		r, ok := f.(*http2.RSTStreamFrame)
		return ok && r.StreamID == 1
	})
	if err := c.fr.WriteData(1, false, []byte("late body")); err != nil {
		t.Fatal(err)
	}
	c.headers(1, true, "x-checksum", "late trailer")
	c.headers(3, true, ":method", "GET", ":scheme", "http", ":path", "/", ":authority", "x")
	// Once the client ended stream 1, a frame more on it is an error again.
	defer func() {
		c.headers(1, true, "x-checksum", "one too many")
		c.until("GOAWAY", func(f http2.Frame) bool {
			g, ok := f.(*http2.GoAwayFrame)
			return ok && g.ErrCode == http2.ErrCodeProtocol
		})
	}()
	var status string
	c.until("response of stream 3", func(f http2.Frame) bool {
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			t.Fatalf("GOAWAY %v: the late frames of stream 1 ended the connection", f.ErrCode)
		case *http2.MetaHeadersFrame:
			if f.StreamID == 3 {
				status = f.PseudoValue("status")
				return true
			}
		}
		return false
	})
	if status != "200" {
		t.Fatalf("stream 3: status %q, want 200", status)
	}
}

// alive opens stream id with a GET and waits for its response: the
// connection must still serve requests. A GOAWAY on the way fails.
func (c *rawConn) alive(id uint32) {
	c.t.Helper()
	c.headers(id, true, ":method", "GET", ":scheme", "http", ":path", "/", ":authority", "x")
	c.until(fmt.Sprintf("response of stream %d", id), func(f http2.Frame) bool {
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			c.t.Fatalf("GOAWAY %v before the response of stream %d", f.ErrCode, id)
		case *http2.MetaHeadersFrame:
			return f.StreamID == id
		}
		return false
	})
}

// goAway reads frames until a GOAWAY and returns its error code.
func (c *rawConn) goAway() http2.ErrCode {
	c.t.Helper()
	var code http2.ErrCode
	c.until("GOAWAY", func(f http2.Frame) bool {
		g, ok := f.(*http2.GoAwayFrame)
		if ok {
			code = g.ErrCode
		}
		return ok
	})
	return code
}

// reset reads frames until RST_STREAM on stream id and returns its code;
// a GOAWAY first fails.
func (c *rawConn) reset(id uint32) http2.ErrCode {
	c.t.Helper()
	var code http2.ErrCode
	c.until(fmt.Sprintf("RST_STREAM of stream %d", id), func(f http2.Frame) bool {
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			c.t.Fatalf("GOAWAY %v instead of RST_STREAM on stream %d", f.ErrCode, id)
		case *http2.RSTStreamFrame:
			code = f.ErrCode
			return f.StreamID == id
		}
		return false
	})
	return code
}

// TestFramesOnStreamsThatAreNotOpen sends WINDOW_UPDATE, RST_STREAM,
// PRIORITY and DATA on streams in every state but open. On a closed
// stream they may be frames the client sent before it saw the end of
// the stream: RFC 9113 5.1 has them ignored (DATA at worst resets the
// stream), and the connection must go on serving its other streams. On
// an idle stream (above any the client opened, or even: Portico opens
// none) anything but PRIORITY is a connection error PROTOCOL_ERROR.
func TestFramesOnStreamsThatAreNotOpen(t *testing.T) {
	url, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok") // without reading a body: a POST not ended is reset
	}, h2.Options{})
	get := []string{":method", "GET", ":scheme", "http", ":path", "/", ":authority", "x"}
	post := []string{":method", "POST", ":scheme", "http", ":path", "/", ":authority", "x"}
	ended := func(c *rawConn, id uint32) {
		c.until("end of the response", func(f http2.Frame) bool {
			d, ok := f.(*http2.DataFrame)
			return ok && d.StreamID == id && d.StreamEnded()
		})
	}
	states := []struct {
		name  string
		setup func(c *rawConn)
		id    uint32 // the stream the frame goes to
		idle  bool
	}{
		{"closed after its response ended", func(c *rawConn) { c.headers(1, true, get...); ended(c, 1) }, 1, false},
		{"closed by our reset", func(c *rawConn) { c.headers(1, false, post...); c.reset(1) }, 1, false},
		{"closed by our reset for depending on itself", func(c *rawConn) {
			c.hb.Reset()
			for i := 0; i < len(get); i += 2 {
				c.enc.WriteField(hpack.HeaderField{Name: get[i], Value: get[i+1]})
			}
			c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.hb.Bytes(), EndStream: true, EndHeaders: true,
				Priority: http2.PriorityParam{StreamDep: 1, Weight: 15}})
			c.reset(1)
		}, 1, false},
		{"closed because a higher one was opened", func(c *rawConn) { c.headers(3, true, get...); ended(c, 3) }, 1, false},
		{"idle, above any opened", func(c *rawConn) { c.headers(1, true, get...); ended(c, 1) }, 5, true},
		{"idle, even", func(c *rawConn) { c.headers(3, true, get...); ended(c, 3) }, 2, true},
	}
	frames := []struct {
		name  string
		write func(c *rawConn, id uint32) error
	}{
		{"WINDOW_UPDATE", func(c *rawConn, id uint32) error { return c.fr.WriteWindowUpdate(id, 1000) }},
		{"RST_STREAM", func(c *rawConn, id uint32) error { return c.fr.WriteRSTStream(id, http2.ErrCodeCancel) }},
		{"PRIORITY", func(c *rawConn, id uint32) error {
			return c.fr.WritePriority(id, http2.PriorityParam{StreamDep: 0, Weight: 15})
		}},
		{"DATA", func(c *rawConn, id uint32) error { return c.fr.WriteData(id, false, []byte("late")) }},
	}
	for _, st := range states {
		for _, fr := range frames {
			t.Run(fr.name+" on a stream "+st.name, func(t *testing.T) {
				c := dialRaw(t, url)
				st.setup(c)
				if err := fr.write(c, st.id); err != nil {
					t.Fatal(err)
				}
				if st.idle && fr.name != "PRIORITY" {
					if code := c.goAway(); code != http2.ErrCodeProtocol {
						t.Errorf("GOAWAY %v, want PROTOCOL_ERROR", code)
					}
					return
				}
				c.alive(7)
			})
		}
	}
}

// TestPriorityWithABadLength: a PRIORITY frame whose payload is not 5
// bytes is a stream error FRAME_SIZE_ERROR (RFC 9113 6.3), not a
// connection error: the other streams go on.
func TestPriorityWithABadLength(t *testing.T) {
	url, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(w, r.Body)
	}, h2.Options{})
	c := dialRaw(t, url)
	c.headers(1, false, ":method", "POST", ":scheme", "http", ":path", "/", ":authority", "x")
	if err := c.fr.WriteRawFrame(http2.FramePriority, 0, 1, []byte{0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if code := c.reset(1); code != http2.ErrCodeFrameSize {
		t.Errorf("RST_STREAM %v, want FRAME_SIZE_ERROR", code)
	}
	c.alive(3)
}

// TestInitialWindowSizeChangeAdjustsOpenStreams: a new
// SETTINGS_INITIAL_WINDOW_SIZE moves the send window of every open
// stream by the difference (RFC 9113 6.9.2), down below zero too; a
// handler waiting for window goes on once the window is positive again.
// h2spec checks this on one stream; here two handlers wait at once.
func TestInitialWindowSizeChangeAdjustsOpenStreams(t *testing.T) {
	const body = "0123456789"
	url, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	}, h2.Options{})
	c := dialRaw(t, url)
	window := func(n uint32) {
		if err := c.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: n}); err != nil {
			t.Fatal(err)
		}
	}
	window(0)
	get := []string{":method", "GET", ":scheme", "http", ":path", "/", ":authority", "x"}
	c.headers(1, true, get...)
	c.headers(3, true, get...)
	got := map[uint32]int{}
	ended := map[uint32]bool{}
	// read takes frames until done; DATA past a stream's allowance fails.
	read := func(what string, allowed int, done func(f http2.Frame) bool) {
		c.until(what, func(f http2.Frame) bool {
			if d, ok := f.(*http2.DataFrame); ok {
				got[d.StreamID] += len(d.Data())
				ended[d.StreamID] = d.StreamEnded()
				if got[d.StreamID] > allowed {
					t.Fatalf("%s: stream %d got %d bytes, its window allowed %d", what, d.StreamID, got[d.StreamID], allowed)
				}
			}
			return done(f)
		})
	}
	headers := 0
	read("both responses' HEADERS", 0, func(f http2.Frame) bool {
		if _, ok := f.(*http2.MetaHeadersFrame); ok {
			headers++
		}
		return headers == 2
	})
	window(4) // both windows 0 → 4: both handlers go on
	read("4 bytes on each stream", 4, func(http2.Frame) bool { return got[1] == 4 && got[3] == 4 })
	window(1) // 0 → -3
	c.fr.WriteWindowUpdate(1, 3)
	c.fr.WriteWindowUpdate(3, 3) // -3 → 0: still nothing to send
	c.fr.WritePing(false, [8]byte{1})
	read("PING ack", 4, func(f http2.Frame) bool {
		p, ok := f.(*http2.PingFrame)
		return ok && p.IsAck()
	})
	c.fr.WriteWindowUpdate(1, 100)
	c.fr.WriteWindowUpdate(3, 100)
	read("the rest of both bodies", len(body), func(http2.Frame) bool { return ended[1] && ended[3] })
	if got[1] != len(body) || got[3] != len(body) {
		t.Errorf("got %d and %d bytes, want %d each", got[1], got[3], len(body))
	}
}

// TestInitialWindowSizeOverflow: a SETTINGS_INITIAL_WINDOW_SIZE that
// would take an open stream's window above 2^31-1 is a connection error
// FLOW_CONTROL_ERROR (RFC 9113 6.9.2). h2spec only sends a value that
// is itself too large.
func TestInitialWindowSizeOverflow(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	url, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { <-release }, h2.Options{})
	c := dialRaw(t, url)
	c.headers(1, true, ":method", "GET", ":scheme", "http", ":path", "/", ":authority", "x")
	c.fr.WriteWindowUpdate(1, 1<<31-1-65535) // the stream's window is now the largest allowed
	c.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 65536})
	if code := c.goAway(); code != http2.ErrCodeFlowControl {
		t.Errorf("GOAWAY %v, want FLOW_CONTROL_ERROR", code)
	}
}

// TestClientGoAway: after the client's GOAWAY, the streams it already
// opened finish, their request bodies still coming in, and get their
// responses; a stream it opens after it is refused (REFUSED_STREAM, so
// it knows to retry elsewhere) rather than left unanswered; once the
// open streams are done the connection closes.
func TestClientGoAway(t *testing.T) {
	release := make(chan struct{})
	url, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		io.Copy(w, r.Body)
		io.WriteString(w, "done")
	}, h2.Options{})
	c := dialRaw(t, url)
	c.headers(1, true, ":method", "GET", ":scheme", "http", ":path", "/slow", ":authority", "x")
	c.headers(3, false, ":method", "POST", ":scheme", "http", ":path", "/", ":authority", "x")
	c.fr.WriteGoAway(0, http2.ErrCodeNo, nil)
	c.fr.WriteData(3, true, []byte("body after GOAWAY, "))
	c.headers(5, true, ":method", "GET", ":scheme", "http", ":path", "/", ":authority", "x")
	bodies := map[uint32]string{}
	ended := map[uint32]bool{}
	// One loop for everything: stream 3's response may come before the
	// reset of stream 5. Stream 1 answers once stream 5 was refused.
	c.until("both responses", func(f http2.Frame) bool {
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			t.Fatalf("GOAWAY %v before the open streams finished", f.ErrCode)
		case *http2.RSTStreamFrame:
			if f.StreamID != 5 || f.ErrCode != http2.ErrCodeRefusedStream {
				t.Fatalf("stream %d reset (%v); want only stream 5, opened after GOAWAY, refused", f.StreamID, f.ErrCode)
			}
			close(release)
		case *http2.DataFrame:
			bodies[f.StreamID] += string(f.Data())
			ended[f.StreamID] = f.StreamEnded()
		}
		return ended[1] && ended[3]
	})
	if bodies[1] != "done" || bodies[3] != "body after GOAWAY, done" {
		t.Errorf("bodies %q and %q", bodies[1], bodies[3])
	}
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		f, err := c.fr.ReadFrame()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("connection not closed after its streams finished: %v", err)
		}
		if g, ok := f.(*http2.GoAwayFrame); ok && g.ErrCode != http2.ErrCodeNo {
			t.Errorf("GOAWAY %v while closing", g.ErrCode)
		}
	}
}

// TestBodyShorterThanItsContentLength: a request body that ends before
// its content-length is malformed (RFC 9113 8.1.1): the stream is reset
// with PROTOCOL_ERROR, the handler already reading the body gets an
// error rather than a clean EOF or a read that never returns, and the
// connection goes on. h2spec checks the reset when DATA ends the
// stream, not the handler, nor the end coming with trailers.
func TestBodyShorterThanItsContentLength(t *testing.T) {
	readErr := make(chan error, 1)
	url, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			_, err := io.ReadAll(r.Body)
			readErr <- err
		}
	}, h2.Options{})
	cases := []struct {
		name string
		end  func(c *rawConn)
	}{
		{"empty DATA with END_STREAM", func(c *rawConn) { c.fr.WriteData(1, true, nil) }},
		{"trailers", func(c *rawConn) { c.headers(1, true, "x-sum", "1") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, url)
			c.headers(1, false, ":method", "POST", ":scheme", "http", ":path", "/", ":authority", "x", "content-length", "10")
			c.fr.WriteData(1, false, []byte("abc"))
			tc.end(c)
			if code := c.reset(1); code != http2.ErrCodeProtocol {
				t.Errorf("RST_STREAM %v, want PROTOCOL_ERROR", code)
			}
			select {
			case err := <-readErr:
				if err == nil {
					t.Error("the handler read a short body as complete")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the handler's body read did not return")
			}
			c.alive(3)
		})
	}
}

// TestMaxFrameSizeLoweredWhileWaitingForWindow: a handler waiting for
// flow-control window must frame its DATA by the client's
// SETTINGS_MAX_FRAME_SIZE when it sends, not as it was when it began to
// wait: a larger frame is a connection error for the client (RFC 9113
// 4.2), which would lose every stream on the connection.
func TestMaxFrameSizeLoweredWhileWaitingForWindow(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 40000)
	url, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write(body) }, h2.Options{})
	c := dialRaw(t, url)
	c.fr.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 32768}, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	c.headers(1, true, ":method", "GET", ":scheme", "http", ":path", "/", ":authority", "x")
	c.status(1) // the handler now waits for window
	c.fr.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 16384})
	c.fr.WriteWindowUpdate(0, 1<<20)
	c.fr.WriteWindowUpdate(1, 1<<20)
	got := 0
	c.until("the body", func(f http2.Frame) bool {
		d, ok := f.(*http2.DataFrame)
		if !ok {
			return false
		}
		if len(d.Data()) > 16384 {
			t.Fatalf("DATA of %d bytes after SETTINGS_MAX_FRAME_SIZE 16384", len(d.Data()))
		}
		got += len(d.Data())
		return d.StreamEnded()
	})
	if got != len(body) {
		t.Errorf("got %d bytes, want %d", got, len(body))
	}
}
