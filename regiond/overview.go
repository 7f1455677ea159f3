package regiond

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/dial"
)

// RegionStatus is one region's part of an Overview: its status, or why
// its regiond could not be asked.
type RegionStatus struct {
	Region string  `json:"region"`
	API    string  `json:"api"`
	Error  string  `json:"error,omitempty"`
	Status *Status `json:"status,omitempty"`
}

// Overview is every region's status at once, as `regionctl status` and
// the console's GET /v1/overview show it.
type Overview struct {
	Deployment string         `json:"deployment"`
	Regions    []RegionStatus `json:"regions"`
}

// APITimeout bounds one call of a regiond API by its clients: failovers
// and failbacks answer when they are over (catch-up within
// router.catch_up_timeout, convergence, switches).
const APITimeout = 5 * time.Minute

// NewAPIClient returns an HTTP client for the regiond APIs of cfg, with
// timeout per request. When an API serves TLS its certificate is checked
// against the system roots, and a private CA is trusted through the etcd
// TLS CA file.
func NewAPIClient(cfg *config.Config, timeout time.Duration) (*http.Client, error) {
	return newAPIClient(cfg, timeout, nil)
}

// newAPIClient is NewAPIClient connecting with dialer (nil: directly).
func newAPIClient(cfg *config.Config, timeout time.Duration, dialer *dial.Dialer) (*http.Client, error) {
	tr := newHTTPClient(timeout, dialer).Transport.(*http.Transport)
	for _, r := range cfg.Regions {
		if r.APITLS.CertFile != "" {
			tc, err := dial.TLSConfig(cfg, "etcd.tls", cfg.Etcd.TLS)
			if err != nil {
				return nil, err
			}
			tr.TLSClientConfig = tc
			break
		}
	}
	return &http.Client{Timeout: timeout, Transport: tr}, nil
}

// FetchOverview asks every region's regiond in cfg for its status, all
// at once, with token. A region that cannot be asked has Error set; the
// others are still reported.
func FetchOverview(ctx context.Context, c *http.Client, cfg *config.Config, token string) *Overview {
	o := &Overview{Deployment: cfg.Name, Regions: make([]RegionStatus, len(cfg.Regions))}
	var wg sync.WaitGroup
	for i, r := range cfg.Regions {
		o.Regions[i] = RegionStatus{Region: r.Name, API: r.URL}
		wg.Go(func() {
			st, err := FetchStatus(ctx, c, r.URL, token)
			if err != nil {
				o.Regions[i].Error = err.Error()
				return
			}
			o.Regions[i].Status = st
		})
	}
	wg.Wait()
	return o
}

// Healthy is true when every region answers with healthy dependencies,
// a running capture and running links.
func (o *Overview) Healthy() bool {
	for _, r := range o.Regions {
		if r.Error != "" || r.Status == nil || !r.Status.Healthy || !r.Status.Capture.Running {
			return false
		}
		for _, l := range r.Status.Links {
			if l.State != "running" {
				return false
			}
		}
	}
	return true
}

// CaughtUp is true when every link has applied all its source published.
func (o *Overview) CaughtUp() bool {
	for _, r := range o.Regions {
		if r.Status == nil {
			return false
		}
		for _, l := range r.Status.Links {
			if l.LagTxns > 0 || l.AppliedSeq < l.PublishedSeq {
				return false
			}
		}
	}
	return true
}

// newHTTPClient returns an HTTP client with timeout per request that
// connects with dialer (nil: directly).
func newHTTPClient(timeout time.Duration, dialer *dial.Dialer) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if dialer.Relayed() {
		tr.DialContext = dialer.DialContext
	}
	return &http.Client{Timeout: timeout, Transport: tr}
}
