// Package proxy forwards requests to upstream pools: it picks a healthy
// target by the pool's balance policy, sends the request over a keep-alive
// fasthttp.HostClient, fails over when a connection cannot be made, ejects
// targets that keep failing and runs active health checks.
//
// It must never allocate per request in steady state, never read
// configuration files (it receives a validated PoolConfig), never retry a
// request that may have reached an upstream unless the method is idempotent,
// and never touch hop-by-hop or security headers: the headers stages own them.
package proxy

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/proxy/pipelined"
	"github.com/edgeguard/edgeguard/dataplane/yieldread"
)

// Balance is how a pool spreads requests over its targets.
type Balance uint8

const (
	// RoundRobin takes the targets in turn.
	RoundRobin Balance = iota
	// LeastConn takes the target with the fewest requests in flight; ties
	// are broken round robin.
	LeastConn
)

// String returns the policy name as used in configuration.
func (b Balance) String() string {
	switch b {
	case RoundRobin:
		return "round_robin"
	case LeastConn:
		return "least_conn"
	}
	return "unknown(" + strconv.Itoa(int(b)) + ")"
}

// HealthCheck configures active health checks: an HTTP GET of Path on every
// target every Interval.
type HealthCheck struct {
	Path               string        // request path, must start with '/'
	Host               string        // Host header; empty sends the target address
	Interval           time.Duration // time between checks of one target, > 0
	Timeout            time.Duration // limit for one check, > 0
	HealthyThreshold   int           // consecutive successes that mark a target healthy, >= 1
	UnhealthyThreshold int           // consecutive failures that mark a target unhealthy, >= 1
	ExpectStatus       int           // required status; 0 accepts any 2xx or 3xx
}

// Passive configures passive ejection: a target whose transport fails
// ConsecutiveFailures times in a row (connect errors, timeouts, malformed
// responses; never an HTTP status) is skipped for EjectFor, then tried again.
// One more failure after that ejects it again at once; a success resets it.
type Passive struct {
	ConsecutiveFailures int // 0 turns passive ejection off
	EjectFor            time.Duration
}

// PoolConfig is the validated, compiled configuration of one upstream pool.
// Zero values of the optional limits mean: ConnectTimeout 3 s
// (fasthttp.DefaultDialTimeout), ReadTimeout and WriteTimeout unlimited,
// IdleConnTimeout 10 s (fasthttp.DefaultMaxIdleConnDuration),
// MaxConnsPerTarget 512 (fasthttp.DefaultMaxConnsPerHost), MaxResponseBodySize
// unlimited.
type PoolConfig struct {
	Name    string
	Targets []string // "host:port"
	Balance Balance

	ConnectTimeout  time.Duration
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	IdleConnTimeout time.Duration

	MaxConnsPerTarget   int
	MaxResponseBodySize int

	HealthCheck *HealthCheck // nil: no active checks, targets are always healthy
	Passive     Passive

	// PipelineConns > 0 sends idempotent requests HTTP/1.1 pipelined over
	// that many connections per target (see package pipelined), at most
	// PipelinePending waiting on each; the rest, and those that find the
	// pipelined connections full, use the ordinary ones.
	PipelineConns   int
	PipelinePending int
}

// TargetStatus is a snapshot of one target for the status API.
type TargetStatus struct {
	Address             string
	Healthy             bool      // takes requests: healthy by active checks (true without them) and not ejected
	EjectedUntil        time.Time // zero when the target is not passively ejected
	InFlight            int
	ConsecutiveFailures int // transport failures in a row, reset by a success
}

// Pool is a set of upstream targets with a balance policy, health state and
// one keep-alive HostClient per target. Its methods are safe for concurrent
// use. A Pool is immutable after NewPool except for its health state; a
// config reload builds a new Pool and closes the old one.
type Pool struct {
	name    string
	balance Balance
	passive Passive
	hc      *HealthCheck

	targets []target

	next atomic.Uint32 // round-robin position

	errConnect  *metrics.Counter
	errTimeout  *metrics.Counter
	errProtocol *metrics.Counter
	errDesync   *metrics.Counter // connections closed for bytes outside a response (transport.go)
	ejections   *metrics.Counter
	gauge       *healthyGauge

	startOnce sync.Once
	closeOnce sync.Once
	stop      chan struct{}
	wg        sync.WaitGroup
}

