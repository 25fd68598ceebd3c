// Package cache owns Portico's HTTP cache: the rules of RFC 9111 for a
// shared cache (what may be stored, freshness, age, validation, Vary,
// invalidation), request coalescing, purge, the Cache-Status header of
// RFC 9211, and the per-route handler that applies them. Entries live in
// stores behind the Store interface; the stores themselves are in the
// subpackages memstore, diskstore and redisstore, and the shared contract
// every store must pass is in storetest.
//
// A Cache outlives configuration reloads: it is built once per process and
// each generation's routes get a handler over it (NewRoute). The package
// must not pick routes, talk to backends itself or read config files: it
// is handed the next handler and typed config.
//
// The path of a GET or HEAD request through a route's handler:
//
//	bypass? ─▶ key ─▶ lookup (memory, disk, shared; Vary marker → variant)
//	  hit, fresh        ─▶ answer from the entry (304, range, HEAD)
//	  hit, stale        ─▶ max-stale / stale-while-revalidate, or validate
//	                       with If-None-Match / If-Modified-Since
//	  miss              ─▶ one upstream request per key (coalescing),
//	                       streamed to the client while it is stored
package cache
