package config

import (
	"fmt"
	"strings"
	"time"
)

// Anomaly configures built-in anomaly detection (dataplane/anomaly):
// per-route baselines and five detectors, each raising a security event
// and a metric, and, with ban, banning the source at the NIC.
type Anomaly struct {
	// Interval is how often the detectors are evaluated.
	Interval time.Duration `mapstructure:"interval"`
	// Baseline is the time constant of the per-route exponentially
	// weighted rates (request rate, status classes).
	Baseline time.Duration `mapstructure:"baseline"`
	// BanDuration is how long a detector with ban: true bans a source;
	// 0: xdp.ban_default.
	BanDuration time.Duration `mapstructure:"ban_duration"`

	CredentialStuffing AnomalyStuffing    `mapstructure:"credential_stuffing"`
	Enumeration        AnomalyEnumeration `mapstructure:"enumeration"`
	Probing            AnomalyProbing     `mapstructure:"probing"`
	AdminFirstSeen     AnomalyAdmin       `mapstructure:"admin_first_seen"`
	UnusualMethods     AnomalyMethods     `mapstructure:"unusual_methods"`
}

// AnomalyStuffing: a route's 401/403 rate over Window far above its baseline.
type AnomalyStuffing struct {
	Enabled        *bool         `mapstructure:"enabled"` // nil: on
	Ban            bool          `mapstructure:"ban"`
	Window         time.Duration `mapstructure:"window"`
	Warmup         time.Duration `mapstructure:"warmup"`
	Factor         float64       `mapstructure:"factor"`
	MinFailures    int           `mapstructure:"min_failures"`
	BanMinFailures int           `mapstructure:"ban_min_failures"`
	MaxSources     int           `mapstructure:"max_sources"`
}

// AnomalyEnumeration: one identity or client walks Threshold distinct IDs
// of one route pattern within Window.
type AnomalyEnumeration struct {
	Enabled   *bool         `mapstructure:"enabled"`
	Ban       bool          `mapstructure:"ban"`
	Window    time.Duration `mapstructure:"window"`
	Threshold int           `mapstructure:"threshold"`
	Patterns  []string      `mapstructure:"patterns"`
	Infer     *bool         `mapstructure:"infer"` // nil: on
	MaxKeys   int           `mapstructure:"max_keys"`
}

// AnomalyProbing: one source collects Threshold 404s within Window.
type AnomalyProbing struct {
	Enabled    *bool         `mapstructure:"enabled"`
	Ban        bool          `mapstructure:"ban"`
	Window     time.Duration `mapstructure:"window"`
	Threshold  int           `mapstructure:"threshold"`
	MaxSources int           `mapstructure:"max_sources"`
}

// AnomalyAdmin: a source reaches one of Routes for the first time.
type AnomalyAdmin struct {
	Enabled    *bool         `mapstructure:"enabled"`
	Ban        bool          `mapstructure:"ban"`
	Routes     []string      `mapstructure:"routes"`
	Warmup     time.Duration `mapstructure:"warmup"`
	MaxSources int           `mapstructure:"max_sources"`
}

// AnomalyMethods: a route meets a method it never saw during Warmup, or
// outside its Declared set.
type AnomalyMethods struct {
	Enabled  *bool               `mapstructure:"enabled"`
	Ban      bool                `mapstructure:"ban"`
	Warmup   time.Duration       `mapstructure:"warmup"`
	Declared map[string][]string `mapstructure:"declared"` // route name -> methods
}

// AnomalyOn reports whether a detector (or switch) whose Enabled is e is on.
func AnomalyOn(e *bool) bool { return e == nil || *e }

// Anomaly defaults; deploy/examples/gatewayd.yaml documents them.
const (
	DefaultAnomalyInterval         = 10 * time.Second
	DefaultAnomalyBaseline         = 15 * time.Minute
	DefaultAnomalyWindow           = time.Minute
	DefaultAnomalyWarmup           = 10 * time.Minute
	DefaultStuffingFactor          = 5
	DefaultStuffingMinFailures     = 30
	DefaultStuffingBanMinFailures  = 10
	DefaultAnomalyMaxSources       = 4096
	DefaultEnumerationThreshold    = 100
	DefaultEnumerationMaxKeys      = 4096
	DefaultProbingThreshold        = 50
	DefaultProbingMaxSources       = 16384
	MaxAnomalyEnumerationThreshold = 1000 // anomaly.MaxThreshold
	maxAnomalyWindowTicks          = 600  // anomaly.MaxWindowTicks
	maxAnomalyKeys                 = 1 << 20
)

// anomalyMethods are the methods a declared set may name.
var anomalyMethods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}

func (a *Anomaly) applyDefaults() {
	for _, e := range []**bool{&a.CredentialStuffing.Enabled, &a.Enumeration.Enabled, &a.Enumeration.Infer,
		&a.Probing.Enabled, &a.AdminFirstSeen.Enabled, &a.UnusualMethods.Enabled} {
		if *e == nil {
			on := true
			*e = &on
		}
	}
	setDuration(&a.Interval, DefaultAnomalyInterval)
	setDuration(&a.Baseline, DefaultAnomalyBaseline)
	s := &a.CredentialStuffing
	setDuration(&s.Window, DefaultAnomalyWindow)
	setDuration(&s.Warmup, DefaultAnomalyWarmup)
	if s.Factor == 0 {
		s.Factor = DefaultStuffingFactor
	}
	setInt(&s.MinFailures, DefaultStuffingMinFailures)
	setInt(&s.BanMinFailures, DefaultStuffingBanMinFailures)
	setInt(&s.MaxSources, DefaultAnomalyMaxSources)
	e := &a.Enumeration
	setDuration(&e.Window, DefaultAnomalyWindow)
	setInt(&e.Threshold, DefaultEnumerationThreshold)
	setInt(&e.MaxKeys, DefaultEnumerationMaxKeys)
	p := &a.Probing
	setDuration(&p.Window, DefaultAnomalyWindow)
	setInt(&p.Threshold, DefaultProbingThreshold)
	setInt(&p.MaxSources, DefaultProbingMaxSources)
	setInt(&a.AdminFirstSeen.MaxSources, DefaultAnomalyMaxSources)
	setDuration(&a.UnusualMethods.Warmup, DefaultAnomalyWarmup)
}

