package policy

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/edgeguard/edgeguard/dataplane/anomaly"
	"github.com/edgeguard/edgeguard/policy/config"
)

// anomalyStateFile is the detectors' learnt state in management.state_dir.
const anomalyStateFile = "anomaly.state"

// anomalyState is the compiled anomaly section of one policy. The
// detector (its goroutine and every baseline) is carried over from the
// previous policy: a reload must not make the detectors forget what normal
// traffic looks like. Each policy's routes observe through handles that
// carry this policy's settings, so new thresholds apply from the first
// request the new policy serves.
type anomalyState struct {
	det     *anomaly.Detector // nil: every detector off, none ever on
	cfg     *anomaly.Config   // nil: every detector off
	created bool              // det was started by this policy
}

func compileAnomaly(c *config.Config, prev *anomalyState, opt Options) (*anomalyState, error) {
	as := &anomalyState{}
	if prev != nil {
		as.det = prev.det
	}
	a := &c.Anomaly
	cfg := &anomaly.Config{
		Interval: a.Interval, Baseline: a.Baseline, BanFor: a.BanDuration, IPv6Prefix: c.RateLimit.IPv6Prefix,
		Stuffing: anomaly.StuffingConfig{
			On: config.AnomalyOn(a.CredentialStuffing.Enabled), Ban: a.CredentialStuffing.Ban,
			Window: a.CredentialStuffing.Window, Warmup: a.CredentialStuffing.Warmup, Factor: a.CredentialStuffing.Factor,
			MinFailures: a.CredentialStuffing.MinFailures, BanMinFailures: a.CredentialStuffing.BanMinFailures,
			MaxSources: a.CredentialStuffing.MaxSources,
		},
		Enumeration: anomaly.EnumerationConfig{
			On: config.AnomalyOn(a.Enumeration.Enabled), Ban: a.Enumeration.Ban, Window: a.Enumeration.Window,
			Threshold: a.Enumeration.Threshold, Patterns: a.Enumeration.Patterns, Infer: config.AnomalyOn(a.Enumeration.Infer),
			MaxKeys: a.Enumeration.MaxKeys,
		},
		Probing: anomaly.ProbingConfig{
			On: config.AnomalyOn(a.Probing.Enabled), Ban: a.Probing.Ban, Window: a.Probing.Window,
			Threshold: a.Probing.Threshold, MaxSources: a.Probing.MaxSources,
		},
		Admin: anomaly.AdminConfig{
			On: config.AnomalyOn(a.AdminFirstSeen.Enabled), Ban: a.AdminFirstSeen.Ban,
			Routes: routeNames(c, a.AdminFirstSeen.Routes), Warmup: a.AdminFirstSeen.Warmup, MaxSources: a.AdminFirstSeen.MaxSources,
		},
		Methods: anomaly.MethodsConfig{
			On: config.AnomalyOn(a.UnusualMethods.Enabled), Ban: a.UnusualMethods.Ban, Warmup: a.UnusualMethods.Warmup,
			Declared: map[string][]string{},
		},
	}
	for name, methods := range a.UnusualMethods.Declared {
		for _, route := range routeNames(c, []string{name}) {
			cfg.Methods.Declared[route] = methods
		}
	}
	if !cfg.Stuffing.On && !cfg.Enumeration.On && !cfg.Probing.On && !cfg.Admin.On && !cfg.Methods.On {
		return as, nil
	}
	if cfg.BanFor == 0 {
		cfg.BanFor = opt.BanDefault
	}
	if cfg.BanFor == 0 {
		cfg.BanFor = c.XDP.BanDefault
	}
	if err := cfg.Compile(); err != nil {
		return nil, fmt.Errorf("compile anomaly: %w", err)
	}
	as.cfg = cfg
	if as.det == nil {
		o := anomaly.Options{Events: opt.Events}
		if dir := c.Management.StateDir; dir != "" && !opt.CheckOnly {
			o.StatePath = filepath.Join(dir, anomalyStateFile) // read once: a reload keeps the detector and its file
		}
		if opt.Enforcer != nil {
			o.Banner = opt.Enforcer // the rate limiter's ban path: XDP at the NIC, or the accept-time filter
		}
		as.det, as.created = anomaly.New(o), true
	}
	return as, nil
}

// routeNames are the configured names of routes named in any case (viper
// lower-cases map keys).
func routeNames(c *config.Config, names []string) []string {
	var out []string
	for _, n := range names {
		for _, r := range c.Routes {
			if strings.EqualFold(r.Name, n) {
				out = append(out, r.Name)
			}
		}
	}
	return out
}

// route is the handle through which the requests of the named route ("":
// those no route took) are observed; nil when detection is off.
func (as *anomalyState) route(name string) *anomaly.Route {
	if as == nil || as.cfg == nil {
		return nil
	}
	return as.det.Route(name, as.cfg)
}

// release stops the detector when no next policy carries it.
func (as *anomalyState) release(next *anomalyState) {
	if as == nil || as.det == nil || (next != nil && next.det == as.det) {
		return
	}
	as.det.Close()
}

// failed stops a detector this policy started, when compiling it failed.
func (as *anomalyState) failed() {
	if as != nil && as.created {
		as.det.Close()
	}
}
