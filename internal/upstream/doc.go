// Package upstream owns the way from a routed request to a backend and back:
// pools of backends and how one is picked (policies.go), active and passive
// health (health.go, eject.go), slow start, retries and their budget
// (retry.go, budget.go), circuit-breaking limits, DNS re-resolution
// (resolve.go), draining and the live state the admin API reads (drain.go,
// state.go), the lean HTTP/1.1 client and its keep-alive connection pool,
// the HTTP/2 (h2c) transport for gRPC, the forwarding-header rules,
// protocol upgrades (WebSocket) and the mapping of upstream failures to
// 502, 503 and 504 with a neutral body.
//
// It must not read configuration files, match routes or log on the hot path:
// it is handed typed options and reports failures as *Error values.
//
// The request path inside the package:
//
//	Proxy.ServeHTTP ─▶ pool limit ─▶ Policy.Pick (usable backends only)
//	  ─▶ backend limit ─▶ connPool.get (reuse or dial)
//	  ─▶ writeRequestHead + body ─▶ readResponseHead ─▶ copy body back
//	  ─▶ connPool.put (keep-alive) or close
//	  ─▶ outcome to ejection and latency; on failure, retry elsewhere
package upstream
