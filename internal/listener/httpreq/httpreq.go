// Package httpreq holds what Portico's HTTP/1.1 and HTTP/2 engines both
// need to build an *http.Request cheaply: a request context that costs no
// allocation or goroutine, and field-name canonicalisation that interns
// the common names. It must not read from or write to connections.
package httpreq

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portico-proxy/portico/internal/httpsyntax"
)

// Context is a request's context: cancelled when the handler returns or
// the client goes away. It is one small allocation and starts no
// goroutine; Done makes its channel on first use. It is never reused for
// another request, since goroutines that outlive the handler may keep it. Contexts derived from it register
// through AfterFunc, which the context package uses for parents that are
// not its own types, so no goroutine is started for them.
type Context struct {
	parent context.Context // per connection; never cancelled
	mu     sync.Mutex
	done   atomic.Value // chan struct{}
	err    error
	afters []afterEntry
	inline [2]afterEntry // afters' first backing array: no allocation
	nextID uint64
}

type afterEntry struct {
	id uint64
	f  func()
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// SetParent gives a fresh Context the connection's context, whose values
// it passes on. The parent must never be cancelled.
func (c *Context) SetParent(parent context.Context) { c.parent = parent }

func (c *Context) Deadline() (time.Time, bool) { return c.parent.Deadline() }
func (c *Context) Value(key any) any           { return c.parent.Value(key) }
func (c *Context) String() string              { return "httpreq.Context" }

func (c *Context) Done() <-chan struct{} {
	if d := c.done.Load(); d != nil {
		return d.(chan struct{})
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.done.Load()
	if d == nil {
		d = make(chan struct{})
		c.done.Store(d)
	}
	return d.(chan struct{})
}

func (c *Context) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Cancel cancels the context (once) and runs the registered functions.
func (c *Context) Cancel() {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = context.Canceled
	if d, _ := c.done.Load().(chan struct{}); d != nil {
		close(d)
	} else {
		c.done.Store(closedChan)
	}
	afters := c.afters
	c.afters = nil
	c.mu.Unlock()
	for _, a := range afters {
		a.f()
	}
}

// AfterFunc arranges for f to run when the context is cancelled; see the
// context package's afterFuncer.
func (c *Context) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	c.nextID++
	id := c.nextID
	if c.afters == nil {
		c.afters = c.inline[:0]
	}
	c.afters = append(c.afters, afterEntry{id, f})
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, a := range c.afters {
			if a.id == id {
				c.afters = slices.Delete(c.afters, i, i+1)
				return true
			}
		}
		return false
	}
}

// commonKeys maps lower-case names to their canonical form, so that a
// client sending lower-case names costs no allocation for the usual ones.
var commonKeys = func() map[string]string {
	names := []string{
		"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Accept-Ranges",
		"Authorization", "Cache-Control", "Connection", "Content-Encoding", "Content-Language",
		"Content-Length", "Content-Type", "Cookie", "Date", "Dnt", "Etag", "Expect", "Forwarded",
		"From", "Host", "If-Match", "If-Modified-Since", "If-None-Match", "If-Range",
		"If-Unmodified-Since", "Keep-Alive", "Max-Forwards", "Origin", "Pragma", "Priority",
		"Proxy-Authorization", "Range", "Referer", "Sec-Ch-Ua", "Sec-Ch-Ua-Mobile",
		"Sec-Ch-Ua-Platform", "Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site",
		"Sec-Fetch-User", "Sec-Websocket-Extensions", "Sec-Websocket-Key",
		"Sec-Websocket-Protocol", "Sec-Websocket-Version", "Te", "Trailer", "Transfer-Encoding",
		"Upgrade", "Upgrade-Insecure-Requests", "User-Agent", "Via", "X-Forwarded-For",
		"X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip", "X-Request-Id",
		"X-Requested-With", "Grpc-Timeout", "Grpc-Encoding", "Grpc-Accept-Encoding",
	}
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[strings.ToLower(n)] = n
	}
	return m
}()

// CanonicalKey returns the canonical form of a valid field name: k itself
// when it already is, an interned common name, or an allocated one.
func CanonicalKey(k string) string {
	upper := true
	for i := 0; i < len(k); i++ {
		c := k[i]
		if upper && c >= 'a' && c <= 'z' || !upper && c >= 'A' && c <= 'Z' {
			return canonicalSlow(k)
		}
		upper = c == '-'
	}
	return k
}

func canonicalSlow(k string) string {
	var buf [32]byte
	if len(k) <= len(buf) {
		for i := 0; i < len(k); i++ {
			c := k[i]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			buf[i] = c
		}
		if c, ok := commonKeys[string(buf[:len(k)])]; ok {
			return c
		}
	}
	return http.CanonicalHeaderKey(k)
}

// Date is a response's Date field value for now, formatted once a second
// and shared by every response in that second: Text for HTTP/2's header
// block, Line ("Date: Text\r\n") for HTTP/1.1's head.
type Date struct {
	sec  int64
	Text string
	Line []byte // read-only
}

var dateCache atomic.Pointer[Date]

// Now returns the Date for the current second.
func Now() *Date {
	now := time.Now()
	d := dateCache.Load()
	if d == nil || d.sec != now.Unix() {
		text := now.UTC().Format(http.TimeFormat)
		d = &Date{sec: now.Unix(), Text: text, Line: []byte("Date: " + text + "\r\n")}
		dateCache.Store(d)
	}
	return d
}

// AddTrailerNames adds the field names a request's Trailer field lists
// (one field value, comma-separated) to t, canonical and with nil values
// as net/http has them, and returns t (made when nil). Names that are not
// tokens are left out.
func AddTrailerNames(t http.Header, list string) http.Header {
	for list != "" {
		var k string
		k, list, _ = strings.Cut(list, ",")
		if k = httpsyntax.TrimOWS(k); k != "" && httpsyntax.ValidToken(k) {
			if t == nil {
				t = make(http.Header)
			}
			t[http.CanonicalHeaderKey(k)] = nil
		}
	}
	return t
}
