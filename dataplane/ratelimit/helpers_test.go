package ratelimit

import (
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/connfilter"
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// countingEnforcer is the real user-space enforcer, counting Ban calls.
type countingEnforcer struct {
	*connfilter.Filter
	bans atomic.Int64
}

func (c *countingEnforcer) Ban(src netip.Prefix, until time.Time) error {
	c.bans.Add(1)
	return c.Filter.Ban(src, until)
}

// sleeps records the delays a stage asked for instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(d time.Duration) {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
}

func (s *sleeps) take() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.d
	s.d = nil
	return d
}

// fixture is a store, a stage over given limits, an enforcer and a clock.
type fixture struct {
	t     *testing.T
	store *Store
	stage *Stage
	enf   *countingEnforcer
	sl    *sleeps
	now   time.Duration // since the store's epoch
}

type fixtureOpts struct {
	headers          bool
	v6bits           int
	maxKeys          int
	trusted, allowed []netip.Prefix
}

func newFixture(t *testing.T, o fixtureOpts, limits ...LimitConfig) *fixture {
	t.Helper()
	f := &fixture{t: t, store: NewStore(), sl: &sleeps{}, now: time.Hour}
	t.Cleanup(f.store.Close)
	f.enf = &countingEnforcer{Filter: connfilter.New(connfilter.WithClock(func() time.Time { return f.store.Epoch().Add(f.now) }))}
	if o.v6bits == 0 {
		o.v6bits = 64
	}
	if o.maxKeys == 0 {
		o.maxKeys = 1000
	}
	var ls []*Limit
	for _, c := range limits {
		tb, err := f.store.Table(c.Name+"@"+t.Name(), o.maxKeys)
		if err != nil {
			t.Fatal(err)
		}
		if c.Thresholds == (Thresholds{}) {
			c.Thresholds = DefaultThresholds
		}
		l, err := NewLimit(tb, c)
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	st, err := NewStage(f.store, StageConfig{
		Route: t.Name(), Limits: ls, Headers: o.headers, IPv6Prefix: o.v6bits,
		BanDuration: time.Minute, Enforcer: f.enf, Sleep: f.sl.sleep,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		TrustedProxies: o.trusted, Allowlist: o.allowed,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.stage = st
	return f
}

// outcome is what a client saw for one request.
type outcome struct {
	verdict    pipeline.Verdict
	status     int
	reason     pipeline.Reason
	detail     string
	retryAfter string
	headers    map[string]string
	delay      time.Duration
	banSource  string    // the ban this request caused, for its event
	banUntil   time.Time //
}

type reqOpt func(r *pipeline.Request)

func from(ip string) reqOpt {
	return func(r *pipeline.Request) {
		r.ClientIP = netip.MustParseAddr(ip)
		r.PeerIP = r.ClientIP
	}
}

func as(p *pipeline.Principal) reqOpt { return func(r *pipeline.Request) { r.Principal = p } }

func viaProxy(peer string) reqOpt {
	return func(r *pipeline.Request) { r.PeerIP = netip.MustParseAddr(peer) }
}

// do runs one request through the stage (and its response observer) at
// the fixture's clock.
func (f *fixture) do(opts ...reqOpt) outcome {
	f.t.Helper()
	var ctx fasthttp.RequestCtx
	r := &pipeline.Request{Start: f.store.Epoch().Add(f.now)}
	from("192.0.2.1")(r)
	for _, o := range opts {
		o(r)
	}
	v := f.stage.Handle(&ctx, r)
	if v == pipeline.Continue {
		ctx.Response.SetStatusCode(200) // what the upstream answered
	}
	f.stage.ObserveResponse(&ctx, r)
	out := outcome{verdict: v, status: ctx.Response.StatusCode(), reason: r.Reason, detail: r.Detail,
		retryAfter: string(ctx.Response.Header.Peek("Retry-After")), headers: map[string]string{},
		banSource: r.BanSource, banUntil: r.BanUntil}
	for _, k := range []string{"X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Reset", "Ratelimit", "Ratelimit-Policy"} {
		if v := ctx.Response.Header.Peek(k); v != nil {
			out.headers[k] = string(v)
		}
	}
	if d := f.sl.take(); len(d) > 0 {
		out.delay = d[0]
	}
	return out
}

func (o outcome) action() Action {
	switch {
	case o.verdict == pipeline.Close:
		return Ban
	case o.status == 429:
		return Reject
	case o.delay > 0:
		return Delay
	}
	return Allow
}
