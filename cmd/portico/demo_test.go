package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestDemoServesEveryAdvertisedURL(t *testing.T) {
	d, err := startDemo("127.0.0.1:0", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	defer d.inst.shutdown()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		path       string
		wantStatus int
		wantBody   string
	}{
		{"/", 200, "Portico demo"},
		{"/api/users", 200, `"Grace"`},
		{"/api/users/2", 200, `"Grace"`},
		{"/api/users/9", 404, "no such user"},
		{"/healthz", 200, "ok"},
		{"/old-home", 301, ""},
		{"/nothing-here", 404, ""},
	}
	for _, tt := range tests {
		res, err := client.Get(d.url + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tt.wantStatus || !strings.Contains(string(body), tt.wantBody) {
			t.Errorf("GET %s: got %d %q, want %d containing %q", tt.path, res.StatusCode, body, tt.wantStatus, tt.wantBody)
		}
		if res.Header.Get("X-Powered-By") != "" {
			t.Errorf("GET %s: X-Powered-By leaked through", tt.path)
		}
		if res.Header.Get("X-Request-Id") == "" {
			t.Errorf("GET %s: no X-Request-Id", tt.path)
		}
	}
	res, err := http.Get(d.url + "/api/echo")
	if err != nil {
		t.Fatal(err)
	}
	var echo struct {
		URI     string            `json:"uri"`
		Headers map[string]string `json:"headers"`
	}
	json.NewDecoder(res.Body).Decode(&echo)
	res.Body.Close()
	if echo.URI != "/echo" || echo.Headers["X-Forwarded-For"] != "127.0.0.1" || echo.Headers["X-Request-Id"] == "" {
		t.Errorf("echo: got %+v, want /echo with X-Forwarded-For and X-Request-Id", echo)
	}
	res, err = http.Get(d.url + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(res.Body)
	events := 0
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data: ") {
			events++
		}
	}
	res.Body.Close()
	if events != 5 {
		t.Errorf("events: got %d, want 5", events)
	}

	// The user list is cached, compressed, and served by a pool of two.
	var statuses []string
	for range 2 {
		req, _ := http.NewRequest("GET", d.url+"/api/users", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		statuses = append(statuses, res.Header.Get("Cache-Status"))
		if res.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("/api/users with Accept-Encoding gzip: Content-Encoding %q, want gzip", res.Header.Get("Content-Encoding"))
		}
	}
	// The table above fetched /api/users first and stored it.
	if !strings.Contains(statuses[0], "hit") || !strings.Contains(statuses[1], "hit") {
		t.Errorf("/api/users again: Cache-Status %q, want hits", statuses)
	}
	servedBy := map[string]bool{}
	for range 4 {
		res, err := http.Get(d.url + "/api/echo")
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			ServedBy string `json:"served_by"`
		}
		json.NewDecoder(res.Body).Decode(&e)
		res.Body.Close()
		servedBy[e.ServedBy] = true
	}
	if !servedBy["api-1"] || !servedBy["api-2"] {
		t.Errorf("/api/echo four times: served by %v, want both API backends", servedBy)
	}
	res, err = http.Get(d.adminURL + "/api/upstreams")
	if err != nil {
		t.Fatal(err)
	}
	var pools []struct {
		Name     string `json:"name"`
		Backends []struct {
			Healthy bool `json:"healthy"`
		} `json:"backends"`
	}
	json.NewDecoder(res.Body).Decode(&pools)
	res.Body.Close()
	if len(pools) != 2 || pools[0].Name != "api" || len(pools[0].Backends) != 2 {
		t.Errorf("admin /api/upstreams: got %+v, want the api pool of two and the site pool", pools)
	}
}
