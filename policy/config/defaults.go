package config

import "time"

// Defaults, in one place. deploy/examples/gatewayd.yaml documents each of them.
const (
	DefaultListenAddress       = "127.0.0.1:8080"
	DefaultManagementAddress   = "127.0.0.1:9901"
	DefaultReadTimeout         = 30 * time.Second
	DefaultWriteTimeout        = 30 * time.Second
	DefaultIdleTimeout         = 60 * time.Second
	DefaultShutdownGrace       = 15 * time.Second
	DefaultMaxRequestBodyBytes = 1 << 20
	DefaultMaxHeaderBytes      = 8 << 10
	DefaultConcurrency         = 256 * 1024
	DefaultRequestHeadTimeout  = 10 * time.Second
	DefaultMaxConnsPerIP       = 256
	DefaultAccessLogPath       = "stdout"
	DefaultAccessLogBuffer     = 8192
	DefaultRequestIDHeader     = "X-Request-ID"
	DefaultBalance             = BalanceRoundRobin
	DefaultConnectTimeout      = 2 * time.Second
	DefaultUpstreamTimeout     = 30 * time.Second
	DefaultUpstreamIdle        = 60 * time.Second
	DefaultMaxConnsPerTarget   = 1024
	DefaultPipelinePending     = 64
	DefaultHealthPath          = "/healthz"
	DefaultHealthInterval      = 5 * time.Second
	DefaultHealthTimeout       = time.Second
	DefaultHealthyThreshold    = 2
	DefaultUnhealthyThreshold  = 3
	DefaultPassiveFailures     = 5
	DefaultEjectFor            = 30 * time.Second
	DefaultMatch               = MatchPrefix
	DefaultXDPMode             = "auto"
	DefaultPinPath             = "/sys/fs/bpf/edgeguard"
	DefaultBanDuration         = 10 * time.Minute
	// The XDP burst meter's defaults are far above what one well-behaved
	// client (or a NATed office) sends, and far below a flood: a 1 Gbit/s
	// download acknowledges at ~40k packets/s.
	DefaultBurstSYNRate     = 200
	DefaultBurstSYNBurst    = 1000
	DefaultBurstPacketRate  = 100000
	DefaultBurstPacketBurst = 200000
	DefaultBurstMaxSources  = 65536
	// MaxBurstMaxSources bounds xdp.burst.max_sources (~100 bytes of kernel
	// memory each).
	MaxBurstMaxSources = 1 << 24
)

// Enumerated values accepted in the file.
const (
	BalanceRoundRobin = "round_robin"
	BalanceLeastConn  = "least_conn"
	MatchPrefix       = "prefix"
	MatchExact        = "exact"
)

// DefaultRemoveResponseHeaders are upstream headers that reveal the stack.
var DefaultRemoveResponseHeaders = []string{"Server", "X-Powered-By", "X-AspNet-Version"}

// applyDefaults fills every unset field. Zero means unset for numbers and
// durations; validation rejects explicit negative values.
func (c *Config) applyDefaults() {
	if len(c.Listeners) == 0 {
		c.Listeners = []Listener{{Name: "public", Address: DefaultListenAddress}}
	}
	for i := range c.Listeners {
		if c.Listeners[i].Name == "" {
			c.Listeners[i].Name = "listener" + itoa(i)
		}
		if t := c.Listeners[i].TLS; t != nil {
			t.applyDefaults()
		}
	}
	c.Management.applyDefaults()
	c.Auth.applyDefaults()
	c.RateLimit.applyDefaults()
	c.WAF.applyDefaults()
	c.SecurityEvents.applyDefaults()
	c.Tracing.applyDefaults()
	c.Anomaly.applyDefaults()

	s := &c.Server
	setDuration(&s.ReadTimeout, DefaultReadTimeout)
	setDuration(&s.WriteTimeout, DefaultWriteTimeout)
	setDuration(&s.IdleTimeout, DefaultIdleTimeout)
	setDuration(&s.ShutdownGrace, DefaultShutdownGrace)
	setInt(&s.MaxRequestBodyBytes, DefaultMaxRequestBodyBytes)
	setInt(&s.MaxHeaderBytes, DefaultMaxHeaderBytes)
	setInt(&s.Concurrency, DefaultConcurrency)
	setDuration(&s.RequestHeadTimeout, DefaultRequestHeadTimeout)
	if s.MaxConnsPerIP == nil {
		n := DefaultMaxConnsPerIP
		s.MaxConnsPerIP = &n
	}

	setString(&c.AccessLog.Path, DefaultAccessLogPath)
	setInt(&c.AccessLog.Buffer, DefaultAccessLogBuffer)

	h := &c.Headers
	setString(&h.RequestIDHeader, DefaultRequestIDHeader)
	if h.SecurityHeaders == nil {
		on := true
		h.SecurityHeaders = &on
	}
	if h.RemoveResponse == nil {
		h.RemoveResponse = append([]string(nil), DefaultRemoveResponseHeaders...)
	}

	for i := range c.Upstreams {
		u := &c.Upstreams[i]
		setString(&u.Balance, DefaultBalance)
		setDuration(&u.ConnectTimeout, DefaultConnectTimeout)
		setDuration(&u.ReadTimeout, DefaultUpstreamTimeout)
		setDuration(&u.WriteTimeout, DefaultUpstreamTimeout)
		setDuration(&u.IdleTimeout, DefaultUpstreamIdle)
		setInt(&u.MaxConnsPerTarget, DefaultMaxConnsPerTarget)
		setInt(&u.Pipeline.MaxPending, DefaultPipelinePending)
		setDuration(&u.Passive.EjectFor, DefaultEjectFor)
		if hc := u.HealthCheck; hc != nil {
			setString(&hc.Path, DefaultHealthPath)
			setDuration(&hc.Interval, DefaultHealthInterval)
			setDuration(&hc.Timeout, DefaultHealthTimeout)
			setInt(&hc.HealthyThreshold, DefaultHealthyThreshold)
			setInt(&hc.UnhealthyThreshold, DefaultUnhealthyThreshold)
		}
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		setString(&r.Match, DefaultMatch)
		r.Auth.applyDefaults()
		r.RateLimit.applyDefaults()
		r.Validate.applyDefaults()
		r.WAF.applyDefaults(&c.WAF)
	}

	setString(&c.XDP.Mode, DefaultXDPMode)
	setString(&c.XDP.PinPath, DefaultPinPath)
	setDuration(&c.XDP.BanDefault, DefaultBanDuration)
	b := &c.XDP.Burst
	setInt(&b.SYNRate, DefaultBurstSYNRate)
	setInt(&b.SYNBurst, DefaultBurstSYNBurst)
	setInt(&b.PacketRate, DefaultBurstPacketRate)
	setInt(&b.PacketBurst, DefaultBurstPacketBurst)
	setInt(&b.MaxSources, DefaultBurstMaxSources)
}

func setString(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

// Bounds of upstreams[].pipeline.
const (
	MaxPipelineConns   = 64
	MaxPipelinePending = 4096
)

func setInt(p *int, v int) {
	if *p == 0 {
		*p = v
	}
}

func setDuration(p *time.Duration, v time.Duration) {
	if *p == 0 {
		*p = v
	}
}
