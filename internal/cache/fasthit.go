package cache

import (
	"net/http"
	"sync"
)

// bytesGetter is a store that can look a key up from bytes (memstore):
// with it, a hit in the first tier needs no key string, and so allocates
// nothing.
type bytesGetter interface {
	GetBytes(key []byte) *Entry
}

var keyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// fastHit looks r up in the memory tier without building the key as a
// string. It only takes the common case (no key additions, query as
// sent, no Vary marker); anything else returns nil and the full lookup
// runs. The path is the one the key holds (see keys): as sent, escaped,
// which is r.URL.Path itself, unallocated, for the usual path.
func (rt *Route) fastHit(r *http.Request) *Entry {
	if !rt.plainKey {
		return nil
	}
	mem, ok := rt.c.tiers[0].s.(bytesGetter)
	if !ok {
		return nil
	}
	bp := keyBufs.Get().(*[]byte)
	b := (*bp)[:0]
	for i := 0; i < len(r.Host); i++ {
		c := r.Host[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	b = append(b, r.URL.EscapedPath()...)
	if r.URL.RawQuery != "" {
		b = append(b, '?')
		b = append(b, r.URL.RawQuery...)
	}
	b = append(b, 0)
	e := mem.GetBytes(b)
	*bp = b
	keyBufs.Put(bp)
	if e == nil || e.Marker || (!e.Expires.IsZero() && rt.c.now().After(e.Expires)) {
		return nil
	}
	return e
}
