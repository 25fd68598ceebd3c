package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestMalformedRequestsNeverReachUpstream sends hostile requests on a raw
// socket through the whole stack (listener, router, proxy) and checks
// each gets a 4xx while the backend sees nothing.
func TestMalformedRequestsNeverReachUpstream(t *testing.T) {
	var hits atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.Copy(io.Discard, r.Body)
	}))
	defer backend.Close()
	_, url, _ := testInstance(t, proxyConfig(backend.URL))
	addr := strings.TrimPrefix(url, "http://")
	tests := []struct{ name, raw string }{
		{"content-length with transfer-encoding", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"conflicting content-lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde"},
		{"non-numeric content-length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4a\r\n\r\nabcd"},
		{"transfer-encoding not chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabcd"},
		{"control byte in header value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n"},
		{"space before colon", "GET / HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n"},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n"},
		{"bare LF line endings", "GET / HTTP/1.1\nHost: x\n\n"},
		{"bad request line", "GET /  HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"missing host", "GET / HTTP/1.1\r\n\r\n"},
		{"too many headers", "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-A: b\r\n", 101) + "\r\n"},
		{"headers too large", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 40<<10) + "\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, tt.raw)
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no response: %v", err)
			}
			res.Body.Close()
			// 501 is RFC 9112's answer to a transfer coding the server
			// does not implement; everything else is the client's fault.
			if (res.StatusCode < 400 || res.StatusCode > 499) && res.StatusCode != 501 {
				t.Fatalf("status %d, want 4xx or 501", res.StatusCode)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("backend received %d malformed requests, want 0", n)
	}
}

// TestBadChunkSizeIsNotForwardedWhole checks that a chunked body with an
// invalid chunk size never arrives at the backend as a complete request.
func TestBadChunkSizeIsNotForwardedWhole(t *testing.T) {
	var complete atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err == nil {
			complete.Add(1)
		}
	}))
	defer backend.Close()
	_, url, _ := testInstance(t, proxyConfig(backend.URL))
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\nzz\r\nxx\r\n0\r\n\r\n")
	io.ReadAll(c) // the connection ends, with a 400 or without a response
	if n := complete.Load(); n != 0 {
		t.Fatalf("backend received %d complete bodies, want 0", n)
	}
}

// TestH2CUpgradeIsNeverTunnelled: an HTTP/1.1 request asking to upgrade to
// h2c is proxied as a plain request, never switched.
func TestH2CUpgradeIsNeverTunnelled(t *testing.T) {
	got := make(chan http.Header, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		io.WriteString(w, "plain")
	}))
	defer backend.Close()
	_, url, _ := testInstance(t, proxyConfig(backend.URL))
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "plain" {
		t.Fatalf("got %d %q, want a plain 200", res.StatusCode, body)
	}
	h := <-got
	if h.Get("Upgrade") != "" || h.Get("Http2-Settings") != "" {
		t.Fatalf("backend saw upgrade headers: %v", h)
	}
}
