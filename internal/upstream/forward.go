package upstream

import (
	"github.com/portico-proxy/portico/internal/httpsyntax"
	"net/http"
	"net/netip"
	"strings"
)

// hopHeaders are meaningful for one connection only and never forwarded
// (RFC 9110 section 7.6.1), in either direction. Te is handled on its own:
// "trailers" is forwarded because gRPC needs it.
var hopHeaders = [...]string{
	"Connection",
	"Proxy-Connection",
	"Keep-Alive",
	"Proxy-Authenticate",
	"Proxy-Authorization",
	"Te",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
}

func isHopHeader(k string) bool {
	for _, h := range hopHeaders {
		if k == h {
			return true
		}
	}
	return false
}

// forwardingHeaders are the ones Portico writes itself; incoming copies are
// kept only from trusted proxies.
var forwardingHeaders = [...]string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded"}

func isForwardingHeader(k string) bool {
	for _, h := range forwardingHeaders {
		if k == h {
			return true
		}
	}
	return false
}

// Trust says which downstream peers may set forwarding headers.
type Trust struct {
	prefixes []netip.Prefix
}

// NewTrust builds a Trust from CIDR prefixes; nil trusts nobody.
func NewTrust(prefixes []netip.Prefix) *Trust {
	return &Trust{prefixes: prefixes}
}

func (t *Trust) trusted(ip netip.Addr) bool {
	if t == nil || !ip.IsValid() {
		return false
	}
	ip = ip.Unmap()
	for _, p := range t.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// peerIP parses r.RemoteAddr without allocating.
func peerIP(remoteAddr string) netip.Addr {
	ip, err := netip.ParseAddr(hostOf(remoteAddr))
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}

// ForwardedHeaders says which forwarding headers a route sends upstream.
// The zero value sends both kinds.
type ForwardedHeaders uint8

const (
	ForwardBoth       ForwardedHeaders = iota // X-Forwarded-For/Proto/Host and Forwarded
	ForwardXForwarded                         // X-Forwarded-For/Proto/Host only
	ForwardRFC7239                            // Forwarded only
	ForwardNone                               // none: the backend does not use them
)

func (f ForwardedHeaders) xForwarded() bool { return f == ForwardBoth || f == ForwardXForwarded }
func (f ForwardedHeaders) rfc7239() bool    { return f == ForwardBoth || f == ForwardRFC7239 }

// forwarded holds the values Portico sends upstream for one request. The
// common case (an untrusted peer) is built from substrings of the request
// and costs no allocation.
type forwarded struct {
	xff   string // full X-Forwarded-For value
	proto string
	host  string
	node  string // the client for Forwarded: an IPv4 address or a quoted "[v6]"
	// prior is the incoming Forwarded value kept from a trusted peer.
	prior string
	send  ForwardedHeaders
}

// forwardingFor computes X-Forwarded-For/Proto/Host and Forwarded, the
// ones p sends. From an untrusted peer the incoming values are replaced;
// from a trusted one the peer is appended to the chain and Proto/Host are
// kept. Incoming copies are dropped in any case (isForwardingHeader).
func (p *Proxy) forwardingFor(r *http.Request) forwarded {
	if p.Forwarded == ForwardNone {
		return forwarded{send: ForwardNone}
	}
	trust := p.Trust
	ipText := hostOf(r.RemoteAddr)
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	f := forwarded{xff: ipText, proto: proto, host: r.Host, node: ipText, send: p.Forwarded}
	if strings.IndexByte(ipText, ':') >= 0 {
		f.node = `"[` + ipText + `]"`
	}
	if trust == nil || len(trust.prefixes) == 0 || !trust.trusted(peerIP(r.RemoteAddr)) {
		return f
	}
	if prior := r.Header["X-Forwarded-For"]; len(prior) > 0 {
		f.xff = strings.Join(prior, ", ") + ", " + ipText
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		f.proto = p
	}
	if h := r.Header.Get("X-Forwarded-Host"); h != "" {
		f.host = h
	}
	if prior := r.Header["Forwarded"]; len(prior) > 0 {
		f.prior = strings.Join(prior, ", ")
	}
	return f
}

// hostOf is the host part of a host:port address, without brackets.
func hostOf(addr string) string {
	host := addr
	if i := strings.LastIndexByte(addr, ':'); i >= 0 && strings.IndexByte(addr[i:], ']') < 0 {
		host = addr[:i]
	}
	return strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
}

// rfc7239 is the Forwarded header value (RFC 7239 section 4).
func (f *forwarded) rfc7239() string {
	var b strings.Builder
	f.writeRFC7239(&b)
	return b.String()
}

type stringWriter interface {
	WriteString(string) (int, error)
	WriteByte(byte) error
}

func (f *forwarded) writeRFC7239(w stringWriter) {
	if f.prior != "" {
		w.WriteString(f.prior)
		w.WriteString(", ")
	}
	w.WriteString("for=")
	w.WriteString(f.node)
	w.WriteString(";host=")
	writeForwardedValue(w, f.host)
	w.WriteString(";proto=")
	w.WriteString(f.proto)
}

// writeForwardedValue writes a Forwarded parameter value, quoted unless it
// is a token: host:port has a colon and must be quoted.
func writeForwardedValue(w stringWriter, v string) {
	token := v != ""
	for i := 0; i < len(v) && token; i++ {
		token = httpsyntax.IsTokenChar(v[i])
	}
	if token {
		w.WriteString(v)
		return
	}
	w.WriteByte('"')
	for i := 0; i < len(v); i++ {
		if v[i] == '"' || v[i] == '\\' {
			w.WriteByte('\\')
		}
		w.WriteByte(v[i])
	}
	w.WriteByte('"')
}
