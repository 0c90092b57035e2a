package policy

import (
	"fmt"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/dataplane/waf"
	"github.com/edgeguard/edgeguard/dataplane/waf/inject"
	"github.com/edgeguard/edgeguard/policy/config"
)

// wafState is what the routes of one policy share: tier 1's detector (one,
// with its cache of values known clean).
type wafState struct {
	tier1 *inject.Detector
}

func compileWAF(c *config.Config) (*wafState, error) {
	d, err := inject.New(inject.Options{Headers: c.WAF.Headers})
	if err != nil {
		return nil, fmt.Errorf("compile waf: %w", err)
	}
	return &wafState{tier1: d}, nil
}

// routeStage compiles a route's WAF; nil when every tier is off.
func (w *wafState) routeStage(c *config.Config, r *config.Route) (pipeline.Stage, error) {
	mode1, _ := waf.ParseMode(r.WAF.Libinjection) // validated
	cfg := waf.Config{Route: r.Name, Tier1: w.tier1, Mode1: mode1, BlockTruncated: c.WAF.BlockTruncated}
	if r.WAF.CRS != nil {
		return nil, fmt.Errorf("waf.crs: tier 2 is not built yet")
	}
	if cfg.Mode1 == waf.Off && cfg.Mode2 == waf.Off {
		return nil, nil
	}
	return waf.New(cfg)
}
