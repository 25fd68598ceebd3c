package upstream

import (
	"math"
	"strconv"
	"sync/atomic"
)

// Backend is one address of a pool with its live state. Every field that
// changes while requests run is atomic: policies read it without locks.
type Backend struct {
	url  string // as written in the config; drain marks and the admin API use it
	addr string // host:port, what is dialled
	// host is the backend's name as a Host field value: the host of its
	// URL (or the SRV target) with the port unless it is the scheme's
	// default. A resolved name keeps it, so health checks and
	// host_header: upstream say the name, not the address.
	host     string
	basePath string // path of the backend URL, prepended to request paths
	weight   int
	// id identifies the address for the hash ring and the sticky cookie;
	// cookie is its text form, computed once.
	id     uint64
	cookie string
	conns  *connPool

	inflight atomic.Int64
	down     atomic.Bool // failed its active health checks (fall in a row)
	draining atomic.Bool // set through the admin API: no new requests

	// Passive health (outlier detection), see eject.go.
	fails        atomic.Int32 // consecutive failed exchanges
	ejections    atomic.Int32 // ejections in a row, for the backoff
	ejectedUntil atomic.Int64 // unix nanoseconds; 0 when never ejected

	// rampFrom is when the backend last became usable (new, recovered or
	// back from ejection); slow start grows its share from there.
	rampFrom atomic.Int64

	// Peak-EWMA of the time to the response head, in nanoseconds.
	ewma   atomic.Int64
	ewmaAt atomic.Int64

	// Counters of the health checker, which alone touches them.
	okRun, failRun int
}

// Addr is the backend's host:port.
func (b *Backend) Addr() string { return b.addr }

func newBackend(url, addr, basePath string, weight int, conns *connPool) *Backend {
	id := hashString(addr)
	return &Backend{url: url, addr: addr, host: addr, basePath: basePath, weight: max(weight, 1),
		id: id, cookie: strconv.FormatUint(id, 16), conns: conns}
}

// ewmaDecay is the time constant of the latency average: a backend that
// got slow a minute ago has mostly been forgiven.
const ewmaDecay = 10e9 // 10s in nanoseconds

// observeLatency folds one time-to-first-byte sample into the peak-EWMA:
// a sample above the average replaces it at once (a backend turning slow
// is avoided quickly), a lower one pulls it down with the decay. Racing
// updates may lose a sample; the average stays sound.
func (b *Backend) observeLatency(now, rtt int64) {
	prev := b.ewma.Load()
	at := b.ewmaAt.Swap(now)
	if rtt >= prev || at == 0 {
		b.ewma.Store(rtt)
		return
	}
	w := math.Exp(-float64(now-at) / ewmaDecay)
	b.ewma.Store(int64(float64(prev)*w + float64(rtt)*(1-w)))
}

// hashString is FNV-1a with a final mix: fixed across processes, so every
// instance of a cluster maps a key to the same backend.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return mix64(h)
}

// mix64 is the splitmix64 finaliser: FNV alone spreads short, similar
// strings poorly over the ring.
func mix64(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}
