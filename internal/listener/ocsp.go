package listener

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
)

// stapler keeps an OCSP response stapled to every file certificate that
// names a responder (and ships its issuer in the chain), so clients need
// not ask the CA themselves. A failed fetch keeps the last good response
// until it expires; a certificate without a responder is left alone.
type stapler struct {
	certs  *CertStore
	client *http.Client
	log    *slog.Logger
	now    func() time.Time
	kickCh chan struct{}
	mu     sync.Mutex
}

const (
	ocspRefresh    = time.Hour
	ocspMaxBody    = 1 << 20
	ocspHTTPTimout = 10 * time.Second
)

func newStapler(certs *CertStore, client *http.Client, log *slog.Logger) *stapler {
	if certs == nil {
		return nil
	}
	if client == nil {
		client = &http.Client{Timeout: ocspHTTPTimout}
	}
	return &stapler{certs: certs, client: client, log: log, now: time.Now, kickCh: make(chan struct{}, 1)}
}

// kick asks for a refresh soon, after certificates changed.
func (st *stapler) kick() {
	select {
	case st.kickCh <- struct{}{}:
	default:
	}
}

func (st *stapler) run(stop <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-stop; cancel() }()
	t := time.NewTicker(ocspRefresh)
	defer t.Stop()
	for {
		st.refresh(ctx)
		select {
		case <-stop:
			return
		case <-t.C:
		case <-st.kickCh:
		}
	}
}

// refresh fetches a response for each certificate with a responder.
func (st *stapler) refresh(ctx context.Context) {
	st.mu.Lock() // one refresh at a time: the loop and a kick may meet
	defer st.mu.Unlock()
	st.certs.mu.Lock()
	files := append([]*fileCert(nil), st.certs.files...)
	staples := make([][]byte, len(files))
	for i, fc := range files {
		staples[i] = fc.staple
	}
	st.certs.mu.Unlock()
	for i, fc := range files {
		leaf := fc.cert.Leaf
		if len(leaf.OCSPServer) == 0 || len(fc.cert.Certificate) < 2 {
			continue
		}
		issuer, err := x509.ParseCertificate(fc.cert.Certificate[1])
		if err != nil {
			continue
		}
		raw, err := st.fetch(ctx, leaf, issuer)
		if err != nil {
			st.log.Warn("tls: ocsp stapling: keeping the last response", "listener", st.certs.listener,
				"cert", fc.pair.Cert, "err", err.Error())
			if staples[i] != nil && st.expired(staples[i], leaf, issuer) {
				st.certs.setStaple(fc, nil)
			}
			continue
		}
		st.certs.setStaple(fc, raw)
	}
}

func (st *stapler) expired(raw []byte, leaf, issuer *x509.Certificate) bool {
	r, err := ocsp.ParseResponseForCert(raw, leaf, issuer)
	return err != nil || !r.NextUpdate.IsZero() && st.now().After(r.NextUpdate)
}

// fetch asks the certificate's responder, and accepts only a good,
// current response signed for this certificate.
func (st *stapler) fetch(ctx context.Context, leaf, issuer *x509.Certificate) ([]byte, error) {
	req, err := ocsp.CreateRequest(leaf, issuer, nil)
	if err != nil {
		return nil, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, leaf.OCSPServer[0], bytes.NewReader(req))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/ocsp-request")
	resp, err := st.client.Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("responder %s: status %d", leaf.OCSPServer[0], resp.StatusCode)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, ocspMaxBody))
	if err != nil {
		return nil, err
	}
	r, err := ocsp.ParseResponseForCert(raw, leaf, issuer)
	if err != nil {
		return nil, fmt.Errorf("responder %s: %w", leaf.OCSPServer[0], err)
	}
	if r.Status != ocsp.Good {
		return nil, fmt.Errorf("responder %s: certificate status is not good (%d)", leaf.OCSPServer[0], r.Status)
	}
	if !r.NextUpdate.IsZero() && st.now().After(r.NextUpdate) {
		return nil, fmt.Errorf("responder %s: response is stale", leaf.OCSPServer[0])
	}
	return raw, nil
}

// setStaple attaches raw to fc if fc is still served.
func (s *CertStore) setStaple(fc *fileCert, raw []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.files {
		if x == fc {
			fc.staple = raw
			s.rebuild()
			return
		}
	}
}
