package config

// RateLimit holds the limiter's global settings and named limits that
// routes refer to.
type RateLimit struct{}

// RouteRateLimit is one route's rate limiting.
type RouteRateLimit struct{}

func (rl *RateLimit) applyDefaults() {}

func (rl *RateLimit) validate(v *validator) {}

func (rr *RouteRateLimit) applyDefaults() {}

// validate checks one route's rate_limit section; key is e.g. "routes[3].rate_limit".
func (rr *RouteRateLimit) validate(v *validator, key string, rl *RateLimit) {}
