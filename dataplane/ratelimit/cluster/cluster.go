// Package cluster keeps the state of cluster-wide rate limits in Redis
// (standalone, Sentinel or Cluster) and leases it out to the gateway's
// limiter: it implements ratelimit.Leaser. Lease requests are queued by the
// request path and sent by background workers, batched into pipelines, to
// an atomic Lua script running the limiter's GCRA (lease.lua). When Redis
// errs or does not answer within the timeout, the client reports itself
// down, so the limits fall back to their local rates, and a prober brings
// it back up once Redis answers again.
//
// The package must never be called on the request path except through
// Up and Refill, which neither block nor allocate.
package cluster

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/redis/go-redis/v9"

	"github.com/edgeguard/edgeguard/dataplane/ratelimit"
)

// Modes of Config.Mode.
const (
	ModeStandalone = "standalone"
	ModeSentinel   = "sentinel"
	ModeCluster    = "cluster"
)

// Defaults of Config.
const (
	DefaultTimeout    = 50 * time.Millisecond
	DefaultProbeEvery = 250 * time.Millisecond
	DefaultQueue      = 4096
	DefaultWorkers    = 2
	maxBatch          = 128
)

// Config is a compiled rate_limit.cluster section.
type Config struct {
	Mode  string
	Addrs []string
	// MasterName is the Sentinel master's name (ModeSentinel).
	MasterName string
	Username   string
	Password   string
	// KeyPrefix starts every key the limiter writes.
	KeyPrefix string
	// Timeout bounds each Redis round trip; past it Redis counts as down.
	Timeout time.Duration
	// ProbeEvery is how often a down Redis is pinged.
	ProbeEvery time.Duration
	// Queue and Workers size the lease pipeline.
	Queue, Workers int
	// Clock returns the limiter store's time (ratelimit.Store.Now(time.Now())).
	Clock  func() int64
	Logger *slog.Logger
	// OnTransition (optional) hears each switch to fallback (up false,
	// with the reason) and back: the security event beside the log line.
	OnTransition func(up bool, limits []string, reason string)
}

//go:embed lease.lua
var leaseLua string

var leaseScript = redis.NewScript(leaseLua)

// Client is one gateway's connection to the cluster limit state.
type Client struct {
	cfg    Config
	rdb    redis.UniversalClient
	up     atomic.Bool
	closed atomic.Bool
	queue  chan *ratelimit.LeaseSlot
	// Ban sharing (bans.go): this gateway's id on the stream.
	id      string
	sharing atomic.Bool
	bans    chan banMsg
	ops     atomic.Int64
	log     *slog.Logger

	mu     sync.Mutex
	limits map[string]*metrics.Gauge
	downAt time.Time

	stop chan struct{}
	wg   sync.WaitGroup
}

var _ ratelimit.Leaser = (*Client)(nil)

var (
	toFallback = metrics.NewCounter(`edgeguard_ratelimit_cluster_transitions_total{to="fallback"}`)
	toCluster  = metrics.NewCounter(`edgeguard_ratelimit_cluster_transitions_total{to="cluster"}`)
	redisOps   = metrics.NewCounter(`edgeguard_ratelimit_cluster_redis_ops_total`)
	redisErrs  = metrics.NewCounter(`edgeguard_ratelimit_cluster_redis_errors_total`)
)

// Validate checks c and names the offending field.
func (c *Config) Validate() error {
	var errs []error
	switch c.Mode {
	case ModeStandalone, ModeSentinel, ModeCluster:
	default:
		errs = append(errs, fmt.Errorf("mode: want %s, %s or %s, got %q", ModeStandalone, ModeSentinel, ModeCluster, c.Mode))
	}
	if len(c.Addrs) == 0 {
		errs = append(errs, errors.New("addresses: none given"))
	}
	if c.Mode == ModeStandalone && len(c.Addrs) > 1 {
		errs = append(errs, fmt.Errorf("addresses: standalone takes one address, got %d", len(c.Addrs)))
	}
	if c.Mode == ModeSentinel && c.MasterName == "" {
		errs = append(errs, errors.New("master_name: required in sentinel mode"))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout: must be > 0, got %s", c.Timeout))
	}
	return errors.Join(errs...)
}

