// Package config decodes and validates gatewayd's configuration file. It turns
// YAML (read with viper, with EDGEGUARD_* environment overrides) into plain
// structs with defaults applied, and reports every problem with the key path
// that caused it. It never builds runtime objects: compiling a validated
// Config into a policy is the policy package's job.
package config

import "time"

// Config is a decoded configuration file with defaults applied.
type Config struct {
	// envWarnings are what Warnings reports of the environment (unknownEnv).
	envWarnings []string

	Listeners  []Listener `mapstructure:"listeners"`
	Management Management `mapstructure:"management"`
	Server     Server     `mapstructure:"server"`
	AccessLog  AccessLog  `mapstructure:"access_log"`
	Headers    Headers    `mapstructure:"headers"`
	Upstreams  []Upstream `mapstructure:"upstreams"`
	Routes     []Route    `mapstructure:"routes"`
	XDP        XDP        `mapstructure:"xdp"`
	Auth       Auth       `mapstructure:"auth"`       // auth.go
	RateLimit  RateLimit  `mapstructure:"rate_limit"` // ratelimit.go
	WAF        WAF        `mapstructure:"waf"`        // waf.go

	SecurityEvents SecurityEvents `mapstructure:"security_events"` // secevents.go
	Tracing        Tracing        `mapstructure:"tracing"`         // tracing.go
	Anomaly        Anomaly        `mapstructure:"anomaly"`         // anomaly.go
}

// Listener is a data-plane listener facing clients.
type Listener struct {
	Name    string       `mapstructure:"name"`
	Address string       `mapstructure:"address"`
	TLS     *ListenerTLS `mapstructure:"tls"` // tls.go; nil: plain HTTP
}

// Server holds connection-level limits and timeouts of the data listeners.
type Server struct {
	ReadTimeout         time.Duration `mapstructure:"read_timeout"`
	WriteTimeout        time.Duration `mapstructure:"write_timeout"`
	IdleTimeout         time.Duration `mapstructure:"idle_timeout"`
	ShutdownGrace       time.Duration `mapstructure:"shutdown_grace"`
	MaxRequestBodyBytes int           `mapstructure:"max_request_body_bytes"`
	MaxHeaderBytes      int           `mapstructure:"max_header_bytes"`
	// MaxConnsPerIP caps the open connections of one source; -1: no cap.
	// A pointer, to tell an explicit 0 (which used to mean no cap, and is
	// refused now) from unset.
	MaxConnsPerIP       *int `mapstructure:"max_conns_per_ip"`
	Concurrency         int  `mapstructure:"concurrency"`
	AllowAmbiguousPaths bool `mapstructure:"allow_ambiguous_paths"`
	// RequestHeadTimeout bounds the time from a request's first byte (a
	// new connection's accept) to the end of its head; ReadTimeout then
	// applies to the body.
	RequestHeadTimeout time.Duration `mapstructure:"request_head_timeout"`
	// MaxConnsPerTrustedProxy caps the connections of one trusted proxy
	// (headers.trusted_proxies); 0: no cap.
	MaxConnsPerTrustedProxy int `mapstructure:"max_conns_per_trusted_proxy"`
	// LenientFraming accepts what strict HTTP/1.1 framing refuses (bare LF
	// line ends, obs-fold, Content-Length with Transfer-Encoding), as
	// fasthttp normalizes them.
	LenientFraming bool `mapstructure:"lenient_framing"`
}

// AccessLog configures the JSON access log.
type AccessLog struct {
	Path   string `mapstructure:"path"` // "stdout", "stderr", "off" or a file path
	Buffer int    `mapstructure:"buffer"`
}

// Headers configures header hygiene shared by all routes.
type Headers struct {
	TrustedProxies  []string          `mapstructure:"trusted_proxies"`
	RequestIDHeader string            `mapstructure:"request_id_header"`
	SecurityHeaders *bool             `mapstructure:"security_headers"`
	SetResponse     map[string]string `mapstructure:"set_response"`
	RemoveResponse  []string          `mapstructure:"remove_response"`
	// Spoofable request headers (client address, original URL or host,
	// method overrides) are removed from peers that are not trusted
	// proxies, in any spelling. Unset: headers.DefaultSpoofable.
	Spoofable []string `mapstructure:"spoofable"`
	// TrustedSpoofable are the Spoofable headers trusted proxies may pass
	// on. Unset: headers.DefaultTrustedSpoofable.
	TrustedSpoofable []string `mapstructure:"trusted_spoofable"`
}

// Upstream is a pool of backend targets.
type Upstream struct {
	Name              string        `mapstructure:"name"`
	Targets           []string      `mapstructure:"targets"`
	Balance           string        `mapstructure:"balance"`
	ConnectTimeout    time.Duration `mapstructure:"connect_timeout"`
	ReadTimeout       time.Duration `mapstructure:"read_timeout"`
	WriteTimeout      time.Duration `mapstructure:"write_timeout"`
	IdleTimeout       time.Duration `mapstructure:"idle_timeout"`
	MaxConnsPerTarget int           `mapstructure:"max_conns_per_target"`
	HealthCheck       *HealthCheck  `mapstructure:"health_check"`
	Passive           Passive       `mapstructure:"passive"`
	Pipeline          Pipeline      `mapstructure:"pipeline"`
}