// validate checks the section; routes are the configured route names.
func (a *Anomaly) validate(v *validator, routes []Route) {
	if a.Interval < 10*time.Millisecond || a.Interval > 5*time.Minute {
		v.add("anomaly.interval", "must be 10ms-5m, got %s", a.Interval)
	}
	if a.Baseline < a.Interval || a.Baseline > 24*time.Hour {
		v.add("anomaly.baseline", "must be anomaly.interval (%s) to 24h, got %s", a.Interval, a.Baseline)
	}
	if a.BanDuration < 0 {
		v.add("anomaly.ban_duration", "must be >= 0 (0: xdp.ban_default), got %s", a.BanDuration)
	}
	s := a.CredentialStuffing
	a.window(v, "anomaly.credential_stuffing.window", s.Window)
	if a.Interval > 0 && s.Window/a.Interval > maxAnomalyWindowTicks {
		v.add("anomaly.credential_stuffing.window", "must be at most %d × anomaly.interval (%s), got %s",
			maxAnomalyWindowTicks, a.Interval, s.Window)
	}
	warmup(v, "anomaly.credential_stuffing.warmup", s.Warmup)
	if !(s.Factor > 1 && s.Factor <= 1000) {
		v.add("anomaly.credential_stuffing.factor", "must be > 1 and <= 1000, got %v", s.Factor)
	}
	v.atLeast("anomaly.credential_stuffing.min_failures", s.MinFailures, 1)
	v.atLeast("anomaly.credential_stuffing.ban_min_failures", s.BanMinFailures, 1)
	v.between("anomaly.credential_stuffing.max_sources", s.MaxSources, 1, maxAnomalyKeys)

	e := a.Enumeration
	a.window(v, "anomaly.enumeration.window", e.Window)
	v.between("anomaly.enumeration.threshold", e.Threshold, 2, MaxAnomalyEnumerationThreshold)
	v.between("anomaly.enumeration.max_keys", e.MaxKeys, 1, maxAnomalyKeys)
	for i, p := range e.Patterns {
		if msg := checkPattern(p); msg != "" {
			v.add(fmt.Sprintf("anomaly.enumeration.patterns[%d]", i), "%s, got %q", msg, p)
		}
	}

	p := a.Probing
	a.window(v, "anomaly.probing.window", p.Window)
	v.atLeast("anomaly.probing.threshold", p.Threshold, 1)
	v.between("anomaly.probing.max_sources", p.MaxSources, 1, maxAnomalyKeys)

	ad := a.AdminFirstSeen
	for i, name := range ad.Routes {
		if !hasRoute(routes, name) {
			v.add(fmt.Sprintf("anomaly.admin_first_seen.routes[%d]", i), "no route named %q", name)
		}
	}
	warmup(v, "anomaly.admin_first_seen.warmup", ad.Warmup)
	v.between("anomaly.admin_first_seen.max_sources", ad.MaxSources, 1, maxAnomalyKeys)

	m := a.UnusualMethods
	warmup(v, "anomaly.unusual_methods.warmup", m.Warmup)
	for _, name := range sortedKeys(m.Declared) {
		key := "anomaly.unusual_methods.declared." + name
		if !hasRoute(routes, name) {
			v.add(key, "no route named %q", name)
		}
		if len(m.Declared[name]) == 0 {
			v.add(key, "must list at least one method")
		}
		for i, meth := range m.Declared[name] {
			if !containsString(anomalyMethods, meth) {
				v.add(fmt.Sprintf("%s[%d]", key, i), "must be one of %s, got %q", strings.Join(anomalyMethods, ", "), meth)
			}
		}
	}
}

func (a *Anomaly) window(v *validator, key string, w time.Duration) {
	if w < a.Interval || w > 24*time.Hour {
		v.add(key, "must be anomaly.interval (%s) to 24h, got %s", a.Interval, w)
	}
}

func warmup(v *validator, key string, w time.Duration) {
	if w < 0 || w > 7*24*time.Hour {
		v.add(key, "must be 0-168h, got %s", w)
	}
}

// hasRoute matches a route name as viper spells map keys (lower case).
func hasRoute(routes []Route, name string) bool {
	for _, r := range routes {
		if strings.EqualFold(r.Name, name) {
			return true
		}
	}
	return false
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkPattern returns what is wrong with an enumeration pattern, "" if
// nothing: "/customers/{id}", each {name} a whole segment, at least one.
func checkPattern(p string) string {
	if !strings.HasPrefix(p, "/") || len(p) > 128 {
		return "must start with / and be at most 128 bytes"
	}
	ids := 0
	for _, seg := range strings.Split(p[1:], "/") {
		switch {
		case len(seg) > 2 && seg[0] == '{' && seg[len(seg)-1] == '}' && !strings.ContainsAny(seg[1:len(seg)-1], "{}"):
			ids++
		case strings.ContainsAny(seg, "{}"):
			return "each {name} must be a whole segment"
		}
	}
	if ids == 0 {
		return "must have an {id} segment"
	}
	return ""
}
