package cache

import "context"

// Store keeps entries under string keys. Keys start with the entry's URL
// (host and request URI) followed by a NUL byte, so purge by URL and by
// prefix are both DeletePrefix. Get returns (nil, nil) on a miss; an error
// means the store could not answer, and the cache treats it as a miss.
// Every implementation passes the suite in package storetest.
type Store interface {
	Get(ctx context.Context, key string) (*Entry, error)
	// Put stores e under e.Key, replacing what was there.
	Put(ctx context.Context, e *Entry) error
	Delete(ctx context.Context, key string) error
	// DeletePrefix removes every key starting with prefix and says how
	// many entries went.
	DeletePrefix(ctx context.Context, prefix string) (int, error)
	// DeleteTag removes every entry whose Tags hold tag.
	DeleteTag(ctx context.Context, tag string) (int, error)
	Close() error
}

// Bus carries purges between instances that share a store, so a purge on
// one reaches the private (memory, disk) stores of all.
type Bus interface {
	Publish(ctx context.Context, msg []byte) error
	// Subscribe calls fn for every message until ctx is done. It does not
	// block, and keeps trying while the bus is unreachable.
	Subscribe(ctx context.Context, fn func(msg []byte)) error
}
