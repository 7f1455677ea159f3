package client

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/dial"
)

// Timeout bounds one call of a regiond API by its clients: failovers and
// failbacks answer when they are over (catch-up within
// router.catch_up_timeout, convergence, switches).
const Timeout = 5 * time.Minute

// NewHTTP returns an HTTP client for the regiond APIs of cfg, with
// timeout per request, connecting with dialer (nil: directly). When an
// API serves TLS its certificate is checked against the system roots,
// and a private CA is trusted through the etcd TLS CA file.
func NewHTTP(cfg *config.Config, timeout time.Duration, dialer *dial.Dialer) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if dialer.Relayed() {
		tr.DialContext = dialer.DialContext
	}
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

// Reachable returns the API URL of the first region of cfg whose regiond
// answers /healthz, in config order: routing, switches and the controller
// are deployment-wide, so any regiond will do. hc nil means
// http.DefaultClient.
func Reachable(ctx context.Context, hc *http.Client, cfg *config.Config) (string, error) {
	var errs []string
	for _, r := range cfg.Regions {
		hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := (&Client{BaseURL: r.URL, HTTP: hc}).Healthz(hctx)
		cancel()
		if err == nil {
			return r.URL, nil
		}
		errs = append(errs, fmt.Sprintf("%s (%s): %v", r.Name, r.URL, err))
	}
	return "", fmt.Errorf("no regiond answers: %s", strings.Join(errs, "; "))
}

// Dial returns a Client of the first regiond of cfg that answers (see
// Reachable), calling with token over hc.
func Dial(ctx context.Context, cfg *config.Config, token string, hc *http.Client) (*Client, error) {
	base, err := Reachable(ctx, hc, cfg)
	if err != nil {
		return nil, err
	}
	return &Client{BaseURL: base, Token: token, HTTP: hc}, nil
}

// Overview asks every region's regiond in cfg for its status, all at
// once, with c's token. A region that cannot be asked has Error set; the
// others are still reported.
func (c *Client) Overview(ctx context.Context, cfg *config.Config) *api.Overview {
	o := &api.Overview{Deployment: cfg.Name, Regions: make([]api.RegionStatus, len(cfg.Regions))}
	var wg sync.WaitGroup
	for i, r := range cfg.Regions {
		o.Regions[i] = api.RegionStatus{Region: r.Name, API: r.URL}
		wg.Go(func() {
			st, err := c.At(r.URL).Status(ctx)
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
