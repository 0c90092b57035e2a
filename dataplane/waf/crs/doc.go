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
// CRS's @rx run the gateway's operator (rx.go): Coraza's matching, skipped
// when an input lacks the literals every match of the regular expression
// contains (package rxfilter, computed at load). Of the 11,838 @rx
// evaluations of a 1 KB JSON POST at paranoia 2, 84 run a regexp. Coraza's
// own SecRxPreFilter is off: it skips inputs its regular expressions match
// (see directives).
//
// Cost, measured on this project's 2-core machine class (CPU per request,
// Coraza v3.8.1, CRS 4.25.0, medians of five interleaved runs of
// BenchmarkInspectOptions on a machine loaded by other work): an API GET
// with four query arguments 1.2 ms (paranoia 1) and 2.0 ms (2), a 1 KB
// JSON POST 9 ms and 12 ms, which is 1.3x, 1.15x, 1.6x and 1.85x less than
// with Coraza's @rx and its SecRxPreFilter, 1.5x to 2.4x less than with
// Coraza's @rx alone. Coraza is the bound: with every @rx that does not
// match answered by one map look-up, the same requests cost 1.0, 1.7, 7.7
// and 10.5 ms. The rest is Coraza's rule loop over every argument name
// and value: its transformation cache (a third of the CPU), variable
// collection and rule bookkeeping.
//
// The package must never treat an internal error or a panic inside Coraza
// as a pass (Inspect fails closed: any error means refuse), never write a
// response (the caller does, with a generic body), never return or log
// request data (a Result holds rule ids, a score and a static category),
// and never read configuration files: it gets a Config.
package crs
