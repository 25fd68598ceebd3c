package cache

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/portico-proxy/portico/internal/httpsyntax"
)

// Entry is one stored response. Once handed to a Store it is never
// modified: a refresh (304) stores a new Entry. Stores that keep entries in
// memory may hand the same *Entry to many readers at once.
type Entry struct {
	// Key is the full store key; URL is the host and request URI it was
	// stored for (what purge by URL and by prefix match); Tags come from
	// Surrogate-Key and Cache-Tag.
	Key  string
	URL  string
	Tags []string
	// Marker entries carry no response: they record, under the primary
	// key, the request headers named by the response's Vary, so a lookup
	// knows which variant key to read next.
	Marker bool
	Vary   []string

	Status int
	Header http.Header
	Body   []byte

	// RequestTime and ResponseTime bracket the upstream exchange;
	// InitialAge is the corrected_initial_age of RFC 9111 section 4.2.3.
	RequestTime  time.Time
	ResponseTime time.Time
	InitialAge   time.Duration
	// Lifetime is the freshness lifetime decided when the entry was
	// stored (explicit, default_ttl or heuristic; RFC 9111 section 4.2.1).
	Lifetime time.Duration
	// Expires is when the entry stops being of any use (fresh lifetime plus
	// every stale allowance); stores may drop it from then on.
	Expires time.Time

	prepared atomic.Pointer[prepared]
}

// prepared is what a hit needs, computed once per entry instead of once
// per hit: the header lines with values the downstream may share, the
// response's directives, validators and freshness lifetime.
type prepared struct {
	header        []headerLine
	contentLength []string
	cc            directives
	lifetime      time.Duration
	etag          string
	lastModified  time.Time
	hasLM         bool
}

type headerLine struct {
	key  string
	vals []string
}

// prep returns the entry's prepared form, building it on first use.
func (e *Entry) prep() *prepared {
	if p := e.prepared.Load(); p != nil {
		return p
	}
	p := &prepared{cc: parseCacheControl(e.Header), etag: e.Header.Get("Etag")}
	for k, v := range e.Header {
		if k == "Content-Length" || k == "Age" || k == "Cache-Status" {
			continue
		}
		// Clipped, so a downstream Header().Add copies instead of writing
		// into the shared backing array.
		p.header = append(p.header, headerLine{k, slices.Clip(slices.Clone(v))})
	}
	p.contentLength = []string{strconv.Itoa(len(e.Body))}
	p.lifetime = e.Lifetime
	if lm, ok := httpsyntax.ParseDate(e.Header.Get("Last-Modified")); ok {
		p.lastModified, p.hasLM = lm, true
	}
	e.prepared.CompareAndSwap(nil, p)
	return e.prepared.Load()
}

// size is what the entry costs a byte-budgeted store.
func (e *Entry) Size() int64 {
	n := int64(len(e.Body) + len(e.Key) + len(e.URL) + 256)
	for k, vs := range e.Header {
		n += int64(len(k)) + 32
		for _, v := range vs {
			n += int64(len(v)) + 16
		}
	}
	return n
}

// Encoding: "PCE1", a uvarint payload length, the payload, and the
// CRC-32C of the payload. The checksum is what lets the disk store tell a
// torn write from an entry.
var (
	entryMagic = []byte("PCE1")
	crcTable   = crc32.MakeTable(crc32.Castagnoli)
	// ErrCorrupt is returned by UnmarshalEntry for bytes that are not a
	// whole, intact entry.
	ErrCorrupt = errors.New("cache: corrupt entry")
)

