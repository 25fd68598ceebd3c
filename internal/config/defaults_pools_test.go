package config

import (
	"reflect"
	"testing"
	"time"
)

func TestPoolDefaults(t *testing.T) {
	c := load(t, `upstreams:
  small: {backends: [http://a, http://b]}
  big: {backends: [http://a, http://b, http://c], health: /h, eject: true}
  hashed: {backends: [http://a], balance: hash}
  sticky: {backends: [http://a], balance: sticky}
routes: [{proxy: small}, {proxy: big}, {proxy: hashed}, {proxy: sticky}]`)
	small, big := c.Upstreams["small"], c.Upstreams["big"]
	tests := []struct {
		name      string
		got, want any
	}{
		{"balance below 3 backends", small.Balance, "round_robin"},
		{"balance from 3 backends", big.Balance, "p2c"},
		{"hash key", c.Upstreams["hashed"].HashKey, "ip"},
		{"sticky cookie", c.Upstreams["sticky"].StickyCookie, "portico_backend"},
		{"retry_on", small.RetryOn, []string{"error", "timeout"}},
		{"retry budget", small.RetryBudget, 20},
		{"replay body", small.ReplayBody, int64(64 << 10)},
		{"max conns", small.MaxConns, 1024},
		{"max pending", small.MaxPending, 4096},
		{"resolve", small.Resolve, 30 * time.Second},
		{"try timeout off", small.TryTimeout, time.Duration(0)},
		{"slow start off", small.SlowStart, time.Duration(0)},
		{"eject nil means defaults in the pool", small.Eject, (*Eject)(nil)},
		{"eject true", [4]any{big.Eject.Failures, big.Eject.Duration, big.Eject.MaxDuration, big.Eject.MaxPercent},
			[4]any{5, 30 * time.Second, 5 * time.Minute, 50}},
		{"health thresholds", [3]any{big.Health.Status, big.Health.Rise, big.Health.Fall}, [3]any{"200-399", 2, 3}},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestEjectFalseTurnsPassiveChecksOff(t *testing.T) {
	c := load(t, "upstreams: {a: {backends: [http://a], eject: false}}\nroutes: [{proxy: a}]")
	if e := c.Upstreams["a"].Eject; e == nil || !e.Off || e.Failures != 0 {
		t.Fatalf("got %+v, want Off with no defaults filled in", e)
	}
}
