package config

// Auth holds the credentials the gateway verifies: JWT issuers, API keys,
// HMAC signing keys. Routes choose which of them they require (RouteAuth).
type Auth struct{}

// RouteAuth is one route's authentication requirement.
type RouteAuth struct{}

func (a *Auth) applyDefaults() {}

func (a *Auth) validate(v *validator) {}

func (ra *RouteAuth) applyDefaults() {}

// validate checks one route's auth section; key is e.g. "routes[3].auth".
func (ra *RouteAuth) validate(v *validator, key string, a *Auth) {}
