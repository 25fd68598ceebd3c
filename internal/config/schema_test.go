package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// schemaKeys is every key the loader accepts, as a pattern: "[]" stands
// for a list index and "*" for a name chosen by the user. The tests below
// hold testdata/valid and docs/config.md to it, and it to the decoder.
var schemaKeys = []string{
	"admin", "admin.addr",
	"listeners", "listeners[].name", "listeners[].addr", "listeners[].tls",
	"listeners[].tls.certs", "listeners[].tls.certs[].cert", "listeners[].tls.certs[].key",
	"listeners[].tls.acme", "listeners[].http3", "listeners[].proxy_protocol",
	"listeners[].limits", "listeners[].limits.max_conns_per_ip",
	"listeners[].limits.max_header_bytes", "listeners[].limits.max_header_count",
	"listeners[].limits.read_header_timeout", "listeners[].limits.idle_timeout",
	"listeners[].limits.read_idle_timeout", "listeners[].limits.write_idle_timeout",
	"listeners[].limits.max_concurrent_streams", "listeners[].ip_filter",
	"listeners[].tls.acme.email", "listeners[].tls.acme.domains", "listeners[].tls.acme.ca",
	"listeners[].tls.acme.ca_root", "listeners[].tls.acme.storage", "listeners[].tls.acme.challenges",
	"listeners[].tls.min_version", "listeners[].tls.client_auth",
	"listeners[].tls.client_auth.mode", "listeners[].tls.client_auth.ca", "listeners[].tls.client_auth.header",
	"listeners[].redirect_https", "listeners[].redirect_https.port",
	"upstreams.*.tls", "upstreams.*.tls.ca", "upstreams.*.tls.server_name", "upstreams.*.tls.cert",
	"upstreams.*.tls.key", "upstreams.*.tls.insecure_skip_verify",
	"routes[].hsts", "routes[].hsts.max_age", "routes[].hsts.include_subdomains", "routes[].hsts.preload",
	"upstreams", "upstreams.*.backends", "upstreams.*.backends[].url",
	"upstreams.*.backends[].weight", "upstreams.*.balance", "upstreams.*.hash_key",
	"upstreams.*.health", "upstreams.*.health.path", "upstreams.*.health.interval",
	"upstreams.*.health.timeout", "upstreams.*.retries", "upstreams.*.protocol",
	"upstreams.*.connect_timeout", "upstreams.*.first_byte_timeout",
	"upstreams.*.max_idle_conns", "upstreams.*.idle_conn_timeout", "upstreams.*.tunnel_idle_timeout",
	"upstreams.*.health.status", "upstreams.*.health.rise", "upstreams.*.health.fall",
	"upstreams.*.sticky_cookie", "upstreams.*.retry_on", "upstreams.*.retry_budget",
	"upstreams.*.try_timeout", "upstreams.*.replay_body", "upstreams.*.max_conns",
	"upstreams.*.max_pending", "upstreams.*.eject", "upstreams.*.eject.failures",
	"upstreams.*.eject.duration", "upstreams.*.eject.max_duration", "upstreams.*.eject.max_percent",
	"upstreams.*.slow_start", "upstreams.*.resolve",
	"routes", "routes[].name", "routes[].match", "routes[].match.host",
	"routes[].match.path", "routes[].match.exact", "routes[].match.methods",
	"routes[].match.headers", "routes[].match.listener", "routes[].proxy",
	"routes[].redirect", "routes[].redirect.to", "routes[].redirect.status",
	"routes[].respond", "routes[].respond.status", "routes[].respond.headers",
	"routes[].respond.body", "routes[].static", "routes[].aggregate",
	"routes[].strip_prefix", "routes[].add_prefix", "routes[].host_header", "routes[].forwarded_headers",
	"routes[].headers", "routes[].headers.request", "routes[].headers.request.set",
	"routes[].headers.request.add", "routes[].headers.request.remove",
	"routes[].headers.response", "routes[].headers.response.set",
	"routes[].headers.response.add", "routes[].headers.response.remove",
	"routes[].rate_limit", "routes[].cache", "routes[].compress", "routes[].ip_filter",
	"routes[].static.root", "routes[].static.index", "routes[].static.browse",
	"routes[].static.spa_fallback", "routes[].static.precompressed", "routes[].static.cache_control",
	"routes[].static.dotfiles", "routes[].static.allow_symlinks",
	"routes[].compress.encodings", "routes[].compress.min_size", "routes[].compress.types",
	"routes[].compress.levels", "routes[].compress.levels.gzip", "routes[].compress.levels.br",
	"routes[].compress.levels.zstd",
	"trusted_proxies", "drain_timeout", "workers", "access_log", "access_log.path",
	"access_log.format", "cache", "cluster", "x-*",
	"cache.memory", "cache.disk", "cache.disk.path", "cache.disk.max",
	"cluster.redis", "cluster.redis.addr", "cluster.redis.password", "cluster.redis.db",
	"cluster.redis.dial_timeout", "cluster.redis.read_timeout", "cluster.redis.write_timeout",
	"routes[].cache.default_ttl", "routes[].cache.max_object", "routes[].cache.key",
	"routes[].cache.key.headers", "routes[].cache.key.cookies", "routes[].cache.key.query",
	"routes[].cache.key.ignore_params", "routes[].cache.bypass", "routes[].cache.bypass.paths",
	"routes[].cache.bypass.headers", "routes[].cache.bypass.cookies", "routes[].cache.purge",
	"routes[].cache.purge.allow",
}

