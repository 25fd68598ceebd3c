package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// The checks below return a message rather than an error: the caller adds
// the key path and position.

// splitAddr checks a listen address: an optional host, then a numeric
// port. Port 0 is allowed: the kernel picks one, which tests rely on.
func splitAddr(addr string) (host, port, msg string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "", fmt.Sprintf("%q is not host:port, such as \":8080\" or \"127.0.0.1:8080\"", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 || port != strconv.Itoa(n) {
		return "", "", fmt.Sprintf("port %q must be a number up to 65535", port)
	}
	if host != "" && !validHostname(host) {
		if _, err := netip.ParseAddr(host); err != nil {
			return "", "", fmt.Sprintf("%q is not an IP address or host name", host)
		}
	}
	return host, port, ""
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// isUnspecified reports a host that binds every interface, and so clashes
// with any other host on the same port.
func isUnspecified(host string) bool {
	if host == "" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsUnspecified()
}

// checkURL checks a backend URL and returns it with the port written out.
func checkURL(raw string) (string, string) {
	if !strings.Contains(raw, "://") {
		return "", fmt.Sprintf("%q needs a scheme, such as http://%s", raw, raw)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", fmt.Sprintf("%q is not a valid URL", raw)
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Sprintf("scheme %q is not supported; use http or https", u.Scheme)
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return "", fmt.Sprintf("%q needs a host, such as http://127.0.0.1:8080", raw)
	case u.User != nil:
		return "", "must not contain user info"
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#"):
		return "", "must not contain a query or fragment"
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Sprintf("port %q must be a number from 1 to 65535", port)
	}
	u.Host = net.JoinHostPort(u.Hostname(), port)
	return u.String(), ""
}

// checkMatchHost checks a match.host entry and returns it lowercased, as
// the router compares hosts.
func checkMatchHost(h string) (string, string) {
	l := strings.ToLower(h)
	switch {
	case l == "":
		return "", "host must not be empty"
	case l == "*":
		return "", `"*" is not needed: leave out host to match every host`
	case strings.Contains(l, "://"):
		return "", fmt.Sprintf("host %q must not include a scheme", h)
	case strings.Contains(l, "/"):
		return "", fmt.Sprintf("host %q must not include a path", h)
	}
	if strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]") {
		if a, err := netip.ParseAddr(l[1 : len(l)-1]); err == nil && a.Is6() {
			return l, ""
		}
	}
	if _, _, err := net.SplitHostPort(l); err == nil {
		return "", fmt.Sprintf("host %q must not include a port", h)
	}
	if a, err := netip.ParseAddr(l); err == nil && a.Is6() {
		return "", fmt.Sprintf("write IPv6 hosts in brackets: \"[%s]\"", h)
	}
	name := strings.TrimPrefix(l, "*.")
	if strings.Contains(name, "*") {
		return "", fmt.Sprintf("host %q: a wildcard must be a leading \"*.\", such as \"*.example.com\"", h)
	}
	if !validHostname(name) {
		return "", fmt.Sprintf("%q is not a valid host name", h)
	}
	return l, ""
}

// validHostname accepts DNS names and IPv4 literals. Underscores are
// allowed because real service names use them.
func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// isToken reports an RFC 9110 token: the syntax of header names and
// methods.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validHeaderValue refuses control characters, CR and LF above all: a
// header value from config must not be able to split a response.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// suggest returns `; did you mean "x"?` for the option closest to got, or
// "" when none is close enough to be a likely typo.
func suggest(got string, options []string) string {
	best := suggestion(got, options)
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// suggestion is the option within two edits of got, if any.
func suggestion(got string, options []string) string {
	best, bestDist := "", 3
	for _, o := range options {
		if d := editDistance(got, o); d < bestDist && d < len(o) {
			best, bestDist = o, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance, for short key names only.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
