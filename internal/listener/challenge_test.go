package listener

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"

	"github.com/portico-proxy/portico/internal/config"
)

// TestACMEHTTP01OnlyTheExactChallengePath: a plain listener answers
// GET /.well-known/acme-challenge/<token> for a pending challenge's
// host and nothing else; every other request (other token, extra
// segments, dot segments, another method or host) goes on to the
// redirect or the routes. The pending challenge is put in the ACME
// storage as another instance sharing it would (no CA needed).
func TestACMEHTTP01OnlyTheExactChallengePath(t *testing.T) {
	storage := t.TempDir()
	challenges := &Challenges{}
	opts := Options{Challenges: challenges}
	tlsl := config.Listener{TLS: &config.TLS{ACME: &config.ACME{Email: "ops@example.com", Domains: []string{"example.com"},
		CA: "https://127.0.0.1:" + strconv.Itoa(freePort(t)) + "/dir", Storage: storage, Challenges: []string{"http-01"}}}}
	tlsSrv := newListener(t, tlsl, opts, echoBackend(t).URL, nil)
	t.Cleanup(func() { tlsSrv.Shutdown(t.Context()) })
	challenges.add(tlsSrv.acme) // as Serve does, without asking the CA

	const token = "tok-EN_123"
	chal := acme.Challenge{Type: "http-01", Status: "pending", Token: token, KeyAuthorization: token + ".thumbprint",
		Identifier: acme.Identifier{Type: "dns", Value: "example.com"}}
	data, _ := json.Marshal(chal)
	file := filepath.Join(storage, "acme", certmagic.StorageKeys.Safe(tlsSrv.acme.issuer.IssuerKey()), "challenge_tokens",
		certmagic.StorageKeys.Safe("example.com")+".json")
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}

	redirect := serveListener(t, config.Listener{RedirectHTTPS: &config.RedirectHTTPS{Port: 443}}, opts, echoBackend(t).URL, nil)
	routes := serveListener(t, config.Listener{}, opts, echoBackend(t).URL, nil)
	const path = "/.well-known/acme-challenge/"
	for _, tt := range []struct {
		name, method, target, host string
		answered                   bool
	}{
		{"the challenge", "GET", path + token, "example.com", true},
		{"the challenge, host with port and in capitals", "GET", path + token, "EXAMPLE.com:80", true},
		{"another token", "GET", path + "other", "example.com", false},
		{"no token", "GET", path, "example.com", false},
		{"an extra segment", "GET", path + token + "/x", "example.com", false},
		{"a trailing slash", "GET", path + token + "/", "example.com", false},
		{"a query is not part of the path", "GET", path + token + "?x=1", "example.com", true},
		{"dot segments", "GET", path + "x/../" + token, "example.com", false},
		{"traversal out of the challenge path", "GET", path + "../../" + token, "example.com", false},
		{"encoded traversal", "GET", path + "%2e%2e/" + token, "example.com", false},
		{"encoded slash", "GET", path + "x%2F" + token, "example.com", false},
		{"POST", "POST", path + token, "example.com", false},
		{"HEAD", "HEAD", path + token, "example.com", false},
		{"another host", "GET", path + token, "other.test", false},
		{"a path that only starts alike", "GET", "/.well-known/acme-challengeX/" + token, "example.com", false},
	} {
		req := tt.method + " " + tt.target + " HTTP/1.1\r\nHost: " + tt.host + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
		code, body := rawRequest(t, redirect.Addr().String(), nil, req)
		switch {
		case tt.answered && (code != 200 || body != token+".thumbprint"):
			t.Errorf("%s, redirect listener: got %d %q, want the key authorization", tt.name, code, body)
		case !tt.answered && code != 308:
			t.Errorf("%s, redirect listener: got %d %q, want the redirect", tt.name, code, body)
		}
		code, body = rawRequest(t, routes.Addr().String(), nil, req)
		switch {
		case tt.answered && (code != 200 || body != token+".thumbprint"):
			t.Errorf("%s, routes listener: got %d %q, want the key authorization", tt.name, code, body)
		case !tt.answered && (code != 200 || body != "hello from backend" && tt.method != "HEAD"):
			t.Errorf("%s, routes listener: got %d %q, want the backend's answer", tt.name, code, body)
		}
	}
	// Without a manager (ACME off everywhere) the path is an ordinary one.
	challenges.remove(tlsSrv.acme)
	if code, _ := rawRequest(t, redirect.Addr().String(), nil, "GET "+path+token+" HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"); code != 308 {
		t.Errorf("no ACME manager: got %d, want the redirect", code)
	}
}
