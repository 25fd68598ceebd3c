package upstream

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// tunnel completes an HTTP/1.1 protocol switch (WebSocket and the like):
// the backend said 101, so the downstream connection is taken over from
// net/http and bytes flow both ways until either side closes. The
// downstream connection belongs to the listener, not to a configuration
// generation, so a reload does not end the tunnel.
func (p *Proxy) tunnel(w http.ResponseWriter, c *conn, head *responseHead) error {
	// The 101 head goes down the writer chain like any response head, so
	// the route's header edits (hiding Server, say), the request ID and
	// the access log's status apply to it; the engine writes it, and the
	// hijack below sends it.
	h := w.Header()
	relayHeaders(h, head)
	h["Connection"] = []string{"Upgrade"}
	h["Upgrade"] = []string{head.upgrade}
	w.WriteHeader(http.StatusSwitchingProtocols)
	down, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return err
	}
	defer down.Close()
	_ = down.SetDeadline(time.Time{})
	if err := brw.Writer.Flush(); err != nil {
		return clientGone(err)
	}
	// Bytes either side already read ahead belong to the other side.
	if n := c.br.Buffered(); n > 0 {
		b, _ := c.br.Peek(n)
		if _, err := down.Write(b); err != nil {
			return clientGone(err)
		}
	}
	var fromClient io.Reader = down
	if n := brw.Reader.Buffered(); n > 0 {
		fromClient = io.MultiReader(io.LimitReader(brw.Reader, int64(n)), down)
	}
	// When one direction ends, the other gets a short grace period to
	// finish its close handshake, so a peer that never closes cannot pin
	// the tunnel forever; a tunnel idle both ways for tunnel_idle_timeout
	// ends at once. Whichever comes first sets the deadlines.
	var once sync.Once
	finish := func(t time.Time) {
		once.Do(func() {
			_ = down.SetDeadline(t)
			_ = c.nc.SetDeadline(t)
		})
	}
	grace := func() { finish(time.Now().Add(tunnelCloseGrace)) }
	guard := startIdleGuard(p.Pool.tunnelIdle, func() { finish(aLongTimeAgo) })
	defer guard.stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(c.nc, guard.reader(fromClient))
		closeWrite(c.nc)
		grace()
	}()
	_, _ = io.Copy(down, guard.reader(c.nc))
	closeWrite(down)
	grace()
	wg.Wait()
	return nil
}

// switchesTo reports whether a 101's Upgrade value (got) names only
// protocols the request asked for: a backend must not switch to one the
// client never offered (RFC 9110 7.8), nor leave it unnamed.
func switchesTo(asked, got string) bool {
	if asked == "" || strings.TrimSpace(got) == "" {
		return false
	}
	for got != "" {
		var p string
		p, got, _ = strings.Cut(got, ",")
		if p = strings.TrimSpace(p); p == "" || !hasToken([]string{asked}, p) {
			return false
		}
	}
	return true
}

const tunnelCloseGrace = 5 * time.Second

// closeWrite half-closes when the connection supports it so the other
// side sees EOF while its own direction drains.
func closeWrite(c net.Conn) {
	type closeWriter interface{ CloseWrite() error }
	if cw, ok := c.(closeWriter); ok {
		_ = cw.CloseWrite()
		return
	}
	_ = c.Close()
}
