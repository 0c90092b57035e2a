package policy

import (
	"fmt"
	"slices"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/dataplane/waf"
	"github.com/edgeguard/edgeguard/dataplane/waf/crs"
	"github.com/edgeguard/edgeguard/dataplane/waf/inject"
	"github.com/edgeguard/edgeguard/policy/config"
)

// wafState is what the routes of one policy share: tier 1's detector (one,
// with its cache of values known clean), and tier 2's engines, shared by
// routes with equal settings and carried over reloads (compiling CRS costs
// ~0.3 s); the policy closes its routes' tier-2 WAFs when it is released.
type wafState struct {
	tier1   *inject.Detector
	engines *crs.Engines
	tier2   []*crs.WAF
}

func compileWAF(c *config.Config, prev *wafState) (*wafState, error) {
	opts := inject.Options{Headers: c.WAF.Headers, MaxValues: c.WAF.MaxValues, MaxBytes: c.WAF.MaxBytes,
		// Credential carriers are opaque tokens: never inspected.
		ExcludeHeaders: []string{c.Auth.JWT.Header, c.Auth.APIKeys.Header, c.Headers.RequestIDHeader}}
	for i, name := range c.WAF.KindsOff {
		k, ok := inject.ParseKind(name)
		if !ok {
			return nil, fmt.Errorf("compile waf: waf.kinds_off[%d]: unknown detection %q", i, name)
		}
		opts.Off = opts.Off.With(k)
	}
	d, err := inject.New(opts)
	if err != nil {
		return nil, fmt.Errorf("compile waf: %w", err)
	}
	w := &wafState{tier1: d}
	if prev != nil {
		w.engines = prev.engines
	} else {
		w.engines = crs.NewEngines()
	}
	return w, nil
}

// release closes the tier-2 WAFs of this policy: engines nothing else uses
// are freed. Requests in flight on them finish first (Close waits for none:
// a WAF's engine stays valid for transactions already started).
func (w *wafState) release() {
	if w == nil {
		return
	}
	for _, t := range w.tier2 {
		_ = t.Close()
	}
	w.tier2 = nil
}

// crsMediaTypeRule is CRS's "request content type is not allowed" rule.
const crsMediaTypeRule = 920420

// routeStage compiles a route's WAF; nil when every tier is off.
func (w *wafState) routeStage(c *config.Config, r *config.Route) (pipeline.Stage, error) {
	mode1, _ := waf.ParseMode(r.WAF.Libinjection) // validated
	cfg := waf.Config{Route: r.Name, Tier1: w.tier1, Mode1: mode1, BlockTruncated: *c.WAF.BlockTruncated}
	if rc := r.WAF.CRS; rc != nil {
		body := r.Validate.MaxBodyBytes
		if body == 0 {
			body = c.Server.MaxRequestBodyBytes
		}
		exclude := rc.ExcludeRules
		if len(r.Validate.ContentTypes) > 0 || r.Validate.OpenAPIFile != "" {
			// The route's own media types are the allow-list, enforced
			// before the WAF (415): CRS's fixed list (920420) would only
			// refuse types the route takes (application/vnd.acme+json).
			exclude = append(slices.Clip(exclude), crsMediaTypeRule)
		}
		t, err := w.engines.WAF(crs.Config{Paranoia: rc.Paranoia, AnomalyThreshold: rc.AnomalyThreshold,
			ExcludeRules: exclude, OnErrorStatus: rc.OnError, MaxBodyBytes: body})
		if err != nil {
			return nil, fmt.Errorf("waf.crs: %w", err)
		}
		w.tier2 = append(w.tier2, t)
		cfg.Tier2, cfg.OnError = waf.CRS(t), rc.OnError
		cfg.Mode2, _ = waf.ParseMode(rc.Mode) // validated
	}
	if cfg.Mode1 == waf.Off && cfg.Mode2 == waf.Off {
		return nil, nil
	}
	return waf.New(cfg)
}
