package h2_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/portico-proxy/portico/internal/listener/h2"
)

// scriptConn is a connection whose client side is a fixed byte string:
// reads return it, then EOF; writes are counted and dropped.
type scriptConn struct {
	r       *bytes.Reader
	written int
}

func (c *scriptConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *scriptConn) Write(p []byte) (int, error) { c.written += len(p); return len(p), nil }
func (c *scriptConn) Close() error                { return nil }
func (c *scriptConn) LocalAddr() net.Addr         { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 443} }
func (c *scriptConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000}
}
func (c *scriptConn) SetDeadline(t time.Time) error     { return nil }
func (c *scriptConn) SetReadDeadline(t time.Time) error { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error  { return nil }

// clientFrames builds a client's bytes: the preface, SETTINGS, then what
// add writes.
func clientFrames(add func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer)) []byte {
	var out, hb bytes.Buffer
	out.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(&out, nil)
	fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
	add(fr, hpack.NewEncoder(&hb), &hb)
	return out.Bytes()
}

func request(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer, id uint32, end bool, fields ...string) {
	hb.Reset()
	for i := 0; i < len(fields); i += 2 {
		enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndStream: end, EndHeaders: true})
}

// FuzzServeConn feeds arbitrary frames to the engine: whatever a client
// sends, the connection ends without a panic once its input does.
func FuzzServeConn(f *testing.F) {
	get := []string{":method", "GET", ":scheme", "https", ":path", "/", ":authority", "x"}
	f.Add(clientFrames(func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer) {
		request(fr, enc, hb, 1, true, get...)
	}))
	f.Add(clientFrames(func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer) {
		request(fr, enc, hb, 1, false, ":method", "POST", ":scheme", "https", ":path", "/up", ":authority", "x", "content-length", "5")
		fr.WriteData(1, false, []byte("hel"))
		fr.WriteWindowUpdate(0, 1000)
		fr.WriteData(1, true, []byte("lo"))
		fr.WritePing(false, [8]byte{1})
		request(fr, enc, hb, 3, false, get...)
		fr.WriteRSTStream(3, http2.ErrCodeCancel)
		request(fr, enc, hb, 5, false, ":method", "POST", ":scheme", "https", ":path", "/t", ":authority", "x", "trailer", "x-sum")
		fr.WriteData(5, false, []byte("body"))
		request(fr, enc, hb, 5, true, "x-sum", "1")
		fr.WriteGoAway(5, http2.ErrCodeNo, nil)
	}))
	f.Add(clientFrames(func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer) {
		request(fr, enc, hb, 1, false, ":method", "CONNECT", ":protocol", "websocket", ":scheme", "https", ":path", "/ws", ":authority", "x")
		fr.WriteData(1, false, []byte{0x81, 0x80, 0, 0, 0, 0})
		fr.WritePriority(1, http2.PriorityParam{StreamDep: 1})
		fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1})
		fr.WriteContinuation(1, true, []byte{0x82})
	}))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Trailer", "X-Len")
		w.Write(body)
		w.(http.Flusher).Flush()
		w.Write(bytes.Repeat([]byte("x"), 70000)) // past the windows
		w.Header().Set("X-Len", "1")
	})
	f.Fuzz(func(t *testing.T, in []byte) {
		s := h2.NewServer(h, h2.Options{WriteIdleTimeout: 50 * time.Millisecond, ReadIdleTimeout: 50 * time.Millisecond})
		done := make(chan struct{})
		go func() {
			s.ServeConn(&scriptConn{r: bytes.NewReader(in)})
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("connection did not end after its input did")
		}
		s.Close()
	})
}
