package upstream

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"time"
)

// serveH1 proxies one request over the lean HTTP/1.1 client:
//
//	pool limit (breaker) ─▶ pick ─▶ backend limit ─▶ exchange
//	  ─▶ on failure: retry on another backend, within retries and budget
//
// Connection failures are retried on every other backend (nothing was
// sent); other failures only for idempotent requests whose body can be
// sent again, on what retry_on names, while the retry budget lasts.
func (p *Proxy) serveH1(w http.ResponseWriter, r *http.Request) {
	pool := p.Pool
	pool.budget.request()

	upgrade := upgradeOf(r)
	h := requestHead{fwd: p.forwardingFor(r), framing: framingOf(r), upgrade: upgrade}
	if h.framing == bodyLength || h.framing == bodyChunked {
		h.expect100 = hasToken(r.Header["Expect"], "100-continue")
	}
	replayable := (h.framing == bodyNone || h.framing == bodyZero) && idempotent(r.Method)
	if !replayable && pool.canReplay(r, h.framing, upgrade) {
		buf, err := pool.bufferBody(r)
		if err != nil {
			return // the client went away mid-body: nothing to answer
		}
		defer putReplayBuf(buf)
		h.body, replayable = *buf, true
	}
	// One clock read serves the pick, the latency, the age of pooled
	// connections and the first-byte deadline of the first attempt; each
	// attempt's end is the next one's start.
	start := time.Now()
	in := Input{Now: pool.at(start).UnixNano()}
	pool.keyFor(r, &in)
	sticky := pool.balance == PolicySticky
	retries := 0
	var lastErr error
	started := false
	for attempt := 0; attempt < maxTries; attempt++ {
		b := pool.pick(in)
		if b == nil {
			break
		}
		if !b.acquire(pool.maxConns) {
			in.exclude(b) // filled up since the pick: not a failure
			lastErr = &Error{Pool: pool.name, Kind: KindBreaker}
			continue
		}
		if sticky {
			pool.setStickyCookie(w, b, &in)
		}
		h.host = p.hostFor(r, b)
		h.uri = b.basePath + p.outgoingURI(r)
		h.backend, h.status = b, 0
		// A status is only taken back when a retry can follow; otherwise
		// the backend's own answer is relayed.
		h.retryStatus = replayable && retries < pool.retries && pool.retryOn.anyStatus() && pool.budget.available()
		h.start, h.sent = start, pool.at(start).UnixNano()
		if pool.tryTimeout > 0 {
			h.tryDeadline = start.Add(pool.tryTimeout)
		}
		var end time.Time
		var err error
		started, end, err = p.exchange(w, r, b, &h, replayable)
		b.inflight.Add(-1)
		start = end
		now := pool.at(end).UnixNano()
		if err == nil {
			pool.observe(b, h.status < 500, now)
			return
		}
		ue := asError(err)
		if ue != nil && ue.Kind == KindClientGone {
			return // not the backend's fault: no penalty, no retry
		}
		pool.observe(b, false, now)
		in.exclude(b)
		in.Now, lastErr = now, err
		if started || ue == nil || !ue.Retryable || !pool.mayRetry(ue, &retries) {
			break
		}
	}
	if started {
		// The backend's head and part of its body went out: anything
		// written now would read as the rest of the body. Abort.
		WriteError(w, lastErr, true)
		return
	}
	if lastErr == nil {
		lastErr = &Error{Pool: pool.name, Kind: KindNoBackend}
	}
	if sticky {
		delete(w.Header(), "Set-Cookie")
	}
	writeFailure(w, lastErr)
}

// admit takes a slot of the pool's max_pending; false means the pool is
// full and the request was answered with a fast 503.
func (pool *Pool) admit(w http.ResponseWriter) bool {
	if n := pool.pending.Add(1); n > pool.maxPending {
		pool.pending.Add(-1)
		WriteError(w, &Error{Pool: pool.name, Kind: KindBreaker}, false)
		return false
	}
	return true
}

// mayRetry decides whether a failed attempt is tried again elsewhere.
// Connection failures always are (nothing reached the backend), and do
// not count against retries or the budget; the rest need retry_on to
// name them, a retry left and a token in the budget.
func (pool *Pool) mayRetry(ue *Error, retries *int) bool {
	switch ue.Kind {
	case KindDial:
		return true
	case KindTimeout:
		if !pool.retryOn.timeouts {
			return false
		}
	case KindIO, KindProtocol:
		if !pool.retryOn.errors {
			return false
		}
	case KindStatus:
	default:
		return false
	}
	if *retries >= pool.retries || !pool.budget.withdraw() {
		return false
	}
	*retries++
	return true
}

// asError is errors.As for *Error, kept out of the success path: the
// pointer it fills escapes to the heap.
func asError(err error) *Error {
	var ue *Error
	errors.As(err, &ue)
	return ue
}

// writeFailure answers the client for the last failed attempt. A
// retryable status that could not be retried is passed on as its code
// with a neutral body: the body was dropped to keep the retry possible.
func writeFailure(w http.ResponseWriter, err error) {
	var ue *Error
	if errors.As(err, &ue) && ue.Kind == KindStatus {
		WriteStatus(w, ue.Code)
		return
	}
	WriteError(w, err, false)
}

// acquire takes one of b's request slots; false when it is full.
func (b *Backend) acquire(maxConns int64) bool {
	if n := b.inflight.Add(1); maxConns > 0 && n > maxConns {
		b.inflight.Add(-1)
		return false
	}
	return true
}

func (pool *Pool) setStickyCookie(w http.ResponseWriter, b *Backend, in *Input) {
	if in.HasKey && in.Key == b.id {
		delete(w.Header(), "Set-Cookie")
		return
	}
	w.Header()["Set-Cookie"] = []string{pool.stickyCookie(b)}
}

// canReplay says whether r's body is worth buffering so that a retry can
// send it again: an idempotent request that may be retried, with a body
// of known length within the bound. Tunnels and 100-continue stream.
func (pool *Pool) canReplay(r *http.Request, framing bodyFraming, upgrade string) bool {
	return pool.retries > 0 && framing == bodyLength && idempotent(r.Method) && upgrade == "" &&
		r.ContentLength <= pool.replayBody && !hasToken(r.Header["Expect"], "100-continue")
}

var replayBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

func putReplayBuf(b *[]byte) {
	if cap(*b) <= 1<<20 { // a big one is left to the collector
		*b = (*b)[:0]
		replayBufs.Put(b)
	}
}

// bufferBody reads the whole body (at most replayBody bytes, as the
// Content-Length said) into a pooled buffer.
func (pool *Pool) bufferBody(r *http.Request) (*[]byte, error) {
	buf := replayBufs.Get().(*[]byte)
	n := int(r.ContentLength)
	if cap(*buf) < n {
		*buf = make([]byte, n)
	}
	*buf = (*buf)[:n]
	if _, err := io.ReadFull(r.Body, *buf); err != nil {
		putReplayBuf(buf)
		return nil, err
	}
	return buf, nil
}
