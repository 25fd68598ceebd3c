package httpreq

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"
)

func TestCanonicalKey(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Host", "Host"}, {"host", "Host"}, {"USER-AGENT", "User-Agent"}, {"x-custom-thing", "X-Custom-Thing"},
		{"X-Custom", "X-Custom"}, {"content-length", "Content-Length"}, {"a_b", "A_b"}, {"Www-authenticate", "Www-Authenticate"},
	}
	for _, tc := range cases {
		if got := CanonicalKey(tc.in); got != tc.want || got != http.CanonicalHeaderKey(tc.in) {
			t.Errorf("CanonicalKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { CanonicalKey("user-agent") }); n != 0 {
		t.Errorf("got %v allocations for a common lower-case name, want 0", n)
	}
}

// TestRequestContext: contexts derived from a request's context are
// cancelled with it, through AfterFunc (no goroutine), and can be
// stopped.
func TestRequestContext(t *testing.T) {
	var c Context
	c.SetParent(context.WithValue(context.Background(), http.LocalAddrContextKey, "addr"))
	child, cancelChild := context.WithCancel(&c)
	timed, cancelTimed := context.WithTimeout(&c, time.Hour)
	defer cancelTimed()
	stopped, cancelStopped := context.WithCancel(&c)
	cancelStopped() // unregisters
	ran := make(chan struct{})
	context.AfterFunc(&c, func() { close(ran) })
	if c.Err() != nil || child.Err() != nil || c.Value(http.LocalAddrContextKey) != "addr" {
		t.Fatal("context done before cancel")
	}
	if n := len(c.afters); n != 3 {
		t.Errorf("got %d registered functions, want 3", n)
	}
	var wg sync.WaitGroup
	for range 4 { // concurrent cancels are safe
		wg.Add(1)
		go func() { defer wg.Done(); c.Cancel() }()
	}
	wg.Wait()
	<-child.Done()
	<-timed.Done()
	<-ran
	for _, ctx := range []context.Context{&c, child, timed} {
		if ctx.Err() != context.Canceled || context.Cause(ctx) != context.Canceled {
			t.Errorf("%v: got %v, want context.Canceled", ctx, ctx.Err())
		}
	}
	if stopped.Err() != context.Canceled {
		t.Errorf("stopped child: got %v", stopped.Err())
	}
	cancelChild()
	late, cancelLate := context.WithCancel(&c)
	defer cancelLate()
	<-late.Done() // derived after cancellation: done at once
}

// TestDate: one formatted Date a second, in both engines' shapes, and no
// allocation on the hot path.
func TestDate(t *testing.T) {
	d := Now()
	got, err := http.ParseTime(d.Text)
	if err != nil || time.Since(got) > 2*time.Second {
		t.Fatalf("Text %q: %v, %v", d.Text, got, err)
	}
	if string(d.Line) != "Date: "+d.Text+"\r\n" {
		t.Errorf("Line %q does not match Text %q", d.Line, d.Text)
	}
	if n := testing.AllocsPerRun(1000, func() { Now() }); n > 0.01 {
		t.Errorf("%v allocations per call, want 0 within a second", n)
	}
}

func TestAddTrailerNames(t *testing.T) {
	cases := []struct {
		lists []string
		want  []string
	}{
		{nil, nil},
		{[]string{""}, nil},
		{[]string{"grpc-status"}, []string{"Grpc-Status"}},
		{[]string{" x-sum ,, Checksum", "expires"}, []string{"X-Sum", "Checksum", "Expires"}},
		{[]string{"bad name, ok"}, []string{"Ok"}},
	}
	for _, tc := range cases {
		var h http.Header
		for _, l := range tc.lists {
			h = AddTrailerNames(h, l)
		}
		if len(h) != len(tc.want) {
			t.Errorf("%q: got %v, want %v", tc.lists, h, tc.want)
			continue
		}
		for _, k := range tc.want {
			if v, ok := h[k]; !ok || v != nil {
				t.Errorf("%q: %s missing or not nil in %v", tc.lists, k, h)
			}
		}
	}
}
