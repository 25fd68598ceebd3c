package rawsock

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/testbackend"
)

// pair returns a wrapped client connection and the server side of it.
func pair(t *testing.T) (net.Conn, *net.TCPConn) {
	t.Helper()
	c, peer := testbackend.TCPPair(t)
	return Wrap(c), peer
}

func TestWrapKeepsOtherConnections(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if Wrap(a) != a {
		t.Fatal("a pipe was wrapped")
	}
}

func TestWrapOnLinuxUnwrapsToTheTCPConnection(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("raw calls are only used on Linux")
	}
	c, _ := pair(t)
	u, ok := c.(interface{ Unwrap() net.Conn })
	if !ok {
		t.Fatalf("Wrap returned %T, with no Unwrap", c)
	}
	if _, ok := u.Unwrap().(*net.TCPConn); !ok {
		t.Fatalf("Unwrap returned %T", u.Unwrap())
	}
}

// TestLargeTransfersBothWays: writes bigger than the socket buffers wait
// for the reader and resume; reads return what is there; both directions
// at once.
func TestLargeTransfersBothWays(t *testing.T) {
	c, peer := pair(t)
	const size = 8 << 20
	out := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	var wg sync.WaitGroup
	var echoErr error
	wg.Add(1)
	go func() { // the peer echoes everything back
		defer wg.Done()
		_, echoErr = io.Copy(peer, io.LimitReader(peer, size))
		_ = peer.CloseWrite()
	}()
	var writeErr error
	var written int
	wg.Add(1)
	go func() {
		defer wg.Done()
		written, writeErr = c.Write(out)
	}()
	in, err := io.ReadAll(c)
	wg.Wait()
	if err != nil || writeErr != nil || echoErr != nil {
		t.Fatalf("read: %v, write: %v, echo: %v", err, writeErr, echoErr)
	}
	if written != size || !bytes.Equal(in, out) {
		t.Fatalf("wrote %d, read back %d bytes (equal: %v)", written, len(in), bytes.Equal(in, out))
	}
}

func TestEndOfStreamIsEOF(t *testing.T) {
	c, peer := pair(t)
	if _, err := peer.Write([]byte("last")); err != nil {
		t.Fatal(err)
	}
	peer.Close()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "last" {
		t.Fatalf("got %q, %v", got, err)
	}
	buf := make([]byte, 4)
	if n, err := c.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("after the end: %d, %v; want 0, io.EOF", n, err)
	}
}

func TestEmptyReadAndWriteDoNothing(t *testing.T) {
	c, _ := pair(t)
	if n, err := c.Read(nil); n != 0 || err != nil {
		t.Fatalf("Read(nil) = %d, %v", n, err)
	}
	if n, err := c.Write(nil); n != 0 || err != nil {
		t.Fatalf("Write(nil) = %d, %v", n, err)
	}
}

func TestReadDeadline(t *testing.T) {
	c, _ := pair(t)
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := c.Read(make([]byte, 8))
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("got %v, want a timeout", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" {
		t.Fatalf("got %#v, want a read OpError", err)
	}
}

// TestWriteDeadlineReportsWhatWasWritten: a peer that does not read fills
// the buffers; the write times out and says how much went out.
func TestWriteDeadlineReportsWhatWasWritten(t *testing.T) {
	c, _ := pair(t)
	big := make([]byte, 64<<20) // made first: under -race this alone can take the deadline's time
	_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	n, err := c.Write(big)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("got %v, want a timeout", err)
	}
	if n <= 0 || n >= len(big) {
		t.Fatalf("wrote %d bytes before the timeout; want some, not all", n)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "write" {
		t.Fatalf("got %#v, want a write OpError", err)
	}
}

func TestClosedConnection(t *testing.T) {
	c, _ := pair(t)
	c.Close()
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
}

// TestResetByPeer: the peer's reset comes back as ECONNRESET, wrapped as
// net.TCPConn wraps it.
func TestResetByPeer(t *testing.T) {
	c, peer := pair(t)
	if _, err := c.Write([]byte("unread")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	_ = peer.SetLinger(0)
	peer.Close() // unread data: the close is a reset
	_, err := c.Read(make([]byte, 8))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("got %v, want ECONNRESET", err)
	}
	var se *os.SyscallError
	if !errors.As(err, &se) || se.Syscall != "read" {
		t.Fatalf("got %#v, want a read SyscallError inside", err)
	}
}

// TestCloseUnblocksARead: a read waiting in the poller ends when another
// goroutine closes the connection, as with net.TCPConn.
func TestCloseUnblocksARead(t *testing.T) {
	c, _ := pair(t)
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 8))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the read did not end")
	}
}

// TestSendfileStillWorks: io.Copy from a file reaches the TCP connection's
// ReadFrom (sendfile), with the same bytes arriving.
func TestSendfileStillWorks(t *testing.T) {
	c, peer := pair(t)
	want := bytes.Repeat([]byte("file body "), 10000)
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, want, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(peer)
		got <- b
	}()
	if _, err := io.Copy(c, f); err != nil {
		t.Fatal(err)
	}
	_ = c.(interface{ CloseWrite() error }).CloseWrite()
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("peer got %d bytes, want %d", len(b), len(want))
	}
}

// TestCopyBetweenWrappedConnections: io.Copy from one wrapped socket to
// another (a tunnel) moves every byte, whole or limited.
func TestCopyBetweenWrappedConnections(t *testing.T) {
	src, srcPeer := pair(t)
	dst, dstPeer := pair(t)
	want := bytes.Repeat([]byte("tunnel "), 50000)
	go func() {
		_, _ = srcPeer.Write(want)
		srcPeer.Close()
	}()
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(dstPeer)
		got <- b
	}()
	lr := &io.LimitedReader{R: src, N: 1000}
	if n, err := io.Copy(dst, lr); n != 1000 || err != nil || lr.N != 0 {
		t.Fatalf("limited copy: %d, %v, %d left", n, err, lr.N)
	}
	if n, err := io.Copy(dst, src); n != int64(len(want)-1000) || err != nil {
		t.Fatalf("copy: %d, %v", n, err)
	}
	_ = dst.(interface{ CloseWrite() error }).CloseWrite()
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("peer got %d bytes, want %d", len(b), len(want))
	}
}

// TestTCPFindsTheConnectionUnderWrappers: through this package's Conn
// and any wrapper with Unwrap; nil for what is not TCP.
func TestTCPFindsTheConnectionUnderWrappers(t *testing.T) {
	c, _ := testbackend.TCPPair(t)
	type wrapper struct{ net.Conn }
	for _, w := range []net.Conn{c, Wrap(c)} {
		if got := TCP(w); got != c {
			t.Errorf("TCP(%T) = %v, want the TCP connection", w, got)
		}
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if got := TCP(a); got != nil {
		t.Errorf("TCP(pipe) = %v, want nil", got)
	}
	if got := TCP(wrapper{c}); got != nil {
		t.Errorf("a wrapper without Unwrap: got %v, want nil", got)
	}
}
