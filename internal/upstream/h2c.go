package upstream

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/portico-proxy/portico/internal/rawsock"
)

// newH2CTransport is the HTTP/2-without-TLS client for pools that speak
// h2c (gRPC backends). net/http's Transport is used here, as DESIGN.md
// chooses: HTTP/2 multiplexing is not worth writing by hand.
func newH2CTransport(d *net.Dialer, o PoolOptions) *http.Transport {
	t := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return rawsock.Wrap(c), nil
		},
		MaxIdleConnsPerHost:   o.MaxIdleConns,
		IdleConnTimeout:       o.IdleConnTimeout,
		ResponseHeaderTimeout: o.FirstByteTimeout,
		ForceAttemptHTTP2:     true,
	}
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	t.Protocols = &protos
	return t
}

// serveH2 proxies over the pool's HTTP/2 transport. Bodies stream both
// ways at once (gRPC bidirectional streams) and trailers pass through.
func (p *Proxy) serveH2(w http.ResponseWriter, r *http.Request) {
	b := p.Pool.pickOrRefuse(w, r)
	if b == nil {
		return
	}
	ctx := r.Context()
	out, err := p.h2Request(r, b)
	if err != nil {
		WriteStatus(w, http.StatusBadRequest)
		return
	}
	if r.ProtoMajor == 1 {
		_ = http.NewResponseController(w).EnableFullDuplex()
	}
	b.inflight.Add(1)
	defer b.inflight.Add(-1)
	res, err := p.Pool.h2.RoundTrip(out)
	if ctx.Err() == nil {
		p.Pool.observe(b, err == nil && res.StatusCode < 500, p.Pool.now().UnixNano())
	}
	if err != nil {
		WriteError(w, p.fail(ctx, b, h2ErrorKind(err), false, err), false)
		return
	}
	defer res.Body.Close()
	relayH2(w, r, res)
}

// h2Request is the request for backend b: its URL, Host and forwarding
// headers, hop-by-hop headers removed.
func (p *Proxy) h2Request(r *http.Request, b *Backend) (*http.Request, error) {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	u, err := url.ParseRequestURI(b.basePath + p.outgoingURI(r))
	if err != nil {
		return nil, err
	}
	u.Scheme, u.Host = "http", b.addr
	out.URL = u
	out.Host = p.hostFor(r, b)
	if r.ContentLength == 0 {
		out.Body = nil
	}
	cleanRequestHeaders(out.Header)
	fwd := p.forwardingFor(r)
	if fwd.send.xForwarded() {
		out.Header["X-Forwarded-For"] = []string{fwd.xff}
		out.Header["X-Forwarded-Proto"] = []string{fwd.proto}
		out.Header["X-Forwarded-Host"] = []string{fwd.host}
	}
	if fwd.send.rfc7239() {
		out.Header["Forwarded"] = []string{fwd.rfc7239()}
	}
	return out, nil
}

func h2ErrorKind(err error) Kind {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return KindTimeout
	case strings.Contains(err.Error(), "connect") || strings.Contains(err.Error(), "dial"):
		return KindDial
	}
	return KindIO
}

// relayH2 sends the backend's response on, flushing every read so gRPC
// streams flow, then its trailers.
func relayH2(w http.ResponseWriter, r *http.Request, res *http.Response) {
	dst := w.Header()
	lateTrailers := copyH2Headers(dst, res.Header)
	if _, ok := dst["Content-Type"]; !ok {
		dst["Content-Type"] = nil
	}
	// Announce the trailers the backend announced, so an HTTP/1.1 client
	// can receive them too.
	announced := make(map[string]bool, len(res.Trailer))
	for k := range res.Trailer {
		dst.Add("Trailer", k)
		announced[k] = true
	}
	w.WriteHeader(res.StatusCode)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	bufp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bufp)
	buf := *bufp
	for {
		n, rerr := res.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			_ = rc.Flush()
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if r.Context().Err() == nil {
				panic(http.ErrAbortHandler)
			}
			return
		}
	}
	for k, vv := range lateTrailers {
		dst[http.TrailerPrefix+k] = vv
	}
	for k, vv := range res.Trailer {
		if announced[k] {
			dst[k] = vv
		} else {
			dst[http.TrailerPrefix+k] = vv
		}
	}
}

// copyH2Headers copies the end-to-end response headers into dst and
// returns the gRPC status fields that must travel as trailers instead: a
// gRPC "Trailers-Only" answer carries its status in the only header
// block, but downstream the headers go out first, so the status must be
// sent as trailers or the client sees a stream without them.
func copyH2Headers(dst, src http.Header) (lateTrailers http.Header) {
	_, trailersOnly := src["Grpc-Status"]
	for k, vv := range src {
		if isHopHeader(k) {
			continue
		}
		if trailersOnly && (k == "Grpc-Status" || k == "Grpc-Message" || k == "Grpc-Status-Details-Bin") {
			if lateTrailers == nil {
				lateTrailers = http.Header{}
			}
			lateTrailers[k] = vv
			continue
		}
		dst[k] = vv
	}
	return lateTrailers
}

// cleanRequestHeaders removes hop-by-hop and forwarding headers from a
// cloned request, keeping "Te: trailers" which gRPC requires.
func cleanRequestHeaders(h http.Header) {
	te := hasToken(h["Te"], "trailers")
	for _, k := range h["Connection"] {
		for _, tok := range strings.Split(k, ",") {
			h.Del(strings.TrimSpace(tok))
		}
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
	for _, k := range forwardingHeaders {
		delete(h, k)
	}
	for k := range h {
		if strings.HasPrefix(k, ":") {
			delete(h, k)
		}
	}
	if te {
		h["Te"] = []string{"trailers"}
	}
}
