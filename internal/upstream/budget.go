package upstream

import (
	"fmt"

	"github.com/portico-proxy/portico/internal/config"
	"strconv"
	"strings"
	"sync/atomic"
)

// retryBudget lets retries be at most a set share of requests (Envoy's
// retry budget, Finagle's token bucket): every request deposits the
// share of a token, every retry spends a whole one. The bucket starts
// full and holds budgetBurst tokens, so a quiet pool can still retry its
// first failures, while a failing busy pool cannot multiply its load.
type retryBudget struct {
	milli   atomic.Int64 // tokens in thousandths
	deposit int64        // thousandths per request
}

// budgetBurst is how many retries the bucket holds.
const budgetBurst = 10

func (rb *retryBudget) init(percent int) {
	rb.deposit = int64(percent) * 10
	rb.milli.Store(budgetBurst * 1000)
}

// request credits one request's share.
func (rb *retryBudget) request() {
	if rb.milli.Load() >= budgetBurst*1000 {
		return // full: skip the write, the common case on a healthy pool
	}
	if n := rb.milli.Add(rb.deposit); n > budgetBurst*1000 {
		rb.milli.Add(-min(rb.deposit, n-budgetBurst*1000))
	}
}

// available reports whether a retry would get a token now.
func (rb *retryBudget) available() bool { return rb.milli.Load() >= 1000 }

// withdraw spends a token for one retry; false when the budget is spent.
func (rb *retryBudget) withdraw() bool {
	for {
		n := rb.milli.Load()
		if n < 1000 {
			return false
		}
		if rb.milli.CompareAndSwap(n, n-1000) {
			return true
		}
	}
}

// retryRules say which failures of an idempotent request are retried.
type retryRules struct {
	errors   bool // the connection broke or the answer was not HTTP
	timeouts bool
	statuses [10]uint64 // one bit per status code 0..639
}

func (rr *retryRules) status(code int) bool {
	return code >= 0 && code < 640 && rr.statuses[code>>6]&(1<<(code&63)) != 0
}

func (rr *retryRules) anyStatus() bool {
	for _, w := range rr.statuses {
		if w != 0 {
			return true
		}
	}
	return false
}

func (rr *retryRules) addStatus(code int) { rr.statuses[code>>6] |= 1 << (code & 63) }

// parseRetryOn reads retry_on: "error", "timeout", a status from 500 to
// 599, or "5xx" for all of them.
func parseRetryOn(list []string) (retryRules, error) {
	var rr retryRules
	if list == nil {
		list = config.DefaultRetryOn
	}
	for _, s := range list {
		switch s = strings.TrimSpace(s); s {
		case "error":
			rr.errors = true
		case "timeout":
			rr.timeouts = true
		case "5xx":
			for c := 500; c < 600; c++ {
				rr.addStatus(c)
			}
		default:
			c, err := strconv.Atoi(s)
			if err != nil || c < 500 || c > 599 {
				return rr, fmt.Errorf("retry_on: %q is not error, timeout, 5xx or a status from 500 to 599", s)
			}
			rr.addStatus(c)
		}
	}
	return rr, nil
}
