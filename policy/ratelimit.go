package policy

import (
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/policy/config"
)

// rateState is the compiled rate limiting of one policy. Bucket state must
// survive reloads (a reload must never hand an attacker fresh quota), so the
// limiter tables are carried over from prev.
type rateState struct{}

func compileRateLimit(c *config.Config, prev *rateState, opt Options) (*rateState, error) {
	return &rateState{}, nil
}

// routeStages returns the stages that rate-limit requests on route r, in
// order; none when the route has no limits.
func (rs *rateState) routeStages(r *config.Route) ([]pipeline.Stage, error) {
	return nil, nil
}

// release stops what rs does not hand over to next (nil: stop everything).
func (rs *rateState) release(next *rateState) {}
