// Package diskstore is the disk tier of the cache: one file per entry
// under a directory, bounded in total size, surviving restarts. It owns
// that directory and nothing else.
//
// Crash safety: an entry is written to a temporary file and renamed into
// place, so a final name only ever holds a whole file; every entry also
// carries a checksum (cache.UnmarshalEntry), so a file damaged any other
// way is a miss and is removed, never served.
package diskstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/portico-proxy/portico/internal/cache"
)

// Store keeps entries in files under a directory.
type Store struct {
	dir string
	max int64

	mu    sync.Mutex
	used  int64
	index map[string]*node // by key
	head  node             // LRU sentinel; head.next is the most recent
}

type node struct {
	key, file  string
	tags       []string
	size       int64
	prev, next *node
}

// peekSize is how much of each file Open reads to rebuild the index.
const peekSize = 64 << 10

// Open opens (creating if needed) the store in dir, holding at most max
// bytes. Leftovers of interrupted writes are removed and the index is
// rebuilt from the files present.
func Open(dir string, max int64) (*Store, error) {
	s := &Store{dir: dir, max: max, index: map[string]*node{}}
	s.head.next, s.head.prev = &s.head, &s.head
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return nil, fmt.Errorf("disk cache %s: %w", dir, err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "tmp")); err != nil {
		return nil, fmt.Errorf("disk cache %s: %w", dir, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return nil, fmt.Errorf("disk cache %s: %w", dir, err)
	}
	probe, err := os.CreateTemp(filepath.Join(dir, "tmp"), "probe")
	if err != nil {
		return nil, fmt.Errorf("disk cache %s: not writable: %w", dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	if err := s.load(); err != nil {
		return nil, fmt.Errorf("disk cache %s: %w", dir, err)
	}
	return s, nil
}

// load indexes the entry files present. Files that do not even start
// like an entry are removed.
func (s *Store) load() error {
	return filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "tmp" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".e") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		key, tags, ok := peek(p)
		if !ok || s.fileOf(key) != p {
			os.Remove(p)
			return nil
		}
		n := &node{key: key, file: p, tags: tags, size: info.Size()}
		s.index[key] = n
		s.pushFront(n)
		s.used += n.size
		return nil
	})
}

func peek(p string) (string, []string, bool) {
	f, err := os.Open(p)
	if err != nil {
		return "", nil, false
	}
	defer f.Close()
	buf := make([]byte, peekSize)
	n, _ := io.ReadFull(f, buf)
	return cache.PeekMeta(buf[:n])
}

func (s *Store) fileOf(key string) string {
	sum := sha256.Sum256([]byte(key))
	h := hex.EncodeToString(sum[:])
	return filepath.Join(s.dir, h[:2], h+".e")
}

// Used is the bytes of the entry files indexed.
func (s *Store) Used() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used
}

// Get reads key's file. A missing file is a miss; a damaged one is a miss
// and is removed.
func (s *Store) Get(_ context.Context, key string) (*cache.Entry, error) {
	p := s.fileOf(key)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		s.forget(key)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	e, err := cache.UnmarshalEntry(b)
	if err != nil || e.Key != key {
		os.Remove(p)
		s.forget(key)
		return nil, nil
	}
	s.mu.Lock()
	if n := s.index[key]; n != nil {
		s.unlink(n)
		s.pushFront(n)
	}
	s.mu.Unlock()
	return e, nil
}

// Put writes e to a temporary file and renames it into place. Entries
// bigger than an eighth of the budget are not kept.
func (s *Store) Put(_ context.Context, e *cache.Entry) error {
	b, err := e.MarshalBinary()
	if err != nil {
		return err
	}
	size := int64(len(b))
	if size > s.max/8 {
		// Not kept; an older entry under the key must not outlive it.
		return s.Delete(context.Background(), e.Key)
	}
	p := s.fileOf(e.Key)
	if err := s.write(p, b); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.index[e.Key]; old != nil {
		s.unlink(old)
		s.used -= old.size
	}
	n := &node{key: e.Key, file: p, tags: slices.Clone(e.Tags), size: size}
	s.index[e.Key] = n
	s.pushFront(n)
	s.used += size
	for s.used > s.max && s.head.prev != &s.head {
		s.removeLocked(s.head.prev)
	}
	return nil
}

func (s *Store) write(p string, b []byte) error {
	f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "w")
	if err != nil {
		return fmt.Errorf("disk cache: %w", err)
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("disk cache: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("disk cache: %w", err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("disk cache: %w", err)
	}
	return nil
}

func (s *Store) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.index[key]; n != nil {
		s.removeLocked(n)
		return nil
	}
	err := os.Remove(s.fileOf(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func (s *Store) DeletePrefix(_ context.Context, prefix string) (int, error) {
	return s.deleteIf(func(n *node) bool { return strings.HasPrefix(n.key, prefix) })
}

func (s *Store) DeleteTag(_ context.Context, tag string) (int, error) {
	return s.deleteIf(func(n *node) bool { return slices.Contains(n.tags, tag) })
}

func (s *Store) deleteIf(match func(*node) bool) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	count := 0
	var errs []error
	for _, n := range s.index {
		if match(n) {
			if err := s.removeLocked(n); err != nil {
				errs = append(errs, err)
			}
			count++
		}
	}
	return count, errors.Join(errs...)
}

func (s *Store) Close() error { return nil }

func (s *Store) forget(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.index[key]; n != nil {
		s.unlink(n)
		delete(s.index, key)
		s.used -= n.size
	}
}

func (s *Store) removeLocked(n *node) error {
	s.unlink(n)
	delete(s.index, n.key)
	s.used -= n.size
	err := os.Remove(n.file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func (s *Store) unlink(n *node) { n.prev.next, n.next.prev = n.next, n.prev }

func (s *Store) pushFront(n *node) {
	n.prev, n.next = &s.head, s.head.next
	s.head.next.prev = n
	s.head.next = n
}