// New connects to Redis (lazily: it never waits for Redis) and starts the
// lease workers and the prober. It starts up; the first failed round trip
// takes it down.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("rate limit cluster: %w", err)
	}
	if cfg.Clock == nil {
		return nil, errors.New("rate limit cluster: no clock")
	}
	if cfg.ProbeEvery <= 0 {
		cfg.ProbeEvery = DefaultProbeEvery
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	c := &Client{
		cfg: cfg, rdb: dial(&cfg), queue: make(chan *ratelimit.LeaseSlot, cfg.Queue),
		log: cfg.Logger, limits: map[string]*metrics.Gauge{}, stop: make(chan struct{}),
		id: newGatewayID(), bans: make(chan banMsg, banQueue),
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.up.Store(true)
	for range cfg.Workers {
		c.wg.Add(1)
		go c.worker()
	}
	c.wg.Add(1)
	go c.prober()
	return c, nil
}

// quietLog sends go-redis's own log lines (one per failed dial during an
// outage) to debug level: the client logs each transition once itself.
type quietLog struct{}

func (quietLog) Printf(ctx context.Context, format string, v ...any) {
	slog.Default().Log(ctx, slog.LevelDebug, "redis: "+fmt.Sprintf(format, v...))
}

var setLogger sync.Once

func dial(cfg *Config) redis.UniversalClient {
	setLogger.Do(func() { redis.SetLogger(quietLog{}) })
	o := &redis.UniversalOptions{
		Addrs: cfg.Addrs, MasterName: cfg.MasterName, Username: cfg.Username, Password: cfg.Password,
		// Fail fast: the limiter has a fallback, a retry only delays it.
		MaxRetries: -1, DialerRetries: 1, DialTimeout: cfg.Timeout, ReadTimeout: cfg.Timeout, WriteTimeout: cfg.Timeout,
		ContextTimeoutEnabled: true, DisableIdentity: true, Protocol: 2,
		PoolSize: cfg.Workers + 2,
	}
	switch cfg.Mode {
	case ModeSentinel:
		return redis.NewFailoverClient(o.Failover())
	case ModeCluster:
		return redis.NewClusterClient(o.Cluster())
	}
	return redis.NewClient(o.Simple())
}

// Up implements ratelimit.Leaser.
func (c *Client) Up() bool { return c.up.Load() }

// Refill implements ratelimit.Leaser.
func (c *Client) Refill(s *ratelimit.LeaseSlot) bool {
	if c.closed.Load() {
		return false
	}
	select {
	case c.queue <- s:
		return true
	default:
		return false
	}
}

// Track registers limit's fallback gauge,
// edgeguard_ratelimit_cluster_fallback{limit}: 1 while it runs on local rates.
func (c *Client) Track(limit string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.limits[limit]; ok {
		return
	}
	g := metrics.GetOrCreateGauge(`edgeguard_ratelimit_cluster_fallback{limit=`+strconv.Quote(limit)+`}`, nil)
	g.Set(b2f(!c.up.Load()))
	c.limits[limit] = g
}

// Ops returns the Redis commands the client has sent (lease scripts and
// probes): the cost the leases are there to keep low.
func (c *Client) Ops() int64 { return c.ops.Load() }

// Close stops the workers and the prober and closes the connections.
// Limits still holding the client (requests of a replaced policy) run on
// their local fallback from then on.
func (c *Client) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	c.up.Store(false)
	close(c.stop)
	c.wg.Wait()
	// Slots still queued would wait for a refill forever.
	for {
		select {
		case s := <-c.queue:
			s.Cancel()
		default:
			return c.rdb.Close()
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// setUp switches between cluster mode and fallback, counting and logging
// each transition once.
func (c *Client) setUp(up bool, err error) {
	if c.up.Load() == up {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.up.CompareAndSwap(!up, up) {
		return
	}
	names := make([]string, 0, len(c.limits))
	for n, g := range c.limits {
		g.Set(b2f(!up))
		names = append(names, n)
	}
	if up {
		toCluster.Inc()
		c.log.Info("rate limit cluster: Redis answers again, cluster limits back in cluster mode",
			"limits", strings.Join(names, ","), "down_for", time.Since(c.downAt).Round(time.Millisecond).String())
		if c.cfg.OnTransition != nil {
			c.cfg.OnTransition(true, names, "redis answers")
		}
		return
	}
	c.downAt = time.Now()
	toFallback.Inc()
	c.log.Warn("rate limit cluster: Redis unavailable, cluster limits fall back to local rates divided by gateways",
		"limits", strings.Join(names, ","), "error", err)
	if c.cfg.OnTransition != nil {
		reason := "redis unavailable"
		if err != nil {
			reason = err.Error()
		}
		c.cfg.OnTransition(false, names, reason)
	}
}

// worker sends queued lease requests, batched into one pipeline per round
// trip.
func (c *Client) worker() {
	defer c.wg.Done()
	slots := make([]*ratelimit.LeaseSlot, 0, maxBatch)
	asks := make([]ratelimit.LeaseAsk, 0, maxBatch)
	for {
		select {
		case <-c.stop:
			return
		case s := <-c.queue:
			slots = append(slots[:0], s)
		}
	drain:
		for len(slots) < maxBatch {
			select {
			case s := <-c.queue:
				slots = append(slots, s)
			default:
				break drain
			}
		}
		now := c.cfg.Clock()
		asks = asks[:0]
		batch := slots[:0]
		for _, s := range slots {
			if a, ok := s.Ask(now); ok {
				asks = append(asks, a)
				batch = append(batch, s)
			}
		}
		if len(asks) == 0 {
			continue
		}
		if !c.up.Load() {
			for i, s := range batch {
				s.Fail(asks[i])
			}
			continue
		}
		c.lease(batch, asks)
	}
}

// lease runs the script for each ask in one pipeline and applies the
// answers.
func (c *Client) lease(slots []*ratelimit.LeaseSlot, asks []ratelimit.LeaseAsk) {
	cmds, err := c.run(asks)
	if err != nil && isNoScript(err) {
		// Redis restarted or flushed its script cache: load and retry once.
		if err = c.loadScript(); err == nil {
			cmds, err = c.run(asks)
		}
	}
	now := c.cfg.Clock()
	if err != nil && allFailed(cmds) {
		// No answer at all (network, timeout, authentication, a cluster
		// without quorum): Redis is down for the limiter.
		redisErrs.Inc()
		for i, s := range slots {
			s.Fail(asks[i])
		}
		c.setUp(false, err)
		return
	}
	for i, s := range slots {
		g, err := grantOf(cmds[i])
		if err != nil {
			// One ask failed while others got answers: count it, keep the
			// debt, stay in cluster mode.
			redisErrs.Inc()
			s.Fail(asks[i])
			continue
		}
		s.Grant(asks[i], g, now)
	}
}

func (c *Client) run(asks []ratelimit.LeaseAsk) ([]*redis.Cmd, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	defer cancel()
	pipe := c.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(asks))
	for i := range asks {
		keys, args := c.scriptArgs(&asks[i])
		cmds[i] = leaseScript.EvalSha(ctx, pipe, keys, args...)
	}
	c.ops.Add(int64(len(asks)))
	redisOps.Add(len(asks))
	_, err := pipe.Exec(ctx)
	return cmds, err
}

func (c *Client) loadScript() error {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	defer cancel()
	c.ops.Add(1)
	redisOps.Inc()
	if cc, ok := c.rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			return leaseScript.Load(ctx, n).Err()
		})
	}
	return leaseScript.Load(ctx, c.rdb).Err()
}

