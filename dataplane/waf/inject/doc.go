// Package inject is tier 1 of the gateway's WAF: it looks for SQL injection
// and cross-site scripting in the parts of a request that applications feed
// to databases and pages, with libinjection (github.com/corazawaf/libinjection-go),
// on every request of the routes that enable it.
//
// What it inspects, each value under a location name for the access log and
// the counters:
//
//	path               each decoded path segment
//	query.<name>       each decoded query argument, and its name
//	cookie.<name>      each cookie value
//	header.<name>      the configured headers (DefaultHeaders: User-Agent, Referer)
//	form.<name>        application/x-www-form-urlencoded fields and their names,
//	                   and the non-file fields of multipart/form-data
//	json.<pointer>     JSON string values (unescaped) and object keys, at their
//	                   RFC 6901 pointer: json./items/0/name
//	body               a JSON body that does not parse, as one value
//
// A value is also inspected once decoded when it is still URL-encoded
// (double encoding) or looks like Base64 (standard or URL alphabet, decoding
// to mostly printable text), as attack tools send payloads in those forms.
//
// It is cheap because almost no value reaches libinjection: pre-filters
// (prefilter.go) prove, without allocating, that libinjection cannot flag a
// value, and only the others are handed to it. A request whose values all
// pass the pre-filters is inspected without allocating.
//
// The package must never write a response, log, count or decide: Inspect
// reports the first detection and whether inspection was cut short by its
// limits, and the caller (the waf stage) chooses between detect and block.
// It must never echo request data anywhere but Result.Location, which is
// sanitized and bounded, and must never retain the request, the JSON value
// or any slice of them after Inspect returns.
package inject
