// Package redisstore is the shared tier of the cache: entries in a Redis
// server that several Portico instances use together, and the channel
// that carries purges between them. It owns its keys (under a prefix) and
// its channel, and nothing else; package cache decides what to store and
// treats every error here as a miss.
package redisstore

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portico-proxy/portico/internal/cache"
)

// Options configure the connection. Timeouts are short: a slow Redis must
// cost a request little, and the cache stops asking a failing one for a
// while.
type Options struct {
	Addr         string
	Password     string
	DB           int
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// Prefix starts every key and the purge channel's name; default
	// "portico:cache:". Instances that share a cache share a prefix.
	Prefix string
}

// Store is a cache.Store and cache.Bus over one Redis server.
type Store struct {
	c      *redis.Client
	prefix string
}

// New returns a store; it does not connect until first used, so a Redis
// that is down at start only means a cache without its shared tier.
func New(o Options) *Store {
	if o.Prefix == "" {
		o.Prefix = "portico:cache:"
	}
	c := redis.NewClient(&redis.Options{
		Addr: o.Addr, Password: o.Password, DB: o.DB,
		DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout,
		// One try: the cache treats a failure as a miss, and a retry would
		// double the time a dead server costs. That holds for dialing too:
		// the library's default of 5 dial attempts with backoff made a
		// stopped server cost 400 ms a call, and an unreachable one five
		// dial timeouts, instead of one.
		MaxRetries:      -1,
		DialerRetries:   1,
		DisableIdentity: true,
		Protocol:        2,
	})
	return &Store{c: c, prefix: o.Prefix}
}

func (s *Store) entryKey(key string) string { return s.prefix + "e:" + key }
func (s *Store) tagKey(tag string) string   { return s.prefix + "t:" + tag }
func (s *Store) channel() string            { return s.prefix + "purge" }

