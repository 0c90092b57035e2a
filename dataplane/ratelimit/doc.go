// Package ratelimit is the gateway's graduated rate limiter: the pipeline
// stage that, per route, charges each request to every applicable limit and
// decides what happens to it. Under the delay threshold (80% of a limit by
// default) a request passes; up to the reject threshold (100%) it passes
// after a bounded delay that grows with usage; past it the client gets 429
// with Retry-After; and when rejected requests keep coming at the ban
// threshold (200%: rejections arriving as fast as the limit itself), the
// connection is closed without a response and the source is banned at the
// NIC (XDP) or, where XDP is off, at accept time.
//
// Limits are keyed on the client's identity: the authenticated principal's
// RateKey, else the client IP with IPv6 aggregated to a prefix (/64 by
// default). Every (limit, window) bucket is one GCRA word updated by
// compare-and-swap (package gcra) in a bounded sharded table (package
// keytable), so limits are exact under contention, no request ever takes a
// global lock, and a refused request consumes no quota anywhere.
//
// Bucket state lives in a Store that outlives policy reloads: a reload must
// never hand an attacker fresh quota.
//
// The package must never read configuration files, read the clock on the
// request path (it uses the request's start time), allocate per request in
// steady state, or hold an OS thread while it delays a request.
package ratelimit
