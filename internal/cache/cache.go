package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options are what a Cache is built from, once per process.
type Options struct {
	Memory Store // required: the first tier
	Disk   Store // optional: survives restarts
	// Shared is optional: a store several instances read and write (Redis).
	Shared Store
	// Bus, optional, spreads purges to other instances.
	Bus Bus
	Log *slog.Logger
	// Now is the clock; nil means time.Now. Tests inject their own.
	Now func() time.Time
}

// Cache is the process-wide cache: its stores, the coalescing of misses
// and purges. It is safe for concurrent use and outlives reloads.
type Cache struct {
	tiers  []*tier
	bus    Bus
	log    *slog.Logger
	now    func() time.Time
	id     string // this instance, so it ignores its own purge messages
	flight flight
	// revalidating holds the keys with a background refresh running
	// (stale-while-revalidate): one refresh per key at a time.
	revalidating sync.Map
	stop         context.CancelFunc
	bg           sync.WaitGroup
	counters     counters
}

// tier is one store with its failure state. A store that fails is skipped
// for a backoff period, so a dead Redis costs one timeout per period
// instead of one per request, and its errors are logged at most once per
// logEvery.
type tier struct {
	name      string
	s         Store
	shared    bool
	downUntil atomic.Int64 // unix nanoseconds
	lastLog   atomic.Int64
}

const (
	tierBackoff = time.Second
	logEvery    = 10 * time.Second
	// coalesceWait bounds how long a request waits for another one's
	// upstream response for the same key before asking upstream itself.
	coalesceWait = 30 * time.Second
)

// New builds a Cache over the given stores and, with a Bus, starts
// listening for purges from other instances.
func New(o Options) (*Cache, error) {
	if o.Memory == nil {
		return nil, errors.New("cache: a memory store is required")
	}
	c := &Cache{bus: o.Bus, log: o.Log, now: o.Now}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	c.id = hex.EncodeToString(b[:])
	c.tiers = append(c.tiers, &tier{name: "memory", s: o.Memory})
	if o.Disk != nil {
		c.tiers = append(c.tiers, &tier{name: "disk", s: o.Disk})
	}
	if o.Shared != nil {
		c.tiers = append(c.tiers, &tier{name: "shared", s: o.Shared, shared: true})
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.stop = cancel
	if c.bus != nil {
		if err := c.bus.Subscribe(ctx, c.onPurgeMessage); err != nil {
			cancel()
			return nil, err
		}
	}
	return c, nil
}

// Close stops background work and closes the stores.
func (c *Cache) Close() error {
	c.stop()
	c.bg.Wait()
	var errs []error
	for _, t := range c.tiers {
		errs = append(errs, t.s.Close())
	}
	return errors.Join(errs...)
}

func (t *tier) up(now time.Time) bool { return now.UnixNano() >= t.downUntil.Load() }

// failed marks the tier down for a while and logs, rate limited.
func (c *Cache) failed(t *tier, op string, err error) {
	c.counters.storeErrors.Add(1)
	now := c.now()
	t.downUntil.Store(now.Add(tierBackoff).UnixNano())
	last := t.lastLog.Load()
	if now.UnixNano()-last >= int64(logEvery) && t.lastLog.CompareAndSwap(last, now.UnixNano()) {
		c.log.Warn("cache store failing; serving without it", "store", t.name, "op", op, "err", err.Error())
	}
}

// get reads key from the first tier that has it, copying the entry into
// the faster tiers it was not found in. Entries past their Expires are
// misses.
func (c *Cache) get(ctx context.Context, key string) *Entry {
	// A client that leaves mid-lookup must not read as a store failure;
	// the stores' own timeouts bound the call.
	ctx = context.WithoutCancel(ctx)
	now := c.now()
	for i, t := range c.tiers {
		if !t.up(now) {
			continue
		}
		e, err := t.s.Get(ctx, key)
		if err != nil {
			c.failed(t, "get", err)
			continue
		}
		if e == nil || e.Key != key {
			continue
		}
		if !e.Expires.IsZero() && now.After(e.Expires) {
			_ = t.s.Delete(ctx, key)
			continue
		}
		for _, up := range c.tiers[:i] {
			if err := up.s.Put(ctx, e); err != nil {
				c.failed(up, "put", err)
			}
		}
		return e
	}
	return nil
}

// put writes e to every tier that is up.
func (c *Cache) put(ctx context.Context, e *Entry) {
	ctx = context.WithoutCancel(ctx)
	now := c.now()
	for _, t := range c.tiers {
		if !t.up(now) {
			continue
		}
		if err := t.s.Put(ctx, e); err != nil {
			c.failed(t, "put", err)
		}
	}
}

// Purge selects what to remove: exactly one field is set. URL and Prefix
// are absolute URLs ("https://example.com/img/") or host and path
// ("example.com/img/"); the scheme is not part of the cache key. Tag is a
// value of a Surrogate-Key or Cache-Tag response header.
type Purge struct {
	URL    string `json:"url,omitempty"`
	Prefix string `json:"prefix,omitempty"`
	Tag    string `json:"tag,omitempty"`
}

// purgeMessage is what travels on the Bus.
type purgeMessage struct {
	From string `json:"from"`
	Purge
}

// Purge removes the selected entries from every store and tells the other
// instances. removed counts the entries this instance's stores dropped
// (variants and Vary markers count one each).
func (c *Cache) Purge(ctx context.Context, p Purge) (removed int, err error) {
	if err := p.check(); err != nil {
		return 0, err
	}
	removed, err = c.purgeLocal(ctx, p, true)
	c.counters.purged.Add(uint64(removed))
	if c.bus != nil {
		msg, _ := json.Marshal(purgeMessage{From: c.id, Purge: p})
		if perr := c.bus.Publish(ctx, msg); perr != nil {
			c.log.Warn("cache purge not sent to other instances", "err", perr.Error())
			err = errors.Join(err, perr)
		}
	}
	return removed, err
}

func (p Purge) check() error {
	n := 0
	for _, s := range []string{p.URL, p.Prefix, p.Tag} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return errors.New("cache: purge needs exactly one of url, prefix, tag")
	}
	return nil
}

