// Package storetest is the contract every cache store passes: one suite,
// run by the tests of memstore, diskstore and redisstore against the real
// thing. It owns no store of its own.
package storetest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/cache"
)

// Entry makes a test entry for url with a body of n bytes.
func Entry(url string, n int, tags ...string) *cache.Entry {
	now := time.Unix(1_800_000_000, 0)
	body := bytes.Repeat([]byte(url[len(url)-1:]), n)
	return &cache.Entry{
		Key: url + "\x00", URL: url, Tags: tags, Status: 200,
		Header:      http.Header{"Content-Type": {"text/plain"}, "Etag": {`"v1"`}, "X-Multi": {"a", "b"}},
		Body:        body,
		RequestTime: now, ResponseTime: now.Add(time.Millisecond),
		InitialAge: 3 * time.Second, Lifetime: time.Minute,
		Expires: now.Add(time.Hour),
	}
}

// contract lists the rules every store keeps, by name.
var contract = []struct {
	name  string
	check func(t *testing.T, s cache.Store)
}{
	{"MissIsNilWithoutError", checkMissIsNilWithoutError},
	{"PutThenGetReturnsTheSameEntry", checkPutThenGetReturnsTheSameEntry},
	{"MarkerEntriesRoundTrip", checkMarkerEntriesRoundTrip},
	{"PutReplaces", checkPutReplaces},
	{"DeleteRemovesOnlyThatKey", checkDeleteRemovesOnlyThatKey},
	{"DeletePrefixRemovesMatchingKeysAndCountsThem", checkDeletePrefixRemovesMatchingKeysAndCountsThem},
	{"DeletePrefixTreatsGlobCharactersLiterally", checkDeletePrefixTreatsGlobCharactersLiterally},
	{"DeleteTagRemovesTaggedEntries", checkDeleteTagRemovesTaggedEntries},
	{"LargeBodyRoundTrips", checkLargeBodyRoundTrips},
	{"ConcurrentUseIsSafe", checkConcurrentUseIsSafe},
}

// Run runs the contract against stores made by open; each rule gets a
// fresh, empty store.
func Run(t *testing.T, open func(t *testing.T) cache.Store) {
	for _, c := range contract {
		t.Run(c.name, func(t *testing.T) { c.check(t, open(t)) })
	}
}

func checkMissIsNilWithoutError(t *testing.T, s cache.Store) {
	ctx := context.Background()
	e, err := s.Get(ctx, "example.com/none\x00")
	if e != nil || err != nil {
		t.Fatalf("got %v, %v; want nil, nil", e, err)
	}
}

func checkPutThenGetReturnsTheSameEntry(t *testing.T, s cache.Store) {
	want := Entry("example.com/a", 1000, "t1", "t2")
	want.Vary = []string{"Accept-Encoding"}
	mustPut(t, s, want)
	got := mustGet(t, s, want.Key)
	same(t, got, want)
}

func checkMarkerEntriesRoundTrip(t *testing.T, s cache.Store) {
	m := &cache.Entry{Key: "example.com/v\x00", URL: "example.com/v", Marker: true,
		Vary: []string{"Accept-Language"}, Header: http.Header{}, ResponseTime: time.Now(), Expires: time.Now().Add(time.Hour)}
	mustPut(t, s, m)
	got := mustGet(t, s, m.Key)
	if !got.Marker || !reflect.DeepEqual(got.Vary, m.Vary) {
		t.Fatalf("got marker %v vary %v, want true %v", got.Marker, got.Vary, m.Vary)
	}
}

func checkPutReplaces(t *testing.T, s cache.Store) {
	mustPut(t, s, Entry("example.com/a", 10))
	second := Entry("example.com/a", 20)
	mustPut(t, s, second)
	if got := mustGet(t, s, second.Key); len(got.Body) != 20 {
		t.Fatalf("got body of %d bytes, want 20", len(got.Body))
	}
}

func checkDeleteRemovesOnlyThatKey(t *testing.T, s cache.Store) {
	ctx := context.Background()
	a, b := Entry("example.com/a", 10), Entry("example.com/b", 10)
	mustPut(t, s, a)
	mustPut(t, s, b)
	if err := s.Delete(ctx, a.Key); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.Get(ctx, a.Key); e != nil {
		t.Fatal("deleted entry still returned")
	}
	mustGet(t, s, b.Key)
	if err := s.Delete(ctx, "example.com/never\x00"); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
}

