// Package inject is tier 1 of the gateway's WAF: cheap, allocation-free
// checks for the injections that reach applications through request
// values, run on every request of the routes that enable it.
//
// What it looks for, as a Kind (each check is described in its file):
//
//	sqli, xss              libinjection (github.com/corazawaf/libinjection-go) behind exact
//	                       pre-filters (prefilter.go), with second signals for its weak
//	                       fingerprints and a tautology check (sqlitune.go); script URLs,
//	                       JavaScript sinks and DOM access without markup (xss.go)
//	path_traversal, lfi    ../ chains, overlong UTF-8, OS files, PHP/Java stream wrappers (paths.go)
//	cmd_injection          shell commands after separators or in substitutions, $IFS,
//	                       Shellshock (shell.go)
//	code_injection,        PHP, Python, Java, Node.js, ASP code; JavaScript statements;
//	prototype_pollution    __proto__ and constructor.prototype (code.go)
//	template, jndi         server-side template expressions; Log4j lookups (template.go)
//	ssi, xxe               server-side includes; DOCTYPE/ENTITY, UTF-7 XML, XInclude (markup.go)
//	ldap, nosql            LDAP filter injection; MongoDB operators and shell (query.go)
//	crlf, mail             header injection and response splitting; SMTP/IMAP commands (protocol.go)
//	scanner                scanner User-Agents and interaction-server domains (scanner.go)
//	graphql_introspection  __schema and __type queries (scanner.go)
//	ssrf                   cloud metadata addresses in any spelling; gopher:// and dict:// (ssrf.go)
//
// Where it looks, each value under a location name for the access log:
//
//	path               the decoded path (for files and traversals), and each segment
//	query.<name>       each decoded query argument, and its name
//	cookie.<name>      each cookie name and value
//	header.<name>      every header but credentials, the Cookie header, framing and
//	                   hop-by-hop headers (AllHeaders, the default), or the configured
//	                   ones (NamedHeaders: User-Agent, Referer); every other header
//	                   for Log4j lookups alone, and the user name (and, for SQLi,
//	                   the password) of Basic credentials
//	form.<name>        application/x-www-form-urlencoded fields and their names, and the
//	                   fields of multipart/form-data (CRLF or LF line breaks); of a file
//	                   part, its filename (filename* percent-decoded) as
//	                   form.<name>.filename, never the file's content
//	json.<pointer>     JSON string values (unescaped) and object keys, at their RFC 6901
//	                   pointer: json./items/0/name (also untyped bodies that start like JSON)
//	xml.<path>         XML and SOAP text, CDATA and attribute values (entities decoded), at
//	                   their element path: xml./Envelope/Body/login/@user; the prolog and
//	                   comments for the markup checks alone
//	body               any other text body, or a JSON body that does not parse, as one value
//
// A value is also inspected in the forms an application or a browser may
// decode it into: URL-decoded up to three more times, JavaScript/JSON
// escapes decoded (\u003c, \x3c: a body that is JSON in all but its
// Content-Type, or that no JSON reader here takes, reaches JSON.parse), HTML
// character references decoded, short tags inside words removed ("al<x>ert"), and
// Base64-decoded (standard or URL alphabet, decoding to text), as attack
// tools send payloads in those forms. A body whose Content-Encoding label is
// false (no gzip magic under "gzip") is read as it is.
//
// A body is read in every charset an upstream may decode it in
// (charset.go): as its bytes, and, when its Content-Type declares UTF-16
// or UTF-32, or it starts with their byte order mark or NUL pattern (RFC
// 4627 §3), transcoded to UTF-8 as well; a multipart part by its own
// Content-Type. A body declared in a charset that cannot be read here
// (UTF-7, EBCDIC, ISO-2022, an unknown label) is Undecodable; ASCII-
// compatible charsets (ISO-8859-*, windows-125x, Shift_JIS...) are read
// as bytes.
//
// It is cheap because almost nothing runs on a typical value: one pass
// classifies its bytes (classes.go), each check runs only when the value has
// the bytes it needs, libinjection only where its pre-filters cannot rule
// it out, and values seen clean before cost a hash (two caches: one for
// whole values, one for libinjection's verdicts). A request whose values
// all pass the pre-filters, or were seen clean, is inspected without
// allocating.
//
// The package must never write a response, log, count or decide: Inspect
// reports the first detection and whether inspection was cut short by its
// limits, and the caller (the waf stage) chooses between detect and block.
// It must never echo request data anywhere but Result.Location, which is
// sanitized and bounded, and must never retain the request, the JSON value
// or any slice of them after Inspect returns.
package inject