// target is one upstream address with its client and live state. The hot
// counters are padded so targets in the same slice do not share cache lines.
type target struct {
	addr   string
	client *fasthttp.HostClient
	pipe   *pipelined.Client    // nil unless the pool pipelines
	health *fasthttp.HostClient // nil without active checks
	dialer net.Dialer

	requests *metrics.Counter

	_            [64]byte
	healthy      atomic.Bool
	ejectedUntil atomic.Int64 // monotonic nanoseconds since epoch; 0 when not ejected
	inFlight     atomic.Int32
	failures     atomic.Int32
	_            [64]byte
}

// epoch anchors the monotonic times stored in atomics.
var epoch = time.Now()

func monoNow() int64 { return int64(time.Since(epoch)) }

// NewPool validates cfg and builds a pool. Every problem is reported, each
// naming the pool and the field. The pool forwards at once; Start begins
// active health checks.
func NewPool(cfg PoolConfig) (*Pool, error) {
	if err := validate(&cfg); err != nil {
		return nil, err
	}
	p := &Pool{
		name:    cfg.Name,
		balance: cfg.Balance,
		passive: cfg.Passive,
		targets: make([]target, len(cfg.Targets)),
		stop:    make(chan struct{}),
	}
	if cfg.HealthCheck != nil {
		hc := *cfg.HealthCheck
		p.hc = &hc
	}
	p.errDesync = metrics.GetOrCreateCounter(`edgeguard_upstream_errors_total{pool="` + cfg.Name + `",kind="desync"}`)
	connectTimeout := cfg.ConnectTimeout
	if connectTimeout == 0 {
		connectTimeout = fasthttp.DefaultDialTimeout
	}
	for i, addr := range cfg.Targets {
		t := &p.targets[i]
		t.addr = addr
		t.dialer.Timeout = connectTimeout
		t.healthy.Store(true)
		t.client = &fasthttp.HostClient{
			Addr:                          addr,
			Dial:                          t.dial,
			NoDefaultUserAgentHeader:      true,
			DisableHeaderNamesNormalizing: true,
			DisablePathNormalizing:        true,
			MaxConns:                      cfg.MaxConnsPerTarget,
			MaxIdleConnDuration:           cfg.IdleConnTimeout,
			ReadTimeout:                   cfg.ReadTimeout,
			WriteTimeout:                  cfg.WriteTimeout,
			MaxResponseBodySize:           cfg.MaxResponseBodySize,
			ConnPoolStrategy:              fasthttp.LIFO,
			MaxIdemponentCallAttempts:     2,
			RetryIfErr:                    retryStaleConn,
			Transport:                     &keepAliveTransport{desync: p.errDesync},
		}
		if cfg.PipelineConns > 0 {
			var err error
			t.pipe, err = pipelined.New(pipelined.Config{
				Addr:                addr,
				Dial:                t.dialPipelined,
				Conns:               cfg.PipelineConns,
				MaxPending:          cfg.PipelinePending,
				ReadTimeout:         cfg.ReadTimeout,
				WriteTimeout:        cfg.WriteTimeout,
				IdleTimeout:         cfg.IdleConnTimeout,
				MaxResponseBodySize: cfg.MaxResponseBodySize,
				Desync:              p.errDesync,
			})
			if err != nil {
				return nil, fmt.Errorf("proxy pool %q: target %s: %w", cfg.Name, addr, err)
			}
		}
		if p.hc != nil {
			t.health = newHealthClient(t, p.hc, cfg.IdleConnTimeout)
		}
		t.requests = metrics.GetOrCreateCounter(`edgeguard_upstream_requests_total{pool="` + cfg.Name + `",target="` + addr + `"}`)
	}
	p.errConnect = metrics.GetOrCreateCounter(`edgeguard_upstream_errors_total{pool="` + cfg.Name + `",kind="connect"}`)
	p.errTimeout = metrics.GetOrCreateCounter(`edgeguard_upstream_errors_total{pool="` + cfg.Name + `",kind="timeout"}`)
	p.errProtocol = metrics.GetOrCreateCounter(`edgeguard_upstream_errors_total{pool="` + cfg.Name + `",kind="protocol"}`)
	p.ejections = metrics.GetOrCreateCounter(`edgeguard_upstream_ejections_total{pool="` + cfg.Name + `"}`)
	p.gauge = healthyGaugeFor(cfg.Name)
	p.gauge.pool.CompareAndSwap(nil, p)
	return p, nil
}

