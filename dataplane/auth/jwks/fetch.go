package jwks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// FetcherConfig says where and how often to fetch one JWKS URL.
type FetcherConfig struct {
	URL string
	// Refresh is the background refresh interval.
	Refresh time.Duration
	// MinRefresh bounds early refreshes: at most one per MinRefresh, however
	// many tokens with unknown kids arrive. It is also the retry interval
	// after a failed fetch.
	MinRefresh time.Duration
	// Timeout bounds one fetch.
	Timeout time.Duration

	Client *http.Client     // nil: no redirects, no proxy from the environment
	Log    *slog.Logger     // nil: slog.Default()
	Now    func() time.Time // nil: time.Now (tests inject a clock)
}

// Fetcher keeps the key set at one URL fresh. It is started by the control
// plane; the data plane only reads Cell and, for an unknown kid, calls
// RequestRefresh. The last good set is kept when a fetch fails or returns
// no usable key.
type Fetcher struct {
	cfg    FetcherConfig
	cell   atomic.Pointer[Set]
	ctx    context.Context
	cancel context.CancelFunc
	kick   chan struct{}
	done   chan struct{}

	mu          sync.Mutex
	lastAttempt time.Time
	waiter      chan struct{}
	started     bool
	closed      bool
	lastErr     error

	fetchOK, fetchErr, fetchSame *metrics.Counter
	keys                         *metrics.Gauge
}

// NewFetcher prepares a fetcher; Start begins fetching.
func NewFetcher(cfg FetcherConfig) *Fetcher {
	if cfg.Client == nil {
		cfg.Client = &http.Client{
			Transport: &http.Transport{Proxy: nil, MaxIdleConns: 2, IdleConnTimeout: time.Minute},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return errors.New("redirects are not followed: configure the final JWKS URL")
			},
		}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	label := `{url=` + quote(cfg.URL)
	return &Fetcher{
		cfg: cfg, ctx: ctx, cancel: cancel,
		kick:      make(chan struct{}, 1),
		done:      make(chan struct{}),
		fetchOK:   metrics.GetOrCreateCounter(`edgeguard_auth_jwks_fetches_total` + label + `,result="updated"}`),
		fetchSame: metrics.GetOrCreateCounter(`edgeguard_auth_jwks_fetches_total` + label + `,result="unchanged"}`),
		fetchErr:  metrics.GetOrCreateCounter(`edgeguard_auth_jwks_fetches_total` + label + `,result="error"}`),
		keys:      metrics.GetOrCreateGauge(`edgeguard_auth_jwks_keys`+label+`}`, nil),
	}
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

// Config returns the settings the fetcher was built with.
func (f *Fetcher) Config() FetcherConfig { return f.cfg }

// Cell is the current set; it holds nil until a fetch succeeded. Its value
// changes only when the fetched content changes.
func (f *Fetcher) Cell() *atomic.Pointer[Set] { return &f.cell }

// Done is closed when the fetcher has stopped after Close (and never when
// it was not started).
func (f *Fetcher) Done() <-chan struct{} { return f.done }

// LastError is the error of the most recent fetch, nil after a success.
func (f *Fetcher) LastError() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastErr
}

// Start fetches once, waiting up to the timeout so the gateway starts with
// keys when the URL answers, then refreshes in the background until Close.
// A failed first fetch is logged and retried every MinRefresh.
func (f *Fetcher) Start() {
	f.mu.Lock()
	if f.started || f.closed {
		f.mu.Unlock()
		return
	}
	f.started = true
	f.mu.Unlock()
	ok := f.fetch()
	go f.loop(ok)
}

// Close stops the background refresh and waits for it. Idempotent.
func (f *Fetcher) Close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	started := f.started
	if f.waiter != nil {
		close(f.waiter)
		f.waiter = nil
	}
	f.mu.Unlock()
	f.cancel()
	if started {
		<-f.done
	}
}

// RequestRefresh asks for an early fetch, for a token whose kid is unknown.
// It returns a channel closed when that fetch finishes, or nil when the rate
// limit (one per MinRefresh) refuses. It never blocks.
func (f *Fetcher) RequestRefresh() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || !f.started {
		return nil
	}
	if f.waiter != nil {
		return f.waiter
	}
	if f.cfg.Now().Sub(f.lastAttempt) < f.cfg.MinRefresh {
		return nil
	}
	f.waiter = make(chan struct{})
	select {
	case f.kick <- struct{}{}:
	default:
	}
	return f.waiter
}

func (f *Fetcher) loop(ok bool) {
	defer close(f.done)
	for {
		wait := f.cfg.Refresh
		if !ok {
			wait = f.cfg.MinRefresh
		}
		t := time.NewTimer(wait)
		select {
		case <-f.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-f.kick:
			t.Stop()
		}
		ok = f.fetch()
	}
}

// fetch runs one attempt and reports whether it produced a usable set.
func (f *Fetcher) fetch() bool {
	set, err := f.get()
	f.mu.Lock()
	f.lastAttempt = f.cfg.Now()
	f.lastErr = err
	if f.waiter != nil {
		defer close(f.waiter)
		f.waiter = nil
	}
	f.mu.Unlock()
	if err != nil {
		f.fetchErr.Inc()
		if f.ctx.Err() == nil {
			f.cfg.Log.Warn("JWKS fetch failed; keeping the last good key set", "url", f.cfg.URL, "error", err)
		}
		return false
	}
	if old := f.cell.Load(); old != nil && old.Digest() == set.Digest() {
		f.fetchSame.Inc()
		return true
	}
	f.cell.Store(set)
	f.keys.Set(float64(set.Len()))
	f.fetchOK.Inc()
	return true
}

func (f *Fetcher) get() (*Set, error) {
	ctx, cancel := context.WithTimeout(f.ctx, f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.cfg.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS %s: %w", f.cfg.URL, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := f.cfg.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, fmt.Errorf("fetch JWKS %s: status %d", f.cfg.URL, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS %s: read body: %w", f.cfg.URL, err)
	}
	set, _, err := Parse(body)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS %s: %w", f.cfg.URL, err)
	}
	if set.Len() == 0 {
		return nil, fmt.Errorf("fetch JWKS %s: no usable signing key", f.cfg.URL)
	}
	return set, nil
}