// purgeLocal applies p to this instance's tiers; withShared includes the
// shared tier, which only the instance that received the purge clears.
func (c *Cache) purgeLocal(ctx context.Context, p Purge, withShared bool) (int, error) {
	var total int
	var errs []error
	for _, t := range c.tiers {
		if t.shared && !withShared {
			continue
		}
		var n int
		var err error
		switch {
		case p.Tag != "":
			n, err = t.s.DeleteTag(ctx, p.Tag)
		case p.URL != "":
			n, err = t.s.DeletePrefix(ctx, urlKey(p.URL)+"\x00")
		default:
			n, err = t.s.DeletePrefix(ctx, urlKey(p.Prefix))
		}
		total += n
		if err != nil {
			c.failed(t, "purge", err)
			errs = append(errs, errors.New("cache: "+t.name+" store: "+err.Error()))
		}
	}
	return total, errors.Join(errs...)
}

func (c *Cache) onPurgeMessage(msg []byte) {
	var m purgeMessage
	if json.Unmarshal(msg, &m) != nil || m.From == c.id || m.check() != nil {
		return
	}
	_, _ = c.purgeLocal(context.Background(), m.Purge, false)
}

// urlKey turns a purge URL into the form keys start with: host lowercased,
// no scheme.
func urlKey(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	host, rest := u, ""
	if i := strings.IndexAny(u, "/?"); i >= 0 {
		host, rest = u[:i], u[i:]
	}
	if rest == "" {
		rest = "/"
	} else if rest[0] == '?' {
		rest = "/" + rest
	}
	return strings.ToLower(host) + rest
}

// flight coalesces concurrent misses for one key: the first request is
// the leader and goes upstream, the others wait on its call. It is
// singleflight's idea with the leader known up front, so the leader can
// stream to its own client on its own goroutine.
type flight struct {
	mu    sync.Mutex
	calls map[string]*call
}

type call struct {
	done chan struct{}
	e    *Entry // set before done is closed
}

func (f *flight) join(key string) (c *call, leader bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.calls[key]; c != nil {
		return c, false
	}
	if f.calls == nil {
		f.calls = map[string]*call{}
	}
	c = &call{done: make(chan struct{})}
	f.calls[key] = c
	return c, true
}

func (f *flight) finish(key string, c *call, e *Entry) {
	f.mu.Lock()
	delete(f.calls, key)
	f.mu.Unlock()
	c.e = e
	close(c.done)
}