// Name returns the pool's name.
func (p *Pool) Name() string { return p.name }

// Start begins active health checks, one goroutine per target, the first
// check at once. Targets start healthy. It also makes this pool the source
// of the pool's healthy-targets gauge, replacing a pool of the same name
// from an earlier config. Start is idempotent and does nothing after Close.
func (p *Pool) Start() {
	p.startOnce.Do(func() {
		select {
		case <-p.stop:
			return
		default:
		}
		p.gauge.pool.Store(p)
		if p.hc == nil {
			return
		}
		for i := range p.targets {
			p.wg.Add(1)
			go p.healthLoop(&p.targets[i])
		}
	})
}

// Close stops the health checks, waiting for a check in progress (at most
// HealthCheck.Timeout), and closes idle upstream connections. Requests in
// flight still finish; their connections are closed when idle for
// IdleConnTimeout. Close is idempotent.
func (p *Pool) Close() {
	p.closeOnce.Do(func() {
		close(p.stop)
		p.startOnce.Do(func() {}) // a later Start must not start checks
		p.wg.Wait()
		for i := range p.targets {
			t := &p.targets[i]
			t.client.CloseIdleConnections()
			if t.pipe != nil {
				t.pipe.Close()
			}
			if t.health != nil {
				t.health.CloseIdleConnections()
			}
		}
		p.gauge.pool.CompareAndSwap(p, nil)
	})
}

// Status returns a snapshot of every target, in configuration order.
func (p *Pool) Status() []TargetStatus {
	now := monoNow()
	out := make([]TargetStatus, len(p.targets))
	for i := range p.targets {
		t := &p.targets[i]
		s := TargetStatus{
			Address:             t.addr,
			Healthy:             t.healthy.Load(),
			InFlight:            int(t.inFlight.Load()),
			ConsecutiveFailures: int(t.failures.Load()),
		}
		if u := t.ejectedUntil.Load(); u > now {
			// As edgeguard_upstream_healthy_targets counts it: an ejected
			// target takes no requests.
			s.EjectedUntil = epoch.Add(time.Duration(u))
			s.Healthy = false
		}
		out[i] = s
	}
	return out
}

// healthyTargets counts targets that are healthy and not ejected.
func (p *Pool) healthyTargets() int {
	now := monoNow()
	n := 0
	for i := range p.targets {
		t := &p.targets[i]
		if t.healthy.Load() && t.ejectedUntil.Load() <= now {
			n++
		}
	}
	return n
}

// dialError marks a failure to connect: nothing reached the upstream, so the
// request may go to another target.
type dialError struct {
	addr string
	err  error
}

