package config

import "fmt"

// WAF holds the attack filtering every route gets unless it says otherwise.
type WAF struct {
	// Libinjection is tier 1's mode on routes that do not set their own:
	// off, detect or block.
	Libinjection string `mapstructure:"libinjection"`
	// Headers are the request headers tier 1 inspects (besides the path,
	// query, cookies and bodies).
	Headers []string `mapstructure:"headers"`
	// BlockTruncated refuses, in block mode, a request tier 1 could not
	// inspect whole (more values or bytes than it inspects, an encoded
	// body, a multipart body it cannot follow). Default true: otherwise
	// padding a request with harmless values would carry an attack past
	// tier 1 uninspected.
	BlockTruncated *bool `mapstructure:"block_truncated"`
	// MaxValues and MaxBytes are how much of a request tier 1 inspects:
	// values (names and keys included) and value bytes (decoded forms
	// included).
	MaxValues int `mapstructure:"max_values"`
	MaxBytes  int `mapstructure:"max_bytes"`
	// KindsOff are tier-1 detections turned off everywhere, e.g. nosql for
	// APIs whose query syntax uses $eq, graphql_introspection for APIs that
	// serve introspection.
	KindsOff []string `mapstructure:"kinds_off"`
}

// RouteWAF is a route's attack filtering (routes[].waf).
type RouteWAF struct {
	// Libinjection overrides waf.libinjection for the route.
	Libinjection string `mapstructure:"libinjection"`
	// CRS runs tier 2, Coraza with the OWASP Core Rule Set, on the route.
	CRS *RouteCRS `mapstructure:"crs"`
}

// RouteCRS configures tier 2 on a route.
type RouteCRS struct {
	Mode             string `mapstructure:"mode"`              // detect or block
	Paranoia         int    `mapstructure:"paranoia"`          // 1-4
	AnomalyThreshold int    `mapstructure:"anomaly_threshold"` // inbound score that blocks
	ExcludeRules     []int  `mapstructure:"exclude_rules"`     // rule ids removed for this route
	OnError          int    `mapstructure:"on_error"`          // status when the engine fails: 403 or 500
}

// Defaults of the WAF.
const (
	DefaultLibinjection     = "block"
	DefaultCRSMode          = "block"
	DefaultParanoia         = 1
	DefaultAnomalyThreshold = 5
	DefaultWAFOnError       = 403
	// DefaultWAFMaxValues and DefaultWAFMaxBytes are tier 1's own
	// defaults (waf/inject).
	DefaultWAFMaxValues = 512
	DefaultWAFMaxBytes  = 1 << 20
)

// DefaultWAFHeaders are the headers tier 1 inspects: "*" is every header
// but credentials, framing, content negotiation, conditionals, Sec-*,
// tracing and forwarding headers (attack tools put payloads in arbitrary
// X- headers).
var DefaultWAFHeaders = []string{"*"}

func (w *WAF) applyDefaults() {
	setString(&w.Libinjection, DefaultLibinjection)
	if w.BlockTruncated == nil {
		on := true
		w.BlockTruncated = &on
	}
	setInt(&w.MaxValues, DefaultWAFMaxValues)
	setInt(&w.MaxBytes, DefaultWAFMaxBytes)
	if w.Headers == nil {
		w.Headers = append([]string(nil), DefaultWAFHeaders...)
	}
}

func (r *RouteWAF) applyDefaults(global *WAF) {
	setString(&r.Libinjection, global.Libinjection)
	if c := r.CRS; c != nil {
		setString(&c.Mode, DefaultCRSMode)
		setInt(&c.Paranoia, DefaultParanoia)
		setInt(&c.AnomalyThreshold, DefaultAnomalyThreshold)
		setInt(&c.OnError, DefaultWAFOnError)
	}
}

func wafMode(v *validator, key, mode string, off bool) {
	switch mode {
	case "detect", "block":
	case "off":
		if off {
			return
		}
		fallthrough
	default:
		v.add(key, "must be detect or block%s, got %q", map[bool]string{true: " or off"}[off], mode)
	}
}

func (w *WAF) validate(v *validator) {
	wafMode(v, "waf.libinjection", w.Libinjection, true)
	v.atLeast("waf.max_values", w.MaxValues, 1)
	v.atLeast("waf.max_bytes", w.MaxBytes, 1)
	for i, h := range w.Headers {
		if h == "*" {
			if len(w.Headers) > 1 {
				v.add(fmt.Sprintf("waf.headers[%d]", i), `"*" (every header) must be the only entry`)
			}
			continue
		}
		if !isToken(h) {
			v.add(fmt.Sprintf("waf.headers[%d]", i), "not a valid header name: %q", h)
		}
	}
}

func (r *RouteWAF) validate(v *validator, key string) {
	wafMode(v, key+".libinjection", r.Libinjection, true)
	c := r.CRS
	if c == nil {
		return
	}
	wafMode(v, key+".crs.mode", c.Mode, false)
	v.between(key+".crs.paranoia", c.Paranoia, 1, 4)
	v.between(key+".crs.anomaly_threshold", c.AnomalyThreshold, 1, 10000)
	if c.OnError != 403 && c.OnError != 500 {
		v.add(key+".crs.on_error", "must be 403 or 500, got %d", c.OnError)
	}
	for i, id := range c.ExcludeRules {
		if id < 1 {
			v.add(fmt.Sprintf("%s.crs.exclude_rules[%d]", key, i), "not a rule id: %d", id)
		}
	}
}