// entryKeys are list elements and user-named entries: positions the
// decoder records that are not keys of the schema.
var entryKeys = []string{
	"", "listeners[]", "listeners[].tls.certs[]", "upstreams.*", "upstreams.*.backends[]",
	"upstreams.*.retry_on[]",
	"routes[]", "routes[].match.host[]", "routes[].match.methods[]", "routes[].match.listener[]",
	"routes[].match.headers.*", "routes[].respond.headers.*",
	"routes[].headers.request.set.*", "routes[].headers.request.add.*", "routes[].headers.request.remove[]",
	"routes[].headers.response.set.*", "routes[].headers.response.add.*", "routes[].headers.response.remove[]",
	"trusted_proxies[]", "listeners[].tls.acme.domains[]", "listeners[].tls.acme.challenges[]",
	"routes[].static.index[]", "routes[].static.cache_control.*",
	"routes[].compress.encodings[]", "routes[].compress.types[]",
	"routes[].cache.key.headers[]", "routes[].cache.key.cookies[]", "routes[].cache.key.ignore_params[]",
	"routes[].cache.bypass.paths[]", "routes[].cache.bypass.headers[]", "routes[].cache.bypass.cookies[]",
	"routes[].cache.purge.allow[]",
}

func keyPattern(p string) *regexp.Regexp {
	q := regexp.QuoteMeta(p)
	q = strings.ReplaceAll(q, `\[\]`, `\[\d+\]`)
	q = strings.ReplaceAll(q, `\.\*`, `(?:\.[^.\[]+|\["(?:[^"\\]|\\.)*"\])`)
	q = strings.ReplaceAll(q, `x-\*`, `x-[^.\[]*`)
	return regexp.MustCompile("^" + q + "$")
}

// validPaths is every key path written in testdata/valid.
func validPaths(t *testing.T) map[string]bool {
	paths := map[string]bool{}
	for _, f := range goldenFiles(t, "valid") {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		c, errs := parse(filepath.Base(f), data)
		if len(errs) > 0 {
			t.Fatalf("%s: %v", f, errs)
		}
		for p := range c.pos {
			paths[p] = true
		}
	}
	return paths
}

func TestValidTestdataCoversEveryKey(t *testing.T) {
	paths := validPaths(t)
	for _, key := range schemaKeys {
		re := keyPattern(key)
		found := false
		for p := range paths {
			if re.MatchString(p) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no file in testdata/valid writes %s", key)
		}
	}
}

func TestSchemaKeysListEveryDecodedKey(t *testing.T) {
	var all []*regexp.Regexp
	for _, k := range append(append([]string{}, schemaKeys...), entryKeys...) {
		all = append(all, keyPattern(k))
	}
	for p := range validPaths(t) {
		matched := false
		for _, re := range all {
			if re.MatchString(p) {
				matched = true
				break
			}
		}
		if !matched {
			t.Errorf("decoded path %q is missing from schemaKeys", p)
		}
	}
}

func TestDocsDescribeEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range schemaKeys {
		if !strings.Contains(string(doc), "`"+key+"`") {
			t.Errorf("docs/config.md does not describe `%s`", key)
		}
	}
}
