package static

import (
	"io"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portico-proxy/portico/internal/httpsyntax"
)

// Small files are kept in memory: for them opening, checking and closing
// the file costs more than sending it, and from memory the head and the
// body leave in one write. Bounded per root; a cached file is checked
// against the disk again at most once a second (a stat), so a change is
// served within a second, like a swapped root.
const (
	maxCachedFile  = 64 << 10
	maxCacheBytes  = 16 << 20
	revalidateTime = time.Second
)

// fileCache holds the small files of one open root. A new root (a swap)
// starts with an empty one.
type fileCache struct {
	mu    sync.RWMutex
	m     map[string]*cacheEntry
	bytes int64
}

type cacheEntry struct {
	rep
	fi      fs.FileInfo  // nil when missing
	missing bool         // known not to exist (a sidecar that was not built)
	checked atomic.Int64 // unix nanoseconds of the last check against the disk
}

// entryOverhead is what an entry costs besides its body, so that many
// missing-file entries count against the bound too.
const entryOverhead = 256

func (e *cacheEntry) cost() int64 { return e.size + entryOverhead }

// get returns the entry under key for the file rel if it is still what
// the disk has. A file requested by its own name is cached under its
// name; as a sidecar, under sidecarKey, since the same file is then
// another representation (another type and coding).
func (c *fileCache) get(key, rel string, root *os.Root, now time.Time) *cacheEntry {
	c.mu.RLock()
	e := c.m[key]
	c.mu.RUnlock()
	if e == nil {
		return nil
	}
	t := now.UnixNano()
	last := e.checked.Load()
	if t-last < int64(revalidateTime) || !e.checked.CompareAndSwap(last, t) {
		return e // fresh, or another request is checking it right now
	}
	fi, err := root.Stat(rel)
	if e.missing {
		if err == nil {
			c.remove(key, e) // it appeared
			return nil
		}
		return e
	}
	if err != nil || !fi.Mode().IsRegular() || !os.SameFile(fi, e.fi) ||
		fi.Size() != e.fi.Size() || !fi.ModTime().Equal(e.fi.ModTime()) {
		c.remove(key, e)
		return nil
	}
	return e
}

// sidecarKey is the cache key of a sidecar: NUL never appears in a
// cleaned path, so it cannot meet a file requested by name.
func sidecarKey(name string) string { return name + "\x00" }

// fillMissing records that the file under key does not exist.
func (c *fileCache) fillMissing(key string, now time.Time) {
	e := &cacheEntry{missing: true}
	e.checked.Store(now.UnixNano())
	c.insert(key, e)
}

// fill reads a small file into the cache under key and returns its entry, or nil
// when it cannot be kept: a read failed, or the file changed while read
// (its length or time is no longer fi's), so the bytes read may be of no
// single version and fi's length not theirs.
func (c *fileCache) fill(key string, f *os.File, fi fs.FileInfo, ct []string, coding httpsyntax.Coding, now time.Time) *cacheEntry {
	size := fi.Size()
	body := make([]byte, size)
	_, rerr := io.ReadFull(f, body)
	// Back to the start either way: on failure the caller sends the file.
	if _, err := f.Seek(0, io.SeekStart); err != nil || rerr != nil {
		return nil
	}
	if after, err := f.Stat(); err != nil || after.Size() != size || !after.ModTime().Equal(fi.ModTime()) {
		return nil
	}
	etag := makeETag(fi, coding)
	lm := modTime(fi)
	e := &cacheEntry{fi: fi, rep: rep{
		ct: ct, etag: etag, etagV: []string{etag}, lm: lm,
		lmV:  []string{lm.UTC().Format(http.TimeFormat)},
		size: size, sizeV: []string{strconv.FormatInt(size, 10)},
		coding: coding, src: memSource(body),
	}}
	e.checked.Store(now.UnixNano())
	c.insert(key, e)
	return e
}

// fillTries bounds how often fillStable reads a file that keeps changing.
const fillTries = 3

// fillStable is fill, reading the file again when it changed while read,
// with its FileInfo as it is now. It returns the entry, or nil with the
// FileInfo last seen (the caller sends the file with that length) when
// the file is no longer a small regular file or keeps changing.
func (c *fileCache) fillStable(key string, f *os.File, fi fs.FileInfo, ct []string, coding httpsyntax.Coding, now time.Time) (*cacheEntry, fs.FileInfo) {
	for range fillTries {
		if e := c.fill(key, f, fi, ct, coding, now); e != nil {
			return e, fi
		}
		nfi, err := f.Stat()
		if err != nil {
			break
		}
		fi = nfi
		if !fi.Mode().IsRegular() || fi.Size() > maxCachedFile {
			break
		}
	}
	return nil, fi
}

func (c *fileCache) insert(rel string, e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[rel]; old != nil {
		delete(c.m, rel)
		c.bytes -= old.cost()
	}
	// Make room by dropping entries in map order, which Go randomises:
	// a random eviction, cheap and good enough for a bounded set.
	for k, v := range c.m {
		if c.bytes+e.cost() <= maxCacheBytes {
			break
		}
		delete(c.m, k)
		c.bytes -= v.cost()
	}
	if c.m == nil {
		c.m = make(map[string]*cacheEntry)
	}
	c.m[rel] = e
	c.bytes += e.cost()
}

func (c *fileCache) remove(rel string, e *cacheEntry) {
	c.mu.Lock()
	if c.m[rel] == e {
		delete(c.m, rel)
		c.bytes -= e.cost()
	}
	c.mu.Unlock()
}