func (s *Store) Get(ctx context.Context, key string) (*cache.Entry, error) {
	b, err := s.c.Get(ctx, s.entryKey(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	// A key of another type (hash, list...) is foreign data, like a value
	// that does not decode: a miss, not a failing server, which would take
	// the whole tier out for every key and keep the value there for good.
	wrongType := redis.HasErrorPrefix(err, "WRONGTYPE")
	if err != nil && !wrongType {
		return nil, err
	}
	var e *cache.Entry
	if !wrongType {
		e, err = cache.UnmarshalEntry(b)
	}
	if wrongType || err != nil || e.Key != key {
		// Damaged or foreign data is a miss, and is dropped.
		_ = s.c.Del(ctx, s.entryKey(key)).Err()
		return nil, nil
	}
	return e, nil
}

// Put stores e with a TTL up to its Expires, and indexes its tags.
func (s *Store) Put(ctx context.Context, e *cache.Entry) error {
	b, err := e.MarshalBinary()
	if err != nil {
		return err
	}
	// The TTL is measured from the response, on the cache's own clock:
	// the cache checks Expires itself on every read, so Redis only needs
	// to forget the entry eventually.
	var ttl time.Duration
	if !e.Expires.IsZero() {
		if ttl = e.Expires.Sub(e.ResponseTime); ttl <= 0 {
			return nil
		}
	}
	pipe := s.c.TxPipeline()
	pipe.Set(ctx, s.entryKey(e.Key), b, ttl)
	for _, t := range e.Tags {
		index(ctx, pipe, s.tagKey(t), e.Key, ttl)
	}
	cmds, err := pipe.Exec(ctx)
	if err != nil && redis.HasErrorPrefix(err, "WRONGTYPE") {
		// Something else wrote another type under a tag's key. SET cannot
		// fail so, and a transaction runs its other commands: the entry
		// is stored, and the foreign keys are replaced by the index.
		return s.reindexForeign(ctx, cmds, e.Key, ttl)
	}
	return err
}

// index adds key to the tag set under tagKey, the set living as long as
// its longest entry.
func index(ctx context.Context, pipe redis.Pipeliner, tagKey, key string, ttl time.Duration) {
	pipe.SAdd(ctx, tagKey, key)
	if ttl > 0 {
		pipe.ExpireGT(ctx, tagKey, ttl)
		pipe.ExpireNX(ctx, tagKey, ttl)
	}
}

// reindexForeign replaces the tag keys whose SADD met another type by a
// fresh index of key (EXPIRE takes any type); any other failure in cmds
// is returned.
func (s *Store) reindexForeign(ctx context.Context, cmds []redis.Cmder, key string, ttl time.Duration) error {
	pipe := s.c.TxPipeline()
	for _, c := range cmds {
		switch err := c.Err(); {
		case err == nil:
		case !redis.HasErrorPrefix(err, "WRONGTYPE") || c.Name() != "sadd":
			return err
		default:
			tagKey, _ := c.Args()[1].(string)
			pipe.Del(ctx, tagKey)
			index(ctx, pipe, tagKey, key, ttl)
		}
	}
	_, err := pipe.Exec(ctx)
	return err
}

func (s *Store) Delete(ctx context.Context, key string) error {
	return s.c.Del(ctx, s.entryKey(key)).Err()
}

// DeletePrefix scans for the keys with prefix; purges are rare, and a
// scan keeps Puts free of an index.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	pattern := globEscape(s.entryKey(prefix)) + "*"
	total := 0
	var cursor uint64
	for {
		keys, next, err := s.c.Scan(ctx, cursor, pattern, 1000).Result()
		if err != nil {
			return total, err
		}
		if len(keys) > 0 {
			n, err := s.c.Del(ctx, keys...).Result()
			total += int(n)
			if err != nil {
				return total, err
			}
		}
		if cursor = next; cursor == 0 {
			return total, nil
		}
	}
}

func (s *Store) DeleteTag(ctx context.Context, tag string) (int, error) {
	keys, err := s.c.SMembers(ctx, s.tagKey(tag)).Result()
	if redis.HasErrorPrefix(err, "WRONGTYPE") {
		// Not an index of this store's: it names none of its entries.
		return 0, s.c.Del(ctx, s.tagKey(tag)).Err()
	}
	if err != nil {
		return 0, err
	}
	full := make([]string, 0, len(keys)+1)
	for _, k := range keys {
		full = append(full, s.entryKey(k))
	}
	n := int64(0)
	if len(full) > 0 {
		if n, err = s.c.Del(ctx, full...).Result(); err != nil {
			return 0, err
		}
	}
	return int(n), s.c.Del(ctx, s.tagKey(tag)).Err()
}

func (s *Store) Close() error { return s.c.Close() }

// Publish sends a purge message to every instance.
func (s *Store) Publish(ctx context.Context, msg []byte) error {
	return s.c.Publish(ctx, s.channel(), msg).Err()
}

// Subscribe delivers purge messages to fn until ctx is done. It waits
// briefly for the subscription to be confirmed, so a purge sent right
// after start is not lost; if Redis is down it goes on, and the client
// subscribes once Redis is back.
func (s *Store) Subscribe(ctx context.Context, fn func(msg []byte)) error {
	ps := s.c.Subscribe(ctx, s.channel())
	wait, cancel := context.WithTimeout(ctx, 2*time.Second)
	_, _ = ps.Receive(wait)
	cancel()
	ch := ps.Channel()
	go func() {
		defer ps.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				fn([]byte(m.Payload))
			}
		}
	}()
	return nil
}

// globEscape quotes the characters Redis MATCH patterns treat specially.
func globEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// QuietClientLog stops the Redis client library from printing its own
// lines (one per failed dial, unbounded while Redis is down). The cache
// logs store failures itself, at most once per period. The library's
// logger is process-wide, so cmd/portico calls this once at start.
func QuietClientLog() { redis.SetLogger(discardLogger{}) }

type discardLogger struct{}

func (discardLogger) Printf(context.Context, string, ...any) {}
