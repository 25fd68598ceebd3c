package listener

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/portico-proxy/portico/internal/config"
)

// h2cRequest sends one request with the fields given (pseudo-fields
// included, as written) over h2c prior knowledge and returns the status
// and Location of the answer.
func h2cRequest(t *testing.T, addr string, fields [][2]string) (status, location string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, bufio.NewReader(c))
	fr.WriteSettings()
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range fields {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	dec := hpack.NewDecoder(4096, nil)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading the answer: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.HeadersFrame:
			hf, err := dec.DecodeFull(f.HeaderBlockFragment())
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range hf {
				switch h.Name {
				case ":status":
					status = h.Value
				case "location":
					location = h.Value
				}
			}
			return status, location
		case *http2.RSTStreamFrame:
			return "RST_STREAM " + f.ErrCode.String(), ""
		case *http2.GoAwayFrame:
			return "GOAWAY " + f.ErrCode.String(), ""
		}
	}
}

// TestRedirectHTTPSLocationOnlyFromAValidHost: the Location is the
// https URL of the request's host and target and nothing else; a Host
// that would make it point elsewhere (a path, userinfo, CR/LF, an
// unbracketed IPv6 address) gets a 400 or is refused by the engine.
func TestRedirectHTTPSLocationOnlyFromAValidHost(t *testing.T) {
	s := serveListener(t, config.Listener{RedirectHTTPS: &config.RedirectHTTPS{Port: 8443}}, Options{}, echoBackend(t).URL, nil)
	addr := s.Addr().String()
	// HTTP/1.1, as written on the wire.
	for _, tt := range []struct {
		name, target, host string
		status             int
		want               string
	}{
		{"name and port", "/a?b=c", "Example.com:8080", 308, "https://Example.com:8443/a?b=c"},
		{"IPv6 with port", "/p", "[::1]:8080", 308, "https://[::1]:8443/p"},
		{"IPv6 without port", "/p", "[2001:db8::1]", 308, "https://[2001:db8::1]:8443/p"},
		{"IPv4", "/p", "192.0.2.1", 308, "https://192.0.2.1:8443/p"},
		{"target starting with //", "//evil.test/x", "example.com", 308, "https://example.com:8443//evil.test/x"},
		{"absolute form: its authority is the host", "http://example.org/x", "example.com", 308, "https://example.org:8443/x"},
		{"OPTIONS *", "*", "example.com", 308, "https://example.com:8443/"},
		{"path in Host", "/", "evil.test/x", 400, ""},
		{"userinfo in Host", "/", "example.com@evil.test", 400, ""},
		{"bare CR in Host", "/", "example.com\rLocation: https://evil.test/", 400, ""},
		{"bare LF in Host", "/", "example.com\nLocation: https://evil.test/", 400, ""},
		{"space in Host", "/", "evil.test example.com", 400, ""},
		{"IPv6 without brackets", "/", "::1", 400, ""},
		{"IPv6 with a bad bracket", "/", "[::1", 400, ""},
		{"two ports", "/", "example.com:1:2", 400, ""},
	} {
		method := "GET"
		if tt.target == "*" {
			method = "OPTIONS"
		}
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, method+" "+tt.target+" HTTP/1.1\r\nHost: "+tt.host+"\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status || resp.Header.Get("Location") != tt.want {
			t.Errorf("%s: got %d %q, want %d %q", tt.name, resp.StatusCode, resp.Header.Get("Location"), tt.status, tt.want)
		}
	}
	// h2c: the Host field stands in for a missing :authority; the engine
	// holds it to :authority's rules and resets the stream of a bad one,
	// and the redirect refuses what those rules let through.
	for _, tt := range []struct {
		name   string
		fields [][2]string
		status string
		want   string
	}{
		{"authority", [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "example.com:80"}, {":path", "/p?q"}}, "308", "https://example.com:8443/p?q"},
		{"Host field", [][2]string{{":method", "GET"}, {":scheme", "http"}, {":path", "/p"}, {"host", "[::1]"}}, "308", "https://[::1]:8443/p"},
		{"path in the Host field", [][2]string{{":method", "GET"}, {":scheme", "http"}, {":path", "/p"}, {"host", "evil.test/x"}}, "RST_STREAM PROTOCOL_ERROR", ""},
		{"userinfo in the Host field", [][2]string{{":method", "GET"}, {":scheme", "http"}, {":path", "/p"}, {"host", "example.com@evil.test"}}, "RST_STREAM PROTOCOL_ERROR", ""},
		{"CR/LF in the Host field", [][2]string{{":method", "GET"}, {":scheme", "http"}, {":path", "/p"}, {"host", "example.com\r\nLocation: https://evil.test/"}}, "RST_STREAM PROTOCOL_ERROR", ""},
		{"CR/LF in :authority", [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "example.com\r\nx: y"}, {":path", "/p"}}, "RST_STREAM PROTOCOL_ERROR", ""},
		{"IPv6 without brackets in the Host field", [][2]string{{":method", "GET"}, {":scheme", "http"}, {":path", "/p"}, {"host", "::1"}}, "400", ""},
	} {
		status, loc := h2cRequest(t, addr, tt.fields)
		if status != tt.status || loc != tt.want {
			t.Errorf("h2c %s: got %s %q, want %s %q", tt.name, status, loc, tt.status, tt.want)
		}
	}
}
