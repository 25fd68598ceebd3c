package router

import (
	"errors"
	"fmt"
	"github.com/portico-proxy/portico/internal/httpsyntax"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// maxHostLen is the longest DNS name (RFC 1035) and so the longest rule host.
const maxHostLen = 253

// hostKey is one rule host as filed in the table.
type hostKey struct {
	key  string // lowercase host, or the wildcard suffix with its dot
	wild bool
}

// compileRule validates one rule and returns what the table files for it,
// or every problem it has.
func compileRule(i int32, r *Rule) (compiled, []cand, []hostKey, []error) {
	var errs []error
	if r.Handler == nil {
		errs = append(errs, errors.New("no handler"))
	}
	cands, err := compilePath(i, r.Path, r.Exact)
	if err != nil {
		errs = append(errs, err)
	}
	hosts, herrs := compileHosts(r.Hosts)
	c := compiled{handler: r.Handler}
	var merrs, hderrs []error
	c.methods, merrs = compileMethods(r.Methods)
	c.headers, hderrs = compileHeaders(r.Headers)
	c.listeners, err = compileListeners(r.Listeners)
	errs = slices.Concat(errs, herrs, merrs, hderrs)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return compiled{}, nil, nil, errs
	}
	return c, cands, hosts, nil
}

// compilePath returns the candidates of a rule path: one, or two for a
// trailing-slash prefix, which also matches its bare form.
func compilePath(i int32, p string, exact bool) ([]cand, error) {
	raw := p
	p, err := decodePath(p)
	if err != nil {
		return nil, fmt.Errorf("path %q: %w", raw, err)
	}
	switch {
	case exact:
		return []cand{{path: p, size: int32(len(p)), rule: i, kind: kindExact}}, nil
	case p == "/":
		return []cand{{path: p, size: 1, rule: i, kind: kindRoot}}, nil
	case strings.HasSuffix(p, "/"):
		bare := p[:len(p)-1]
		return []cand{
			{path: p, size: int32(len(p)), rule: i, kind: kindSlash},
			{path: bare, size: int32(len(bare)), rule: i, kind: kindImplied},
		}, nil
	default:
		return []cand{{path: p, size: int32(len(p)), rule: i, kind: kindSegment}}, nil
	}
}

// decodePath checks a rule path as written and returns it percent-decoded,
// the form request paths are matched in: "/my%20files" names the request
// "/my%20files", whose path is "/my files". It rejects paths that are
// malformed or that no cleaned request path can match.
func decodePath(p string) (string, error) {
	if p == "" {
		return "", errors.New(`empty; use "/" to match every path`)
	}
	if p[0] != '/' {
		return "", errors.New(`must start with "/"`)
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c == '?' || c == '#' {
			return "", fmt.Errorf("%q: a route matches the path only, not the query or fragment", c)
		}
	}
	if strings.IndexByte(p, '%') >= 0 {
		// A "%" that starts no escape ("/100%") stays itself, as such a
		// rule always matched: configs written before escapes were decoded
		// keep their meaning.
		if d, err := url.PathUnescape(p); err == nil {
			p = d
		}
	}
	return p, checkPath(p)
}

// checkPath rejects decoded paths that no cleaned request path can match.
func checkPath(p string) error {
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f {
			return fmt.Errorf("control byte %#x", c)
		}
	}
	if strings.Contains(p, "//") {
		return errors.New(`contains "//"; request paths are cleaned, so it would never match`)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return fmt.Errorf("contains a %q segment; request paths are cleaned, so it would never match", seg)
		}
	}
	return nil
}