// MarshalBinary encodes e for the disk and Redis stores.
func (e *Entry) MarshalBinary() ([]byte, error) {
	var p []byte
	p = appendStr(p, e.Key)
	p = appendStr(p, e.URL)
	p = appendStrs(p, e.Tags)
	marker := uint64(0)
	if e.Marker {
		marker = 1
	}
	p = binary.AppendUvarint(p, marker)
	p = appendStrs(p, e.Vary)
	p = binary.AppendUvarint(p, uint64(e.Status))
	p = binary.AppendVarint(p, e.RequestTime.UnixNano())
	p = binary.AppendVarint(p, e.ResponseTime.UnixNano())
	p = binary.AppendVarint(p, int64(e.InitialAge))
	p = binary.AppendVarint(p, int64(e.Lifetime))
	p = binary.AppendVarint(p, e.Expires.UnixNano())
	keys := make([]string, 0, len(e.Header))
	for k := range e.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	p = binary.AppendUvarint(p, uint64(len(keys)))
	for _, k := range keys {
		p = appendStr(p, k)
		p = appendStrs(p, e.Header[k])
	}
	p = appendStr(p, string(e.Body))
	out := make([]byte, 0, len(p)+16)
	out = append(out, entryMagic...)
	out = binary.AppendUvarint(out, uint64(len(p)))
	out = append(out, p...)
	return binary.BigEndian.AppendUint32(out, crc32.Checksum(p, crcTable)), nil
}

// UnmarshalEntry decodes what MarshalBinary wrote. Bytes from a disk or a
// Redis server are not trusted: any inconsistency is ErrCorrupt.
func UnmarshalEntry(b []byte) (*Entry, error) {
	if len(b) < len(entryMagic) || string(b[:len(entryMagic)]) != string(entryMagic) {
		return nil, ErrCorrupt
	}
	b = b[len(entryMagic):]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) || uint64(len(b)-k)-n != 4 {
		return nil, ErrCorrupt
	}
	p := b[k : k+int(n)]
	if crc32.Checksum(p, crcTable) != binary.BigEndian.Uint32(b[k+int(n):]) {
		return nil, ErrCorrupt
	}
	r := reader{b: p}
	e := &Entry{Key: r.str(), URL: r.str(), Tags: r.strs()}
	e.Marker = r.uvarint() == 1
	e.Vary = r.strs()
	e.Status = int(r.uvarint())
	e.RequestTime = time.Unix(0, r.varint())
	e.ResponseTime = time.Unix(0, r.varint())
	e.InitialAge = time.Duration(r.varint())
	e.Lifetime = time.Duration(r.varint())
	e.Expires = time.Unix(0, r.varint())
	nh := r.uvarint()
	if nh > uint64(len(p)) {
		return nil, ErrCorrupt
	}
	e.Header = make(http.Header, nh)
	for i := uint64(0); i < nh && !r.bad; i++ {
		key := r.str()
		e.Header[key] = r.strs()
	}
	e.Body = []byte(r.str())
	if r.bad || len(r.b) != 0 {
		return nil, ErrCorrupt
	}
	return e, nil
}

func appendStr(p []byte, s string) []byte {
	p = binary.AppendUvarint(p, uint64(len(s)))
	return append(p, s...)
}

func appendStrs(p []byte, ss []string) []byte {
	p = binary.AppendUvarint(p, uint64(len(ss)))
	for _, s := range ss {
		p = appendStr(p, s)
	}
	return p
}

// reader reads the payload; any short read sets bad and yields zeros.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) uvarint() uint64 {
	v, k := binary.Uvarint(r.b)
	if k <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[k:]
	return v
}

func (r *reader) varint() int64 {
	v, k := binary.Varint(r.b)
	if k <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[k:]
	return v
}

func (r *reader) str() string {
	n := r.uvarint()
	if r.bad || n > uint64(len(r.b)) {
		r.bad = true
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) strs() []string {
	n := r.uvarint()
	if r.bad || n > uint64(len(r.b)) {
		r.bad = true
		return nil
	}
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for i := uint64(0); i < n && !r.bad; i++ {
		out = append(out, r.str())
	}
	return out
}

// PeekMeta reads the key and tags at the start of an encoded entry
// without checking the rest, for a store rebuilding its index from a
// prefix of each file. Get still verifies the whole entry.
func PeekMeta(b []byte) (key string, tags []string, ok bool) {
	if len(b) < len(entryMagic) || string(b[:len(entryMagic)]) != string(entryMagic) {
		return "", nil, false
	}
	b = b[len(entryMagic):]
	_, k := binary.Uvarint(b)
	if k <= 0 {
		return "", nil, false
	}
	r := reader{b: b[k:]}
	key = r.str()
	_ = r.str()
	tags = r.strs()
	return key, tags, !r.bad
}
