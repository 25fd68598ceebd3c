package admin

import (
	"time"

	"github.com/portico-proxy/portico/internal/listener"
)

// certificate is one row of GET /api/certificates: what the listener
// holds, with the days left so that a monitoring script needs no date
// arithmetic.
type certificate struct {
	listener.CertInfo
	DaysLeft int `json:"days_left"`
}

func certificatesOf(certs []listener.CertInfo, now time.Time) []certificate {
	out := make([]certificate, 0, len(certs))
	for _, c := range certs {
		out = append(out, certificate{CertInfo: c, DaysLeft: int(c.NotAfter.Sub(now).Hours() / 24)})
	}
	return out
}
