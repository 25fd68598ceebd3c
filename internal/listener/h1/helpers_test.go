package h1

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// Server kinds the conformance tables run against.
const (
	kindH1  = "h1"
	kindStd = "net/http"
)

// ioWait bounds every blocking step of a test; it is a hang guard, never
// an assertion about speed.
const ioWait = 10 * time.Second

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// startH1 serves h on a loopback port; the server is closed at cleanup.
func startH1(t testing.TB, h http.Handler, o Options) (string, *Server) {
	t.Helper()
	ln := listen(t)
	s := NewServer(h, o)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return ln.Addr().String(), s
}

func startStd(t testing.TB, h http.Handler) string {
	t.Helper()
	ln := listen(t)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func start(t testing.TB, kind string, h http.Handler) string {
	if kind == kindStd {
		return startStd(t, h)
	}
	addr, _ := startH1(t, h, Options{})
	return addr
}

func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioWait)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(ioWait))
	t.Cleanup(func() { c.Close() })
	return c
}

// result is one response as a client sees it.
type result struct {
	status  int
	proto   string
	header  http.Header
	body    string
	trailer http.Header
	te      []string
	cl      int64
	close   bool // Connection: close (http.ReadResponse removes the field)
}

func (r result) String() string {
	return fmt.Sprintf("%s %d te=%v cl=%d close=%v header=%v body=%q trailer=%v", r.proto, r.status, r.te, r.cl, r.close, r.header, r.body, r.trailer)
}

// readResults reads one response per method from br.
func readResults(br *bufio.Reader, methods ...string) ([]result, error) {
	var out []result
	for _, m := range methods {
		res, err := http.ReadResponse(br, &http.Request{Method: m})
		if err != nil {
			return out, err
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return out, err
		}
		out = append(out, result{
			status: res.StatusCode, proto: res.Proto, header: res.Header, body: string(b),
			trailer: res.Trailer, te: res.TransferEncoding, cl: res.ContentLength, close: res.Close,
		})
	}
	return out, nil
}

// roundTrip writes raw in one write on a new connection and reads one
// response per method.
func roundTrip(t testing.TB, addr, raw string, methods ...string) ([]result, net.Conn, *bufio.Reader) {
	t.Helper()
	c := dial(t, addr)
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	rs, err := readResults(br, methods...)
	if err != nil {
		t.Fatalf("reading responses: %v (got %v)", err, rs)
	}
	return rs, c, br
}

// closedAfter reports whether the server closes the connection (EOF or
// reset) with nothing more to read.
func closedAfter(c net.Conn, br *bufio.Reader) error {
	_ = c.SetReadDeadline(time.Now().Add(ioWait))
	b, err := br.ReadByte()
	if err == nil {
		rest, _ := br.Peek(br.Buffered())
		return fmt.Errorf("got byte %q%q, want the connection closed", b, rest)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return errors.New("connection still open")
	}
	return nil
}

// echo writes what the handler saw of the request, reading the body.
func echo(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var tr []string
	for k, vv := range r.Trailer {
		tr = append(tr, k+"="+strings.Join(vv, ","))
	}
	slices.Sort(tr)
	var hk []string
	for k := range r.Header {
		hk = append(hk, k)
	}
	slices.Sort(hk)
	fmt.Fprintf(w, "%s %s %s host=%s uri=%s path=%s query=%s cl=%d te=%v close=%v body=%q err=%v trailer=%v keys=%v",
		r.Method, r.RequestURI, r.Proto, r.Host, r.URL.String(), r.URL.Path, r.URL.RawQuery,
		r.ContentLength, r.TransferEncoding, r.Close, body, err, tr, hk)
}

// counter counts handler calls.
type counter struct{ n chan struct{} }

func newCounter() *counter { return &counter{n: make(chan struct{}, 1000)} }

func (c *counter) wrap(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.n <- struct{}{}
		h(w, r)
	})
}

func (c *counter) calls() int { return len(c.n) }
