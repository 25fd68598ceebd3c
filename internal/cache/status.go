package cache

import (
	"strconv"
	"sync"
	"time"
)

// Cache-Status values (RFC 9211), made once: a hit sends a shared slice
// instead of formatting. "Portico" is the cache's name in the list.
var (
	statusHit        = []string{"Portico; hit"}
	statusHitStale   = []string{"Portico; hit; detail=stale"}
	statusHitSWR     = []string{"Portico; hit; detail=stale-while-revalidate"}
	statusMissStored = []string{"Portico; fwd=uri-miss; stored"}
	statusMiss       = []string{"Portico; fwd=uri-miss"}
	statusVaryStored = []string{"Portico; fwd=vary-miss; stored"}
	statusVaryMiss   = []string{"Portico; fwd=vary-miss"}
	statusCollapsed  = []string{"Portico; fwd=uri-miss; collapsed"}
	// statusCollapsedStale: answered from another request's revalidation.
	statusCollapsedStale = []string{"Portico; fwd=stale; collapsed"}
	statusReqStored      = []string{"Portico; fwd=request; stored"}
	statusRequest        = []string{"Portico; fwd=request"}
	statusStale          = []string{"Portico; fwd=stale; stored"}
	statusStalePass      = []string{"Portico; fwd=stale"}
	statusRevalid        = []string{"Portico; fwd=stale; fwd-status=304"}
	statusBypass         = []string{"Portico; fwd=bypass"}
	statusMethod         = []string{"Portico; fwd=method"}
	statusNoCached       = []string{"Portico; fwd=miss; detail=only-if-cached"}
)

// statusStaleError is sent when a stale entry answered for a failing
// upstream; it names the upstream's status and why stale was allowed.
func statusStaleError(code int, why string) []string {
	return []string{"Portico; fwd=stale; fwd-status=" + strconv.Itoa(code) + "; detail=" + why}
}

// ageValues holds the Age header values for the first hour, made once, so
// a hit on a young entry formats nothing.
var ageValues = sync.OnceValue(func() [][]string {
	t := make([][]string, 3600)
	for i := range t {
		t[i] = []string{strconv.Itoa(i)}
	}
	return t
})

func ageHeader(age time.Duration) []string {
	s := int64(age / time.Second)
	if s < 3600 {
		return ageValues()[max(s, 0)]
	}
	return []string{strconv.FormatInt(min(s, maxDelta), 10)}
}
