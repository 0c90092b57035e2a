// Package auth benchmarks the gateway's authentication through exported
// APIs only: every JWT algorithm cached and uncached beside the bare
// signature check it wraps (the "crypto" rows, so the parsing and claim
// overhead is visible as a ratio), API key lookup, HMAC request
// verification, and the whole auth stage per method. Targets: a cached
// token check <= 300 ns with no allocation; uncached RS256 near the crypto
// cost.
//
//	go test -run '^$' -bench . -benchmem ./bench/auth/
package auth