func checkDeletePrefixRemovesMatchingKeysAndCountsThem(t *testing.T, s cache.Store) {
	ctx := context.Background()
	for _, u := range []string{"example.com/img/1", "example.com/img/2", "example.com/imgx", "other.com/img/1"} {
		mustPut(t, s, Entry(u, 10))
	}
	n, err := s.DeletePrefix(ctx, "example.com/img/")
	if err != nil || n != 2 {
		t.Fatalf("got %d, %v; want 2, nil", n, err)
	}
	for _, u := range []string{"example.com/imgx", "other.com/img/1"} {
		mustGet(t, s, u+"\x00")
	}
	if e, _ := s.Get(ctx, "example.com/img/1\x00"); e != nil {
		t.Fatal("purged entry still returned")
	}
}

func checkDeletePrefixTreatsGlobCharactersLiterally(t *testing.T, s cache.Store) {
	ctx := context.Background()
	mustPut(t, s, Entry("example.com/a*b", 10))
	mustPut(t, s, Entry("example.com/aXb", 10))
	n, err := s.DeletePrefix(ctx, "example.com/a*")
	if err != nil || n != 1 {
		t.Fatalf("got %d, %v; want 1, nil", n, err)
	}
	mustGet(t, s, "example.com/aXb\x00")
}

func checkDeleteTagRemovesTaggedEntries(t *testing.T, s cache.Store) {
	ctx := context.Background()
	mustPut(t, s, Entry("example.com/1", 10, "product-1", "all"))
	mustPut(t, s, Entry("example.com/2", 10, "product-2", "all"))
	mustPut(t, s, Entry("example.com/3", 10))
	n, err := s.DeleteTag(ctx, "product-1")
	if err != nil || n != 1 {
		t.Fatalf("got %d, %v; want 1, nil", n, err)
	}
	n, err = s.DeleteTag(ctx, "all")
	if err != nil || n != 1 {
		t.Fatalf("second purge: got %d, %v; want 1, nil", n, err)
	}
	mustGet(t, s, "example.com/3\x00")
}

func checkLargeBodyRoundTrips(t *testing.T, s cache.Store) {
	e := Entry("example.com/big", 3<<20)
	mustPut(t, s, e)
	if got := mustGet(t, s, e.Key); !bytes.Equal(got.Body, e.Body) {
		t.Fatal("body differs")
	}
}

func checkConcurrentUseIsSafe(t *testing.T, s cache.Store) {
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				e := Entry(fmt.Sprintf("example.com/%d/%d", g, i%5), 100)
				if err := s.Put(ctx, e); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Get(ctx, e.Key); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func mustPut(t *testing.T, s cache.Store, e *cache.Entry) {
	t.Helper()
	if err := s.Put(context.Background(), e); err != nil {
		t.Fatalf("Put %q: %v", e.Key, err)
	}
}

func mustGet(t *testing.T, s cache.Store, key string) *cache.Entry {
	t.Helper()
	e, err := s.Get(context.Background(), key)
	if err != nil || e == nil {
		t.Fatalf("Get %q: got %v, %v; want the entry", key, e, err)
	}
	return e
}

func same(t *testing.T, got, want *cache.Entry) {
	t.Helper()
	checks := []struct {
		name string
		g, w any
	}{
		{"Key", got.Key, want.Key}, {"URL", got.URL, want.URL}, {"Tags", got.Tags, want.Tags},
		{"Vary", got.Vary, want.Vary}, {"Status", got.Status, want.Status},
		{"Header", got.Header, want.Header}, {"Body", got.Body, want.Body},
		{"RequestTime", got.RequestTime.UnixNano(), want.RequestTime.UnixNano()},
		{"ResponseTime", got.ResponseTime.UnixNano(), want.ResponseTime.UnixNano()},
		{"InitialAge", got.InitialAge, want.InitialAge}, {"Lifetime", got.Lifetime, want.Lifetime},
		{"Expires", got.Expires.UnixNano(), want.Expires.UnixNano()},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.g, c.w) {
			t.Errorf("%s: got %v, want %v", c.name, c.g, c.w)
		}
	}
}
