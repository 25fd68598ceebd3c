package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// TestReloadKeepsTheCache: the stores belong to the process, so a reload
// that changes routes must not empty them.
func TestReloadKeepsTheCache(t *testing.T) {
	var hits atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		io.WriteString(w, "cached body")
	}))
	defer backend.Close()
	yaml := func(extra string) string {
		return "listeners:\n  - addr: \"127.0.0.1:0\"\nroutes:\n" + extra +
			"  - match: /\n    proxy: \"" + backend.URL + "\"\n    cache: true\n"
	}
	inst, base, path := testInstance(t, yaml(""))
	get := func() (string, string) {
		res, err := http.Get(base + "/page")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b), res.Header.Get("Cache-Status")
	}
	get()
	if _, cs := get(); cs != "Portico; hit" {
		t.Fatalf("before reload: Cache-Status %q, want a hit", cs)
	}
	if err := os.WriteFile(path, []byte(yaml("  - match: /other\n    respond: other\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := inst.reload(); err != nil {
		t.Fatal(err)
	}
	body, cs := get()
	if body != "cached body" || cs != "Portico; hit" {
		t.Fatalf("after reload: %q with Cache-Status %q, want the cached body as a hit", body, cs)
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("backend saw %d requests, want 1", n)
	}
}

// TestUnusableDiskCacheStartsWithMemoryOnly: a disk path that cannot be a
// directory is logged and the process serves from memory.
func TestUnusableDiskCacheStartsWithMemoryOnly(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "ok")
	}))
	defer backend.Close()
	_, base, _ := testInstance(t, "listeners:\n  - addr: \"127.0.0.1:0\"\nroutes:\n  - match: /\n    proxy: \""+
		backend.URL+"\"\n    cache: true\ncache:\n  disk: {path: \""+filepath.Join(file, "cache")+"\"}\n")
	for range 2 {
		res, err := http.Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("status %d", res.StatusCode)
		}
	}
}

// TestRedisDownAtStartIsNoErrorToClients: a configured Redis that is not
// there leaves a local cache; requests are answered and cached.
func TestRedisDownAtStartIsNoErrorToClients(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close() // nothing listens there now
	var hits atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "ok")
	}))
	defer backend.Close()
	_, base, _ := testInstance(t, "listeners:\n  - addr: \"127.0.0.1:0\"\nroutes:\n  - match: /\n    proxy: \""+
		backend.URL+"\"\n    cache: true\ncluster:\n  redis: \""+dead+"\"\n")
	for i := range 3 {
		res, err := http.Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("request %d: status %d", i, res.StatusCode)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("backend saw %d requests, want 1: the memory tier works without Redis", n)
	}
}
