package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestDemoServesEveryAdvertisedURL(t *testing.T) {
	var logBuf bytes.Buffer
	d, err := startDemo("127.0.0.1:0", &syncWriter{w: &logBuf})
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
}