// scriptArgs builds one ask's keys, "<prefix>{<limit>:<id>}:<window>" (the
// hash tag keeps an identity's windows in one Cluster slot), and arguments.
func (c *Client) scriptArgs(a *ratelimit.LeaseAsk) ([]string, []any) {
	base := make([]byte, 0, len(c.cfg.KeyPrefix)+len(a.Key)+40)
	base = append(base, c.cfg.KeyPrefix...)
	base = append(base, '{')
	base = append(base, a.Key...)
	base = append(base, ':')
	base = appendHex(base, a.ID[0])
	base = appendHex(base, a.ID[1])
	base = append(base, "}:"...)
	keys := make([]string, len(a.Windows))
	args := make([]any, 0, 2+2*len(a.Windows))
	args = append(args, a.Want, a.Debt)
	for i, w := range a.Windows {
		keys[i] = string(base) + w.Name
		args = append(args, micros(w.T), micros(w.Tol))
	}
	return keys, args
}

func appendHex(b []byte, v uint64) []byte {
	const digits = "0123456789abcdef"
	for i := 60; i >= 0; i -= 4 {
		b = append(b, digits[v>>uint(i)&0xf])
	}
	return b
}

// micros formats ns as microseconds with ns precision ("12.345").
func micros(ns int64) string {
	return strconv.FormatInt(ns/1000, 10) + "." + fmt.Sprintf("%03d", ns%1000)
}

func grantOf(cmd *redis.Cmd) (ratelimit.LeaseGrant, error) {
	v, err := cmd.Int64Slice()
	if err != nil {
		return ratelimit.LeaseGrant{}, err
	}
	if len(v) != 4 {
		return ratelimit.LeaseGrant{}, fmt.Errorf("lease script: %d results, want 4", len(v))
	}
	return ratelimit.LeaseGrant{Granted: v[0], Wait: v[1] * int64(time.Microsecond), Backlog: max(v[2], 0), Window: v[3]}, nil
}

// allFailed reports that Redis answered none of cmds: neither a value nor
// an error of its own (a failed handshake, such as a wrong password,
// leaves the commands without either).
func allFailed(cmds []*redis.Cmd) bool {
	for _, cmd := range cmds {
		var re redis.Error
		if cmd.Val() != nil || errors.As(cmd.Err(), &re) {
			return false
		}
	}
	return true
}

func isNoScript(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT")
}

// prober pings Redis while it is down and brings the client back up once
// it answers.
func (c *Client) prober() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.ProbeEvery)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		if c.up.Load() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
		c.ops.Add(1)
		redisOps.Inc()
		err := c.rdb.Ping(ctx).Err()
		if err == nil {
			// Load the script now so the first lease after an outage does
			// not need a retry.
			err = c.loadScript()
		}
		cancel()
		if err == nil {
			c.setUp(true, nil)
		}
	}
}
