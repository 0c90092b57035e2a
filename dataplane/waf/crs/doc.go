// Package crs is tier 2 of the gateway's WAF: Coraza v3 running the OWASP
// Core Rule Set v4, embedded in the binary (nothing to install), over the
// request side of a fasthttp request, for the routes that ask for it.
//
// A route's settings (Config: paranoia level, inbound anomaly threshold,
// rule exclusions, body and argument limits) compile once into an engine;
// Engines shares one engine between routes whose settings are equal, and
// across policy reloads. The route's mode (block or detect) and error
// status sit on top of the shared engine in a WAF. Per request,
// WAF.Inspect runs one Coraza transaction through phases 1 and 2:
// connection, URI, every header as the client sent it, then the body,
// handed to Coraza once (tx.WriteRequestBody) and parsed by the body
// processor its Content-Type selects (JSON for application/json and
// */*+json, or when the caller vouches that the body is JSON). The
// transaction is always closed.
//
// What is left out, on purpose: the response side (no response is fed, so
// phases 3 and 4 never run, and the RESPONSE-* files are not loaded), the
// logging phase and the audit log (off; CRS's phase-5 rules are not
// loaded), rule messages (the msg and logdata actions are stripped at load,
// see rulesFS), and the temporary directory for the body (the in-memory
// body limit equals the body limit, so a body is never truncated nor
// buffered on disk). Two things still touch $TMPDIR unless the binary is
// built with the no_fs_access tag: Coraza checks at compile time that it is
// writable, and its multipart processor copies uploaded file parts there
// for the length of the transaction.
//
// The shipped exclusions for JSON APIs (APIExclusions) are data in
// exclusions.go, each with the benign traffic it fired on.
//
// Cost, measured on this project's 2-core machine class (CPU per request,
// Coraza v3.8.1, CRS 4.25.0): about 0.35 ms for a bare GET, 0.9 ms (paranoia
// 1) to 1.5 ms (2) for an API GET with four query arguments, 10 ms to 17 ms
// for a 1 KB JSON POST. Coraza is the bound: every CRS rule runs its
// transformations and operator (mostly Go regexp) over every argument name
// and value, at about 0.3 to 0.5 µs per rule and input with SecRxPreFilter
// on. Run BenchmarkInspect and BenchmarkInspectOptions to measure again.
//
// The package must never treat an internal error or a panic inside Coraza
// as a pass (Inspect fails closed: any error means refuse), never write a
// response (the caller does, with a generic body), never return or log
// request data (a Result holds rule ids, a score and a static category),
// and never read configuration files: it gets a Config.
package crs
