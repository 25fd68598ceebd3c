package h1

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func fuzzSeeds(f *testing.F) {
	f.Add([]byte(sixHeaders))
	f.Add([]byte("POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n"))
	f.Add([]byte("GET http://example.com/p?q HTTP/1.1\r\nhost: b\r\ncontent-length: 3\r\n\r\n"))
	f.Add([]byte("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"))
	f.Add([]byte("OPTIONS * HTTP/1.0\r\nConnection: keep-alive, x\r\nExpect: 100-continue\r\n\r\n"))
	f.Add([]byte("PRI * HTTP/2.0\r\n\r\n"))
	for _, tc := range rejectCases {
		if len(tc.send) < 512 {
			f.Add([]byte(tc.send))
		}
	}
}

// FuzzParseRequestHead: random bytes never panic; an accepted head has
// valid parts and parses the same after being written out again.
func FuzzParseRequestHead(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		end, reason := findHeadEnd(data, 0)
		if reason != "" || end == 0 {
			return
		}
		var ph parsedHead
		if status, _ := parseHead(string(data[:end]), &ph, 100); status != 0 {
			return
		}
		checkAccepted(t, &ph)
		again := serialize(&ph)
		var ph2 parsedHead
		if status, r := parseHead(again, &ph2, 100); status != 0 {
			t.Fatalf("re-parse of %q: %d %s", again, status, r)
		}
		if a, b := describe(&ph), describe(&ph2); a != b {
			t.Fatalf("round trip changed the head:\n%s\n%s", a, b)
		}
		c := &conn{remoteAddr: "192.0.2.1:1", baseCtx: context.Background()}
		ex := new(exchange)
		if st, _ := c.buildRequest(ex, &ph); st == 0 {
			checkURL(t, &ph, ex.req.URL)
		}
	})
}

func checkAccepted(t *testing.T, ph *parsedHead) {
	if !validName(ph.method) || ph.target == "" || !allClass(ph.target, cTarget) {
		t.Fatalf("accepted request line %q %q", ph.method, ph.target)
	}
	for _, f := range ph.fields {
		if !validName(f.key) || f.key != http.CanonicalHeaderKey(f.key) || !validValue(f.val) || f.val != trimOWS(f.val) {
			t.Fatalf("accepted field %q: %q", f.key, f.val)
		}
	}
	if ph.contentLength >= 0 && ph.chunked {
		t.Fatal("accepted Content-Length with chunked")
	}
}

func checkURL(t *testing.T, ph *parsedHead, u *url.URL) {
	var fast url.URL
	if ph.target[0] == '/' && fastOriginForm(ph.target, &fast) {
		want, err := url.ParseRequestURI(ph.target)
		if err != nil || *want != fast {
			t.Fatalf("%q: fast path %#v, url %#v %v", ph.target, fast, want, err)
		}
	}
}

// serialize writes a parsed head out again.
func serialize(ph *parsedHead) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s\r\n", ph.method, ph.target, ph.proto)
	if ph.hosts > 0 {
		fmt.Fprintf(&b, "Host: %s\r\n", ph.host)
	}
	if ph.teCount > 0 {
		b.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if ph.expectContinue {
		b.WriteString("Expect: 100-continue\r\n")
	}
	for _, f := range ph.fields {
		fmt.Fprintf(&b, "%s: %s\r\n", f.key, f.val)
	}
	b.WriteString("\r\n")
	return b.String()
}

func describe(ph *parsedHead) string {
	return fmt.Sprintf("%q %q %q %d %v host=%q/%d cl=%d chunked=%v close=%v ka=%v expect=%v pri=%v",
		ph.method, ph.target, ph.proto, ph.minor, ph.fields, ph.host, ph.hosts, ph.contentLength,
		ph.chunked, ph.connClose, ph.keepAlive, ph.expectContinue, ph.preface)
}

// FuzzChunkedBody: the chunked body reader never panics, never returns
// more than the input holds, and only ends cleanly on a complete body.
func FuzzChunkedBody(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte("3;x=y\r\nabc\r\n0\r\nX-T: v\r\n\r\n"))
	f.Add([]byte("ffffffffffffffff\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := NewServer(http.NotFoundHandler(), Options{})
		c := &conn{s: s, br: bufio.NewReaderSize(bytes.NewReader(data), 64)}
		b := &body{c: c, w: &response{}, req: &http.Request{}, chunked: true}
		out, err := io.ReadAll(b)
		if len(out) > len(data) {
			t.Fatalf("read %d bytes from %d", len(out), len(data))
		}
		if err == nil && !b.sawEOF {
			t.Fatal("clean end without the last chunk")
		}
	})
}
