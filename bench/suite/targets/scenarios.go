// Package targets starts the gateways the benchmark suite compares
// (edgeguard, HAProxy, nginx) in front of the suite's upstream, each
// configured equivalently for every scenario it can run: one process per
// gateway, one port, one path prefix per scenario.
package targets

// Scenario names, in the order the suite runs and reports them.
const (
	Direct        = "direct"         // the upstream with no gateway
	Plain         = "plain"          // plain reverse proxy
	IPLimit       = "ip_limit"       // a per-client-IP limit so high it never refuses
	HS256         = "hs256"          // HS256 JWT, one token reused
	RS256         = "rs256"          // RS256 (RSA-2048) JWT, one token reused
	RS256Rotating = "rs256_rotating" // RS256, a different token every request
	JSONSchema    = "json_schema"    // a 1 KB JSON POST checked against a 20-property schema
	WAFTier1      = "waf_tier1"      // the same POST through tier 1 (libinjection and friends)
	WAFCRS        = "waf_crs"        // the same POST through tier 2 (Coraza + OWASP CRS, paranoia 1)
)

// Scenarios is every scenario but Direct, in order.
var Scenarios = []string{Plain, IPLimit, HS256, RS256, RS256Rotating, JSONSchema, WAFTier1, WAFCRS}

// LimitProbe is the path prefix with a tiny per-IP limit (5 requests a
// second) that proves each gateway's limiter is wired.
const LimitProbe = "limit_probe"

// Path is the request path of a scenario on every gateway.
func Path(scenario string) string { return "/" + scenario + "/items" }

// IsJWT says whether the scenario needs a token.
func IsJWT(scenario string) bool {
	return scenario == HS256 || scenario == RS256 || scenario == RS256Rotating
}

// IsPost says whether the scenario sends the 1 KB JSON body.
func IsPost(scenario string) bool {
	return scenario == JSONSchema || scenario == WAFTier1 || scenario == WAFCRS
}
