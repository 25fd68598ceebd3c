package cache

import (
	"errors"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/httpsyntax"
)

// Route is the cache handler of one route in one generation. Everything
// derived from config is computed here, once, so a request only reads it.
type Route struct {
	c          *Cache
	next       http.Handler
	defaultTTL time.Duration
	maxObject  int64

	keyHeaders   []string // canonical names
	keyCookies   []string
	query        string // keep | sort | ignore
	ignoreParams []string

	bypassPaths   []string
	bypassHeaders []string
	bypassCookies []string

	purge      bool
	purgeAllow []netip.Prefix

	// plainKey: the key is host, path and query as sent, so a hit can be
	// looked up without building it (fastHit).
	plainKey bool
}

// NewRoute builds the cache handler for a route with cache options cfg,
// in front of next.
func (c *Cache) NewRoute(cfg *config.RouteCache, next http.Handler) (*Route, error) {
	if c == nil {
		return nil, errors.New("cache: no cache was built for this process")
	}
	rt := &Route{
		c: c, next: next,
		defaultTTL:    cfg.DefaultTTL,
		maxObject:     cfg.MaxObject,
		keyCookies:    slices.Clone(cfg.Key.Cookies),
		query:         cfg.Key.Query,
		ignoreParams:  slices.Clone(cfg.Key.IgnoreParams),
		bypassPaths:   slices.Clone(cfg.Bypass.Paths),
		bypassCookies: slices.Clone(cfg.Bypass.Cookies),
	}
	if rt.maxObject <= 0 {
		rt.maxObject = config.DefaultCacheMaxObject
	}
	if rt.query == "" {
		rt.query = config.DefaultCacheQuery
	}
	for _, h := range cfg.Key.Headers {
		rt.keyHeaders = append(rt.keyHeaders, http.CanonicalHeaderKey(h))
	}
	for _, h := range cfg.Bypass.Headers {
		rt.bypassHeaders = append(rt.bypassHeaders, http.CanonicalHeaderKey(h))
	}
	rt.plainKey = len(rt.keyHeaders) == 0 && len(rt.keyCookies) == 0 &&
		rt.query == "keep" && len(rt.ignoreParams) == 0
	if cfg.Purge != nil {
		rt.purge = true
		for _, p := range cfg.Purge.Allow {
			rt.purgeAllow = append(rt.purgeAllow, p.Net)
		}
	}
	return rt, nil
}

// bypassed reports a request the route's bypass rules send past the cache.
func (rt *Route) bypassed(r *http.Request) bool {
	for _, p := range rt.bypassPaths {
		if strings.HasPrefix(r.URL.Path, p) {
			return true
		}
	}
	for _, h := range rt.bypassHeaders {
		if len(r.Header[h]) > 0 {
			return true
		}
	}
	for _, name := range rt.bypassCookies {
		if _, err := r.Cookie(name); err == nil {
			return true
		}
	}
	// A protocol upgrade (WebSocket) is a tunnel, not a response.
	return len(r.Header["Upgrade"]) > 0
}

// keys returns the URL part of the key (host lowercased, path, query as
// the route's key options say) and the primary key: URL, a NUL, then the
// configured header and cookie values. Purge by URL removes every key that
// starts with URL+NUL. The common case is one allocation.
func (rt *Route) keys(r *http.Request) (url, key string) {
	host := r.Host
	if hasUpper(host) {
		host = strings.ToLower(host)
	}
	q := r.URL.RawQuery
	if q != "" && rt.query != "ignore" && (rt.query == "sort" || len(rt.ignoreParams) > 0) {
		q = rt.normalQuery(q)
	}
	// The path as sent, escaped: the upstream gets r.URL.EscapedPath(),
	// so /a%2Fb and /a/b (or /p%3Fx and /p?x) are different resources and
	// must not share an entry.
	path := r.URL.EscapedPath()
	if q == "" || rt.query == "ignore" {
		key = host + path + "\x00"
	} else {
		key = host + path + "?" + q + "\x00"
	}
	url = key[:len(key)-1]
	if len(rt.keyHeaders) == 0 && len(rt.keyCookies) == 0 {
		return url, key
	}
	var b strings.Builder
	b.WriteString(key)
	for _, h := range rt.keyHeaders {
		b.WriteString(strings.Join(r.Header[h], ","))
		b.WriteByte(0)
	}
	for _, name := range rt.keyCookies {
		if ck, err := r.Cookie(name); err == nil {
			b.WriteString(ck.Value)
		}
		b.WriteByte(0)
	}
	return url, b.String()
}

// normalQuery drops ignored parameters and, with query: sort, sorts the
// rest, so equivalent URLs share an entry.
func (rt *Route) normalQuery(q string) string {
	parts := strings.Split(q, "&")
	parts = slices.DeleteFunc(parts, func(p string) bool {
		name, _, _ := strings.Cut(p, "=")
		return p == "" || slices.Contains(rt.ignoreParams, name)
	})
	if rt.query == "sort" {
		slices.Sort(parts)
	}
	return strings.Join(parts, "&")
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// varyNames lists the request headers a response varies on, canonical and
// sorted so the variant key does not depend on their order.
func varyNames(h http.Header) []string {
	var out []string
	for _, line := range h["Vary"] {
		for f := range strings.SplitSeq(line, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, http.CanonicalHeaderKey(f))
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// variantKey is the key of the variant of primary that r selects under
// the Vary names. Each name is part of the key, so a variant stored under
// another Vary (the origin changed it) is never selected by a request
// whose values happen to match; and a field the request lacks is told
// apart from one it sent empty (RFC 9111 section 4.1).
func variantKey(primary string, names []string, r *http.Request) string {
	var b strings.Builder
	b.WriteString(primary)
	b.WriteByte(1)
	for _, n := range names {
		b.WriteString(n)
		if vals, ok := r.Header[n]; ok {
			b.WriteByte('=')
			b.WriteString(varyValue(n, vals))
		}
		b.WriteByte(0)
	}
	return b.String()
}

// varyValue normalises one request header for the variant key: lines
// joined, spaces around commas dropped. Accept-Encoding becomes the sorted
// set of codings it accepts among those that matter, so the thousands of
// browser spellings share a handful of variants.
func varyValue(name string, vals []string) string {
	if name == "Accept-Encoding" {
		return normalAcceptEncoding(vals)
	}
	var parts []string
	for _, v := range vals {
		for f := range strings.SplitSeq(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				parts = append(parts, f)
			}
		}
	}
	return strings.Join(parts, ",")
}

// variantCodings are the codings a variant key tells apart, in key order.
var variantCodings = [...]httpsyntax.Coding{httpsyntax.Brotli, httpsyntax.Deflate, httpsyntax.Gzip, httpsyntax.Zstd}

// codingSetKeys holds the key of every subset of variantCodings, by bit
// mask, so a request's key is looked up rather than built.
var codingSetKeys = func() (keys [1 << len(variantCodings)]string) {
	for mask := range keys {
		var names []string
		for i, c := range variantCodings {
			if mask&(1<<i) != 0 {
				names = append(names, c.Token())
			}
		}
		keys[mask] = strings.Join(names, ",")
	}
	return keys
}()

// normalAcceptEncoding is the sorted set of variantCodings the field
// accepts (a weight above zero, its own or that of "*").
func normalAcceptEncoding(vals []string) string {
	ae := httpsyntax.ParseAcceptEncoding(vals)
	mask := 0
	for i, c := range variantCodings {
		if ae.Q(c) > 0 {
			mask |= 1 << i
		}
	}
	return codingSetKeys[mask]
}
