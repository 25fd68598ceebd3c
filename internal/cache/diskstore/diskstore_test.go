package diskstore

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/portico-proxy/portico/internal/cache"
	"github.com/portico-proxy/portico/internal/cache/storetest"
)

// TestMain doubles as the crash test's writer: re-executed with
// PORTICO_DISKSTORE_WRITER set, the binary writes entries until killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("PORTICO_DISKSTORE_WRITER"); dir != "" {
		writeForever(dir)
		return
	}
	os.Exit(m.Run())
}

func writeForever(dir string) {
	s, err := Open(dir, 1<<30)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		e := patterned(i)
		if err := s.Put(context.Background(), e); err != nil {
			fmt.Println("put:", err)
			os.Exit(1)
		}
		fmt.Println(i)
	}
}

// patterned is entry i: a body of a size and a byte both derived from i,
// so a reader can tell a whole entry from a torn one.
func patterned(i int) *cache.Entry {
	e := storetest.Entry("example.com/crash/"+strconv.Itoa(i%40), 0)
	e.Body = bytes.Repeat([]byte{byte(i)}, 200<<10+i%7*50<<10)
	e.Header.Set("X-Seq", strconv.Itoa(i))
	return e
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) cache.Store {
		s, err := Open(t.TempDir(), 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestEntriesSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(dir, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	e := storetest.Entry("example.com/kept", 500, "tag-a")
	if err := s.Put(ctx, e); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s2.Get(ctx, e.Key); got == nil || !bytes.Equal(got.Body, e.Body) {
		t.Fatal("entry lost across reopen")
	}
	// The rebuilt index knows the tags, so purge by tag works after a restart.
	if n, err := s2.DeleteTag(ctx, "tag-a"); err != nil || n != 1 {
		t.Fatalf("DeleteTag after reopen: got %d, %v; want 1, nil", n, err)
	}
}

func TestSizeBoundEvictsOldest(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir(), 80<<10)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := s.Put(ctx, storetest.Entry("example.com/"+strconv.Itoa(i), 5<<10)); err != nil {
			t.Fatal(err)
		}
	}
	if s.Used() > 80<<10 {
		t.Errorf("used %d bytes, max %d", s.Used(), 80<<10)
	}
	if e, _ := s.Get(ctx, "example.com/0\x00"); e != nil {
		t.Error("oldest entry kept past the bound")
	}
	if e, _ := s.Get(ctx, "example.com/19\x00"); e == nil {
		t.Error("newest entry evicted")
	}
}

func TestCorruptEntryIsAMissAndIsRemoved(t *testing.T) {
	ctx := context.Background()
	cases := map[string]func(b []byte) []byte{
		"truncated":   func(b []byte) []byte { return b[:len(b)/2] },
		"flipped bit": func(b []byte) []byte { b[len(b)/2] ^= 1; return b },
		"empty":       func([]byte) []byte { return nil },
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			e := storetest.Entry("example.com/x", 4096)
			if err := s.Put(ctx, e); err != nil {
				t.Fatal(err)
			}
			p := s.fileOf(e.Key)
			b, _ := os.ReadFile(p)
			if err := os.WriteFile(p, damage(b), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(ctx, e.Key)
			if got != nil || err != nil {
				t.Fatalf("got %v, %v; want a miss", got, err)
			}
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Error("damaged file left in place")
			}
		})
	}
}

// TestCrashDuringWritesNeverServesATornEntry kills a writer process with
// SIGKILL while it writes entries of a few hundred KiB, then reopens the
// directory: every entry found must be whole.
func TestCrashDuringWritesNeverServesATornEntry(t *testing.T) {
	dir := t.TempDir()
	for round := range 3 {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "PORTICO_DISKSTORE_WRITER="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		// Let it get well into writing, then kill it wherever it is.
		want := 30 + round*17
		for n := 0; n < want && sc.Scan(); n++ {
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()

		s, err := Open(dir, 1<<30)
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		found := 0
		for k := range 40 {
			key := "example.com/crash/" + strconv.Itoa(k) + "\x00"
			e, err := s.Get(context.Background(), key)
			if err != nil {
				t.Fatalf("round %d: Get: %v", round, err)
			}
			if e == nil {
				continue
			}
			found++
			seq, _ := strconv.Atoi(e.Header.Get("X-Seq"))
			if want := patterned(seq); !bytes.Equal(e.Body, want.Body) {
				t.Fatalf("round %d: entry %q (seq %d) is torn: %d bytes", round, key, seq, len(e.Body))
			}
		}
		if found == 0 {
			t.Fatalf("round %d: no entries survived; the writer did not run", round)
		}
		left, _ := os.ReadDir(filepath.Join(dir, "tmp"))
		if len(left) != 0 {
			t.Errorf("round %d: %d temporary files left after reopen", round, len(left))
		}
	}
}

func TestUnwritableDirectoryFailsToOpen(t *testing.T) {
	// A regular file where the directory should be: writes fail even for
	// root, which ignores permission bits.
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(filepath.Join(f, "cache"), 1<<30); err == nil {
		t.Fatal("Open succeeded under a regular file")
	}
}

func TestDirectoryGoneMakesPutFailAndGetMiss(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "cache")
	s, err := Open(dir, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	e := storetest.Entry("example.com/a", 100)
	if err := s.Put(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, storetest.Entry("example.com/b", 100)); err == nil {
		t.Error("Put into a vanished directory reported success")
	}
	got, err := s.Get(ctx, e.Key)
	if got != nil {
		t.Errorf("got an entry from a vanished directory")
	}
	_ = err // an error and a miss are both a miss to the cache
}
