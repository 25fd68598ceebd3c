package h1

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// confCase sends raw bytes in one write and checks the responses. Rows
// with std run against net/http's server too, to keep behaviour aligned.
type confCase struct {
	name    string
	h       http.HandlerFunc
	send    string
	methods []string // one per expected response; default one GET
	check   func(rs []result) error
	closed  bool // the server must close the connection after
	std     bool
}

func wantStatuses(rs []result, want ...int) error {
	for i, w := range want {
		if rs[i].status != w {
			return fmt.Errorf("response %d: got status %d, want %d", i, rs[i].status, w)
		}
	}
	return nil
}

func wantBody(r result, want string) error {
	if r.body != want {
		return fmt.Errorf("got body %q, want %q", r.body, want)
	}
	return nil
}

func bodyHas(r result, parts ...string) error {
	for _, p := range parts {
		if !strings.Contains(r.body, p) {
			return fmt.Errorf("got body %q, want it to contain %q", r.body, p)
		}
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func writeString(s string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(s)) }
}

var conformanceCases = []confCase{
	{
		name: "simple GET", h: echo, std: true,
		send: "GET /x?y=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n\r\n",
		check: func(rs []result) error {
			want := `GET /x?y=1 HTTP/1.1 host=a uri=/x?y=1 path=/x query=y=1 cl=0 te=[] close=false body="" err=<nil> trailer=[] keys=[User-Agent]`
			return firstErr(wantStatuses(rs, 200), wantBody(rs[0], want),
				checkHeader(rs[0], "Content-Length", fmt.Sprint(len(want))), hasHeader(rs[0], "Date"))
		},
	},
	{
		name: "pipelined three in one write", std: true,
		h:       func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, r.URL.Path) },
		send:    "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n",
		methods: []string{"GET", "GET", "GET"},
		check: func(rs []result) error {
			return firstErr(wantBody(rs[0], "/1"), wantBody(rs[1], "/2"), wantBody(rs[2], "/3"))
		},
	},
	{
		name: "HTTP/1.0 without keep-alive closes", h: echo, std: true, closed: true,
		send: "GET /x HTTP/1.0\r\n\r\n",
		check: func(rs []result) error {
			return firstErr(wantStatuses(rs, 200), checkProto(rs[0], "HTTP/1.0"), bodyHas(rs[0], "close=true"))
		},
	},
	{
		name: "HTTP/1.0 keep-alive", std: true, h: writeString("hi"),
		send:    "GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		methods: []string{"GET", "GET"},
		check: func(rs []result) error {
			return firstErr(wantStatuses(rs, 200, 200), checkHeader(rs[0], "Connection", "keep-alive"), wantBody(rs[1], "hi"))
		},
	},
	{
		name: "HEAD has no body and keeps the length", std: true, h: writeString("hello"),
		send:    "HEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		methods: []string{"HEAD", "GET"},
		check: func(rs []result) error {
			return firstErr(checkHeader(rs[0], "Content-Length", "5"), wantBody(rs[0], ""), wantBody(rs[1], "hello"))
		},
	},
	{
		name: "HEAD keeps the handler's Content-Length", std: true,
		h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1234")
		},
		send:    "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n",
		methods: []string{"HEAD"},
		check:   func(rs []result) error { return checkHeader(rs[0], "Content-Length", "1234") },
	},
	{
		name: "204 has no body nor framing", std: true,
		h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "3")
			w.WriteHeader(204)
			if _, err := w.Write([]byte("abc")); err != http.ErrBodyNotAllowed {
				panic(fmt.Sprintf("write in 204: got %v, want ErrBodyNotAllowed", err))
			}
		},
		send:    "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		methods: []string{"GET", "GET"},
		check: func(rs []result) error {
			return firstErr(wantStatuses(rs, 204, 204), checkHeader(rs[0], "Content-Length", ""),
				checkHeader(rs[0], "Transfer-Encoding", ""))
		},
	},
	{
		name: "304 has no body", std: true,
		h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Etag", `"x"`)
			w.WriteHeader(304)
		},
		send: "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		check: func(rs []result) error {
			return firstErr(wantStatuses(rs, 304), checkHeader(rs[0], "Etag", `"x"`), checkHeader(rs[0], "Content-Length", ""))
		},
	},
	{
		name: "chunked request body with trailers", h: echo, std: true,
		send: "POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n" +
			"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: v\r\n\r\n",
		check: func(rs []result) error {
			return bodyHas(rs[0], "cl=-1 te=[chunked]", `body="hello world"`, "trailer=[X-T=v]", "err=<nil>")
		},
	},
	{
		name: "trailers that may not be trailers are dropped", h: echo,
		send: "POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"3\r\nabc\r\n0\r\nContent-Length: 99\r\nTransfer-Encoding: gzip\r\nHost: evil\r\nX-T: v\r\n\r\n" +
			"GET /next HTTP/1.1\r\nHost: a\r\n\r\n",
		methods: []string{"POST", "GET"},
		check: func(rs []result) error {
			return firstErr(bodyHas(rs[0], `host=a `, `body="abc"`, "err=<nil>", "trailer=[X-T=v]"), bodyHas(rs[1], "GET /next"))
		},
	},
	{
		name: "pipelined requests with bodies", h: echo, std: true,
		send: "POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello" +
			"POST /2 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
			"POST /3 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz" +
			"GET /4 HTTP/1.1\r\nHost: a\r\n\r\n",
		methods: []string{"POST", "POST", "POST", "GET"},
		check: func(rs []result) error {
			return firstErr(bodyHas(rs[0], "POST /1 ", `body="hello"`), bodyHas(rs[1], "POST /2 ", `body="abc"`),
				bodyHas(rs[2], "POST /3 ", `body="xyz"`), bodyHas(rs[3], "GET /4 ", `body=""`))
		},
	},
	{
		name: "Content-Length with leading zeros", h: echo, std: true,
		send:    "POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 003\r\n\r\nabcGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
		methods: []string{"POST", "GET"},
		check: func(rs []result) error {
			return firstErr(bodyHas(rs[0], "cl=3", `body="abc"`), bodyHas(rs[1], "GET /2 "))
		},
	},
	{
		name: "POST with Content-Length", h: echo, std: true,
		send:  "POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
		check: func(rs []result) error { return bodyHas(rs[0], "cl=5", `body="hello"`, "keys=[Content-Length]") },
	},
	{
		name: "unread small body is discarded and the connection kept", std: true, h: writeString("ok"),
		send:    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		methods: []string{"POST", "GET"},
		check:   func(rs []result) error { return wantStatuses(rs, 200, 200) },
	},
	{
		name: "unread chunked body is discarded and the connection kept", std: true, h: writeString("ok"),
		send: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		methods: []string{"POST", "GET"},
		check:   func(rs []result) error { return firstErr(wantStatuses(rs, 200, 200), wantBody(rs[1], "ok")) },
	},
	{
		name: "Expect 100-continue not read, body sent anyway: never parsed", closed: true, h: writeString("no"),
		send: fmt.Sprintf("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n%s", len(smuggled), smuggled),
		check: func(rs []result) error {
			return firstErr(wantStatuses(rs, 200), wantBody(rs[0], "no"), wantClose(rs[0]))
		},
	},
	{
		name: "Expect 100-continue in HTTP/1.0 is ignored", h: echo, std: true,
		send: "POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello" +
			"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		methods: []string{"POST", "GET"},
		check: func(rs []result) error {
			return firstErr(wantStatuses(rs, 200, 200), bodyHas(rs[0], `body="hello"`), bodyHas(rs[1], "GET / HTTP/1.0"))
		},
	},
	{
		name: "Expect 100-continue not read: no 100, close", closed: true, h: writeString("no"),
		send: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
		check: func(rs []result) error {
			return firstErr(wantStatuses(rs, 200), wantBody(rs[0], "no"), wantClose(rs[0]))
		},
	},
	{
		name: "Flush makes chunked output", std: true,
		h: func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("a"))
			w.(http.Flusher).Flush()
			w.Write([]byte("b"))
		},
		send:  "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		check: func(rs []result) error { return firstErr(checkTE(rs[0], "chunked"), wantBody(rs[0], "ab")) },
	},
	{
		name: "handler-set Content-Length", std: true,
		h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5")
			w.Write([]byte("hel"))
			w.Write([]byte("lo"))
		},
		send: "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		check: func(rs []result) error {
			return firstErr(checkTE(rs[0]), checkHeader(rs[0], "Content-Length", "5"), wantBody(rs[0], "hello"))
		},
	},
	{
		name: "body larger than the buffer without length is chunked", std: true,
		h: func(w http.ResponseWriter, r *http.Request) {
			for range 100 {
				w.Write([]byte(strings.Repeat("x", 1000)))
			}
		},
		send: "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		check: func(rs []result) error {
			return firstErr(checkTE(rs[0], "chunked"), wantBody(rs[0], strings.Repeat("x", 100000)))
		},
	},
	{
		name: "trailers announced and by prefix", std: true,
		h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-Sum")
			w.Write([]byte("body"))
			w.Header().Set("X-Sum", "42")
			w.Header().Set(http.TrailerPrefix+"X-Late", "7")
		},
		send: "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		check: func(rs []result) error {
			tr := rs[0].trailer
			if tr.Get("X-Sum") != "42" || tr.Get("X-Late") != "7" {
				return fmt.Errorf("got trailers %v, want X-Sum=42 X-Late=7", tr)
			}
			return firstErr(checkTE(rs[0], "chunked"), wantBody(rs[0], "body"))
		},
	},
	{
		name: "103 Early Hints then 200", std: true,
		h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</s.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Write([]byte("done"))
		},
		send:    "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		methods: []string{"GET", "GET"},
		check: func(rs []result) error {
			return firstErr(wantStatuses(rs, 103, 200), checkHeader(rs[0], "Link", "</s.css>; rel=preload"), wantBody(rs[1], "done"))
		},
	},
	{
		name: "absolute-form target", h: echo, std: true,
		send: "GET http://example.com/p?q=1 HTTP/1.1\r\nHost: other\r\n\r\n",
		check: func(rs []result) error {
			return bodyHas(rs[0], "host=example.com uri=http://example.com/p?q=1 path=/p query=q=1")
		},
	},
	{
		name: "absolute-form target with an empty path is /", h: echo,
		send: "GET http://example.com?q=1 HTTP/1.1\r\nHost: other\r\n\r\n",
		check: func(rs []result) error {
			return bodyHas(rs[0], "host=example.com uri=http://example.com/?q=1 path=/ query=q=1")
		},
	},
	{
		name: "OPTIONS asterisk reaches the handler", h: echo,
		send:  "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
		check: func(rs []result) error { return bodyHas(rs[0], "OPTIONS * HTTP/1.1", "path=*") },
	},
	{
		name: "CONNECT authority-form", h: echo, std: true,
		send:  "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
		check: func(rs []result) error { return bodyHas(rs[0], "host=example.com:443 uri=//example.com:443") },
	},
	{
		name: "empty lines before the request line", h: writeString("ok"),
		send:  "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		check: func(rs []result) error { return wantStatuses(rs, 200) },
	},
	{
		name: "lower-case names are canonical", h: echo, std: true,
		send:  "GET / HTTP/1.1\r\nhost: a\r\nuser-agent: x\r\nx-custom-thing: y\r\naccept: */*\r\n\r\n",
		check: func(rs []result) error { return bodyHas(rs[0], "keys=[Accept User-Agent X-Custom-Thing]") },
	},
	{
		name: "identical repeated Content-Length", h: echo, std: true,
		send:  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
		check: func(rs []result) error { return bodyHas(rs[0], `cl=3`, `body="abc"`) },
	},
	{
		name: "Connection close is honoured", h: writeString("x"), std: true, closed: true,
		send:  "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
		check: func(rs []result) error { return wantClose(rs[0]) },
	},
	{
		name: "panic before writing gives 500", closed: true,
		h:     func(w http.ResponseWriter, r *http.Request) { panic("boom") },
		send:  "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		check: func(rs []result) error { return wantStatuses(rs, 500) },
	},
	{
		name: "header values with CR or LF are never written", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header()["X-Bad"] = []string{"a\r\nInjected: 1"}
			w.Header()["Bad Name"] = []string{"v"}
			w.Header().Set("X-Good", "ok")
		},
		send: "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		check: func(rs []result) error {
			return firstErr(checkHeader(rs[0], "Injected", ""), checkHeader(rs[0], "X-Bad", ""), checkHeader(rs[0], "X-Good", "ok"))
		},
	},
	{
		name: "nil Content-Type suppresses nothing but itself", std: true, h: func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = nil
			w.Write([]byte("<html>"))
		},
		send:  "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		check: func(rs []result) error { return checkHeader(rs[0], "Content-Type", "") },
	},
}