// compileHosts normalises and de-duplicates rule hosts.
func compileHosts(hosts []string) ([]hostKey, []error) {
	var keys []hostKey
	var errs []error
	for _, h := range hosts {
		k, err := compileHost(h)
		if err != nil {
			errs = append(errs, fmt.Errorf("host %q: %w", h, err))
			continue
		}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys, errs
}

// compileHost turns "Example.COM." into "example.com", "*.example.com" into
// the suffix ".example.com" and "[::1]" into "::1".
func compileHost(h string) (hostKey, error) {
	switch {
	case h == "":
		return hostKey{}, errors.New("empty")
	case h == "*":
		return hostKey{}, errors.New("not a host; leave hosts empty to match any host")
	case strings.HasPrefix(h, "["):
		if !strings.HasSuffix(h, "]") {
			return hostKey{}, errors.New(`IPv6 literal without its closing "]" (a port belongs to the listener, not the route)`)
		}
		return compileIPv6(h[1 : len(h)-1])
	case strings.Contains(h, ":"):
		return compileIPv6(h)
	}
	h = strings.TrimSuffix(h, ".")
	name, wild := strings.CutPrefix(h, "*.")
	if err := checkDNSName(name); err != nil {
		return hostKey{}, err
	}
	key := asciiLower(name)
	if wild {
		key = "." + key
	}
	return hostKey{key: key, wild: wild}, nil
}

func compileIPv6(s string) (hostKey, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() || len(s) > maxHostLen {
		return hostKey{}, errors.New("neither a DNS name nor an IPv6 address (a port belongs to the listener, not the route)")
	}
	return hostKey{key: asciiLower(s)}, nil
}

// checkDNSName accepts dot-separated labels of letters, digits, '-' and '_'.
func checkDNSName(name string) error {
	if name == "" {
		return errors.New("empty name")
	}
	if len(name) > maxHostLen {
		return fmt.Errorf("longer than %d bytes", maxHostLen)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" {
			return errors.New("empty label")
		}
		if len(label) > 63 {
			return errors.New("label longer than 63 bytes")
		}
		for i := 0; i < len(label); i++ {
			switch c := label[i]; {
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
			case c == '*':
				return errors.New(`a wildcard is allowed only as a leading "*."`)
			case c >= 0x80:
				return errors.New("non-ASCII; use the punycode (xn--) form")
			default:
				return fmt.Errorf("invalid character %q", c)
			}
		}
	}
	return nil
}

// compileMethods checks method names; methods are case-sensitive, so "get"
// is rejected rather than silently never matching a client's GET.
func compileMethods(methods []string) ([]string, []error) {
	var out []string
	var errs []error
	for _, m := range methods {
		switch {
		case !httpsyntax.ValidToken(m):
			errs = append(errs, fmt.Errorf("method %q: not a valid method name", m))
		case strings.ToUpper(m) != m:
			errs = append(errs, fmt.Errorf("method %q: methods are case-sensitive; write %q", m, strings.ToUpper(m)))
		case !slices.Contains(out, m):
			out = append(out, m)
		}
	}
	return out, errs
}

// compileHeaders canonicalises header names and rejects pairs that no
// request could carry.
func compileHeaders(headers [][2]string) ([][2]string, []error) {
	var out [][2]string
	var errs []error
	for _, h := range headers {
		name, value := h[0], h[1]
		switch {
		case !httpsyntax.ValidToken(name):
			errs = append(errs, fmt.Errorf("header %q: not a valid header name", name))
			continue
		case strings.EqualFold(name, "Host"):
			errs = append(errs, errors.New(`header "Host": use hosts to match the host`))
			continue
		}
		if err := checkHeaderValue(value); err != nil {
			errs = append(errs, fmt.Errorf("header %q value %q: %w", name, value, err))
			continue
		}
		p := [2]string{http.CanonicalHeaderKey(name), value}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, errs
}

func checkHeaderValue(v string) error {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return fmt.Errorf("control byte %#x", c)
		}
	}
	if strings.Trim(v, " \t") != v {
		return errors.New("leading or trailing space, which clients' values never keep")
	}
	return nil
}

func compileListeners(names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		if n == "" {
			return nil, errors.New(`empty listener name`)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}
