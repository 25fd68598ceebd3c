package upstream

import "testing"

// TestSyncDrainsTakesOverADrainMadeDuringAReload: a reload builds its
// pools, then a drain marks the running pool (and the shared set), then
// the new pools go live. Without SyncDrains the new pool would keep
// sending requests to the drained backend.
func TestSyncDrainsTakesOverADrainMadeDuringAReload(t *testing.T) {
	drains := NewDrainSet()
	opts := PoolOptions{Backends: []BackendOptions{{URL: "http://127.0.0.1:1"}, {URL: "http://127.0.0.1:2"}}, Drains: drains}
	running, err := NewPool("app", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer running.Close()
	built, err := NewPool("app", opts) // the reload's, built before the drain
	if err != nil {
		t.Fatal(err)
	}
	defer built.Close()
	draining := func(p *Pool) (marks []bool) {
		for _, b := range p.State().Backends {
			marks = append(marks, b.Draining)
		}
		return marks
	}

	if err := running.SetDraining("http://127.0.0.1:1", true); err != nil {
		t.Fatal(err)
	}
	if got := draining(built); got[0] {
		t.Fatal("the test is void: the built pool saw the drain already")
	}
	built.SyncDrains()
	if got := draining(built); !got[0] || got[1] {
		t.Fatalf("after SyncDrains: draining %v, want [true false]", got)
	}
	if err := running.SetDraining("http://127.0.0.1:1", false); err != nil {
		t.Fatal(err)
	}
	built.SyncDrains()
	if got := draining(built); got[0] || got[1] {
		t.Fatalf("after undrain and SyncDrains: draining %v, want [false false]", got)
	}
}
