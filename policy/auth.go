package policy

import (
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/policy/config"
)

// authState is the compiled authentication of one policy: verifiers, key
// tables, caches. Parts that must outlive a reload (JWKS fetchers, verified
// token caches) are carried over from prev when their settings did not change.
type authState struct{}

func compileAuth(c *config.Config, prev *authState, opt Options) (*authState, error) {
	return &authState{}, nil
}

// routeStages returns the stages that authenticate requests on route r, in
// order; none when the route requires no authentication.
func (a *authState) routeStages(r *config.Route) ([]pipeline.Stage, error) {
	return nil, nil
}

// release stops what a does not hand over to next (nil: stop everything).
func (a *authState) release(next *authState) {}
