package upstream

import (
	"net"
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

// connectionListed reports whether header k is named in the Connection
// header values, which makes it hop-by-hop as well.
func connectionListed(connection []string, k string) bool {
	for _, v := range connection {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(tok), k) {
				return true
			}
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
	host := remoteAddr
	if i := strings.LastIndexByte(remoteAddr, ':'); i >= 0 {
		host = remoteAddr[:i]
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}

// forwarded holds the values Portico sends upstream for one request.
type forwarded struct {
	xff, proto, host, rfc7239 string
}

// forwardingFor computes X-Forwarded-For/Proto/Host and Forwarded. From an
// untrusted peer the incoming values are replaced; from a trusted one the
// peer is appended to the chain and Proto/Host are kept.
func forwardingFor(r *http.Request, trust *Trust) forwarded {
	ip := peerIP(r.RemoteAddr)
	ipText := ip.String()
	if !ip.IsValid() {
		ipText, _, _ = net.SplitHostPort(r.RemoteAddr)
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	f := forwarded{xff: ipText, proto: proto, host: r.Host}
	node := ipText
	if ip.Is6() {
		node = `"[` + ipText + `]"`
	}
	f.rfc7239 = "for=" + node + ";host=" + quoteForwarded(r.Host) + ";proto=" + proto
	if !trust.trusted(ip) {
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
		f.rfc7239 = strings.Join(prior, ", ") + ", " + f.rfc7239
	}
	return f
}

// quoteForwarded quotes a Forwarded parameter value unless it is a token
// (RFC 7239 section 4): host:port has a colon and must be quoted.
func quoteForwarded(v string) string {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return `"` + strings.ReplaceAll(strings.ReplaceAll(v, `\`, `\\`), `"`, `\"`) + `"`
		}
	}
	return v
}
