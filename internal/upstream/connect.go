package upstream

import (
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"time"
)

// serveExtendedConnect carries a WebSocket opened over HTTP/2 (RFC 8441:
// CONNECT with :protocol) to an HTTP/1.1 backend as an ordinary Upgrade.
// The HTTP/2 stream's body and response are the two directions of the
// tunnel. Go's HTTP/2 server accepts extended CONNECT only when the
// process runs with GODEBUG=http2xconnect=1.
func (p *Proxy) serveExtendedConnect(w http.ResponseWriter, r *http.Request, proto string) {
	b := p.Pool.pickOrRefuse(w, r)
	if b == nil {
		return
	}
	ctx := r.Context()
	c, err := b.conns.get(ctx, time.Now())
	if err != nil {
		WriteError(w, p.fail(ctx, b, KindDial, false, err), false)
		return
	}
	defer c.nc.Close() // a tunnel's connection is never pooled
	// When the client's stream ends, the backend side is interrupted too.
	stop := onCancel(ctx, c.abort)
	defer stop()

	// HTTP/2 WebSocket has no key handshake; the backend wants one.
	delete(r.Header, ":protocol")
	if r.Header.Get("Sec-Websocket-Key") == "" {
		var key [16]byte
		_, _ = rand.Read(key[:])
		r.Header.Set("Sec-Websocket-Key", base64.StdEncoding.EncodeToString(key[:]))
	}
	h := requestHead{method: http.MethodGet, uri: b.basePath + p.outgoingURI(r), host: p.hostFor(r, b),
		fwd: p.forwardingFor(r), framing: bodyNone, upgrade: proto}
	writeRequestHead(c.bw, r, &h)
	if err := c.bw.Flush(); err != nil {
		WriteError(w, p.classify(ctx, b, err, false), false)
		return
	}
	// Each deadline set may overwrite the abort of a client that has just
	// left: look after setting it.
	_ = c.nc.SetReadDeadline(time.Now().Add(p.Pool.firstByteTimeout))
	head := &c.head
	err = ctx.Err()
	if err == nil {
		err = readResponseHead(c.br, head)
	}
	if err != nil {
		WriteError(w, p.classify(ctx, b, err, false), false)
		return
	}
	_ = c.nc.SetReadDeadline(time.Time{})
	if ctx.Err() != nil {
		return
	}
	// A 101 must switch to the protocol asked for, and a 2xx that is not
	// a switch would tell the client (RFC 8441 5) its WebSocket is open.
	switched := head.status == http.StatusSwitchingProtocols
	if (switched && !switchesTo(proto, head.upgrade)) || (head.status >= 200 && head.status < 300) {
		WriteError(w, p.classify(ctx, b, errMalformed, false), false)
		return
	}
	if !switched {
		if _, _, err := p.relay(w, r, c, head); err != nil {
			WriteError(w, p.classify(ctx, b, err, false), true)
		}
		return
	}
	dst := w.Header()
	for _, f := range head.fields {
		switch f.k {
		case "Sec-Websocket-Protocol", "Sec-Websocket-Extensions":
			dst[f.k] = append(dst[f.k], f.v)
		}
	}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil {
		return
	}
	// Idle both ways for tunnel_idle_timeout: the backend side is cut,
	// which ends the copy below, and the client's side right after it.
	guard := startIdleGuard(p.Pool.tunnelIdle, c.abort)
	defer guard.stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(c.nc, guard.reader(r.Body))
		closeWrite(c.nc)
		// The backend gets the grace to finish, as in tunnel; a deadline
		// set may overwrite the abort of a client that has just left.
		_ = c.nc.SetReadDeadline(time.Now().Add(tunnelCloseGrace))
		if ctx.Err() != nil {
			c.abort()
		}
	}()
	_ = copyStream(w, guard.reader(c.br), c.br)
	// And so does the client: its stream's body is read with a deadline,
	// or a client that never ends its side would hold the tunnel forever.
	t := time.Now().Add(tunnelCloseGrace)
	if guard.fired.Load() {
		t = aLongTimeAgo
	}
	_ = c.nc.SetDeadline(t)
	_ = rc.SetReadDeadline(t)
	if ctx.Err() != nil {
		c.abort()
	}
	<-done
}