func checkHeader(r result, k, want string) error {
	if got := r.header.Get(k); got != want {
		return fmt.Errorf("got %s %q, want %q", k, got, want)
	}
	return nil
}

func wantClose(r result) error {
	if !r.close {
		return fmt.Errorf("got no Connection: close in %v", r)
	}
	return nil
}

func hasHeader(r result, k string) error {
	if _, ok := r.header[k]; !ok {
		return fmt.Errorf("no %s field in %v", k, r.header)
	}
	return nil
}

func checkProto(r result, want string) error {
	if r.proto != want {
		return fmt.Errorf("got proto %q, want %q", r.proto, want)
	}
	return nil
}

func checkTE(r result, want ...string) error {
	if fmt.Sprint(r.te) != fmt.Sprint(want) {
		return fmt.Errorf("got Transfer-Encoding %v, want %v", r.te, want)
	}
	return nil
}

func TestConformance(t *testing.T) {
	for _, kind := range []string{kindH1, kindStd} {
		for _, tc := range conformanceCases {
			if kind == kindStd && !tc.std {
				continue
			}
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				addr := start(t, kind, tc.h)
				methods := tc.methods
				if methods == nil {
					methods = []string{"GET"}
				}
				rs, c, br := roundTrip(t, addr, tc.send, methods...)
				if err := tc.check(rs); err != nil {
					t.Errorf("%v\nresponses: %v", err, rs)
				}
				if tc.closed {
					if err := closedAfter(c, br); err != nil {
						t.Error(err)
					}
				}
			})
		}
	}
}