func (e *dialError) Error() string { return "dial upstream " + e.addr + ": " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// dial connects with the pool's ConnectTimeout. It allocates, but only when
// a new connection is made, which keep-alive makes rare.
func (t *target) dial(addr string) (net.Conn, error) {
	c, err := t.dialPipelined(addr)
	if err != nil {
		return nil, err
	}
	tcp, ok := c.(*net.TCPConn)
	if !ok {
		return yieldread.Wrap(c), nil
	}
	uc, err := newUpstreamConn(yieldread.Wrap(c), tcp)
	if err != nil {
		c.Close()
		return nil, &dialError{addr: addr, err: err}
	}
	return uc, nil
}

// dialPipelined is dial for pipelined connections, whose reads and writes
// come from different goroutines (yieldread needs them on one).
func (t *target) dialPipelined(addr string) (net.Conn, error) {
	c, err := t.dialer.Dial("tcp", addr)
	if err != nil {
		return nil, &dialError{addr: addr, err: err}
	}
	return c, nil
}

// validate checks cfg and returns every problem, each naming pool and field.
func validate(cfg *PoolConfig) error {
	var errs []error
	prefix := fmt.Sprintf("proxy pool %q: ", cfg.Name)
	add := func(format string, args ...any) {
		errs = append(errs, errors.New(prefix+fmt.Sprintf(format, args...)))
	}
	switch {
	case cfg.Name == "":
		add("Name: must not be empty")
	case !labelSafe(cfg.Name):
		add("Name: must be printable ASCII without '\"' or '\\', got %q", cfg.Name)
	}
	if len(cfg.Targets) == 0 {
		add("Targets: must list at least one host:port")
	}
	seen := make(map[string]int, len(cfg.Targets))
	for i, addr := range cfg.Targets {
		if err := checkAddr(addr); err != nil {
			add("Targets[%d]: %v", i, err)
			continue
		}
		if j, dup := seen[addr]; dup {
			add("Targets[%d]: duplicate of Targets[%d] %q", i, j, addr)
			continue
		}
		seen[addr] = i
	}
	if cfg.Balance != RoundRobin && cfg.Balance != LeastConn {
		add("Balance: unknown policy %d", cfg.Balance)
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"ConnectTimeout", cfg.ConnectTimeout},
		{"ReadTimeout", cfg.ReadTimeout},
		{"WriteTimeout", cfg.WriteTimeout},
		{"IdleConnTimeout", cfg.IdleConnTimeout},
	} {
		if d.v < 0 {
			add("%s: must be >= 0, got %v", d.field, d.v)
		}
	}
	if cfg.MaxConnsPerTarget < 0 {
		add("MaxConnsPerTarget: must be >= 0, got %d", cfg.MaxConnsPerTarget)
	}
	if cfg.PipelineConns < 0 {
		add("PipelineConns: must be >= 0, got %d", cfg.PipelineConns)
	}
	if cfg.PipelineConns > 0 && cfg.PipelinePending < 1 {
		add("PipelinePending: must be >= 1 when PipelineConns is set, got %d", cfg.PipelinePending)
	}
	if cfg.MaxResponseBodySize < 0 {
		add("MaxResponseBodySize: must be >= 0, got %d", cfg.MaxResponseBodySize)
	}
	if hc := cfg.HealthCheck; hc != nil {
		if len(hc.Path) == 0 || hc.Path[0] != '/' {
			add("HealthCheck.Path: must start with '/', got %q", hc.Path)
		} else if !pathSafe(hc.Path) {
			add("HealthCheck.Path: must be printable ASCII without spaces, got %q", hc.Path)
		}
		if hc.Host != "" && !pathSafe(hc.Host) {
			add("HealthCheck.Host: must be printable ASCII without spaces, got %q", hc.Host)
		}
		if hc.Interval <= 0 {
			add("HealthCheck.Interval: must be > 0, got %v", hc.Interval)
		}
		if hc.Timeout <= 0 {
			add("HealthCheck.Timeout: must be > 0, got %v", hc.Timeout)
		}
		if hc.HealthyThreshold < 1 {
			add("HealthCheck.HealthyThreshold: must be >= 1, got %d", hc.HealthyThreshold)
		}
		if hc.UnhealthyThreshold < 1 {
			add("HealthCheck.UnhealthyThreshold: must be >= 1, got %d", hc.UnhealthyThreshold)
		}
		if hc.ExpectStatus != 0 && (hc.ExpectStatus < 100 || hc.ExpectStatus > 599) {
			add("HealthCheck.ExpectStatus: must be 0 or 100-599, got %d", hc.ExpectStatus)
		}
	}
	if cfg.Passive.ConsecutiveFailures < 0 {
		add("Passive.ConsecutiveFailures: must be >= 0, got %d", cfg.Passive.ConsecutiveFailures)
	}
	if cfg.Passive.ConsecutiveFailures > 0 && cfg.Passive.EjectFor <= 0 {
		add("Passive.EjectFor: must be > 0 when ConsecutiveFailures is set, got %v", cfg.Passive.EjectFor)
	}
	return errors.Join(errs...)
}

// checkAddr accepts "host:port" with a non-empty host and a port 1-65535.
func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("invalid address %q: %w", addr, err)
	}
	if host == "" {
		return fmt.Errorf("invalid address %q: missing host", addr)
	}
	if !labelSafe(host) {
		return fmt.Errorf("invalid address %q: bad character in host", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("invalid address %q: port must be 1-65535", addr)
	}
	return nil
}

// labelSafe reports whether s can go into a metric label value unescaped.
func labelSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// pathSafe reports whether s can go into a request line or header as is.
func pathSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}