// Pipeline sends idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE,
// TRACE without Expect or Upgrade) HTTP/1.1 pipelined over a few
// connections per target, for upstreams that answer pipelined requests
// correctly: requests that arrive together leave in one write, which
// saves most of the upstream side's system calls. Off by default.
type Pipeline struct {
	// Conns is the number of pipelined connections per target; 0 = off.
	Conns int `mapstructure:"conns"`
	// MaxPending bounds the requests waiting for an answer on one
	// connection; beyond it, requests use the ordinary connections.
	MaxPending int `mapstructure:"max_pending"`
}

// HealthCheck configures active HTTP health checks of every target.
type HealthCheck struct {
	Path               string        `mapstructure:"path"`
	Host               string        `mapstructure:"host"`
	Interval           time.Duration `mapstructure:"interval"`
	Timeout            time.Duration `mapstructure:"timeout"`
	HealthyThreshold   int           `mapstructure:"healthy_threshold"`
	UnhealthyThreshold int           `mapstructure:"unhealthy_threshold"`
	ExpectStatus       int           `mapstructure:"expect_status"`
}

// Passive configures ejection of targets after consecutive failures.
type Passive struct {
	// ConsecutiveFailures ejects a target after that many failures in a
	// row; 0 turns passive ejection off, unset is the default (a pointer,
	// so that an explicit 0 is told from "not set").
	ConsecutiveFailures *int          `mapstructure:"consecutive_failures"`
	EjectFor            time.Duration `mapstructure:"eject_for"`
}

// Failures is ConsecutiveFailures with its default applied.
func (p Passive) Failures() int {
	if p.ConsecutiveFailures == nil {
		return DefaultPassiveFailures
	}
	return *p.ConsecutiveFailures
}

// Route maps requests to an upstream.
type Route struct {
	Name            string   `mapstructure:"name"`
	Host            string   `mapstructure:"host"`
	Methods         []string `mapstructure:"methods"`
	Path            string   `mapstructure:"path"`
	Match           string   `mapstructure:"match"` // "prefix" (default) or "exact"
	CaseInsensitive bool     `mapstructure:"case_insensitive"`
	Upstream        string   `mapstructure:"upstream"`
	StripPrefix     string   `mapstructure:"strip_prefix"`
	// MatrixParams allows ';' path parameters (/items;v=2/x) on this
	// route: it is matched, and its scopes checked, on the path with the
	// parameters cut, the path Tomcat, Spring and Jetty serve.
	MatrixParams bool `mapstructure:"matrix_params"`
	// AllowGetBody forwards GET requests that carry a body (search APIs
	// such as Elasticsearch's). Off, such a request is refused: a body
	// has no meaning on GET (RFC 9110 §9.3.1), and an upstream that does
	// not read it takes it for a second request, one no stage checked.
	AllowGetBody bool `mapstructure:"allow_get_body"`

	Auth      RouteAuth      `mapstructure:"auth"`       // auth.go
	RateLimit RouteRateLimit `mapstructure:"rate_limit"` // ratelimit.go
	Validate  RouteValidate  `mapstructure:"validate"`   // requests.go
	WAF       RouteWAF       `mapstructure:"waf"`        // waf.go
}

// XDP configures the kernel fast path.
type XDP struct {
	Mode       string        `mapstructure:"mode"` // auto, native, generic, off
	Interfaces []string      `mapstructure:"interfaces"`
	PinPath    string        `mapstructure:"pin_path"`
	BanDefault time.Duration `mapstructure:"ban_default"`
	// Allowlist: sources (addresses or CIDRs) never dropped by the blocklist
	// or a ban, in XDP and in the user-space fallback. Applied on reload.
	Allowlist []string `mapstructure:"allowlist"`
	// Burst is the per-source hard-burst meter in the XDP program. Applied
	// on reload.
	Burst XDPBurst `mapstructure:"burst"`
}

// XDPBurst configures the XDP burst meter: per source (IPv4 address, IPv6
// network of rate_limit.ipv6_prefix), a source over either burst is dropped
// and banned in the kernel at once. Sources are never metered in the
// user-space fallback (the kernel's TCP stack already took their packets).
type XDPBurst struct {
	Enabled *bool `mapstructure:"enabled"` // nil: on
	// SYNRate and SYNBurst bound new TCP connections (SYN without ACK, any
	// port) per second per source.
	SYNRate  int `mapstructure:"syn_rate"`
	SYNBurst int `mapstructure:"syn_burst"`
	// PacketRate and PacketBurst bound the packets (TCP and UDP) per second
	// per source to the data listeners' ports.
	PacketRate  int           `mapstructure:"packet_rate"`
	PacketBurst int           `mapstructure:"packet_burst"`
	BanDuration time.Duration `mapstructure:"ban_duration"` // 0: xdp.ban_default
	MaxSources  int           `mapstructure:"max_sources"`  // sources metered at once, in sets of four (least recently active evicted)
}

// On reports whether the meter is enabled.
func (b XDPBurst) On() bool { return b.Enabled == nil || *b.Enabled }
