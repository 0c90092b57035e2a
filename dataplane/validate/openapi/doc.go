// Package openapi validates requests against an OpenAPI 3.0.x or 3.1.x
// document: a route's validate.BodyChecker that finds the request's
// operation by method and path template and checks its path, query,
// header and cookie parameters and its request body, with every schema
// compiled once, at load, by package schema.
//
// # Loading
//
// New takes the document's bytes (JSON, or YAML with the same meaning:
// an unquoted date is a string, merge keys and custom tags are refused)
// and works on its own copy of them. OpenAPI 3.1 schemas are draft
// 2020-12 and pass as they are; OpenAPI 3.0 schemas are converted first,
// in schema positions only (a property named "example" stays):
//
//   - nullable: true adds "null" to type (with no type it does nothing, and
//     an enum must list null itself, as OpenAPI 3.0.3 says);
//   - boolean exclusiveMinimum/exclusiveMaximum become the numeric form;
//   - the siblings of a $ref, which 3.0 ignores, are dropped when they only
//     annotate (description, example, ...) and refused otherwise.
//
// In both versions the OpenAPI vocabulary is removed from schemas
// (example, xml, externalDocs, x-* extensions, $schema of the OpenAPI
// dialect), the OpenAPI formats become what they assert (int32 and int64:
// their range; byte: padded base64; float, double, binary, password:
// nothing), and readOnly properties are not required (OpenAPI: they are
// required in responses only; honoured where the property is declared,
// directly or through a $ref, beside the required list, not in another
// allOf branch). A discriminator over a oneOf or anyOf of
// $refs selects the schema named by the property (mapping, else the
// component's name) and requires the property to name one, as OpenAPI
// tools validate; a plain oneOf would refuse a body two of its schemas
// accept (a base schema that lists its own subtypes, each of which
// includes the base through allOf, is a reference cycle the compiler
// refuses). Each schema is then compiled by schema.CompileAt from the
// smallest document holding it and what it references, so a load is
// linear in the document's size; any keyword or format that package does
// not enforce is an error.
//
// Every error names its place as a JSON pointer into the document (with
// the YAML line when there is one), for example
//
//	openapi: /paths/~1orders/get/parameters/0: style deepObject not supported (query parameters: form) (line 42)
//
// and New reports all of them, up to 20. Refused, rather than ignored:
// Swagger 2.0; references to other documents; parameter styles other than
// simple (path, header) and form (query, cookie); array parameters
// outside the query, exploded arrays only, of scalars; object parameters;
// parameters with content instead of schema; two template expressions in
// one path segment; templates that differ only in variable names; a path
// variable without its parameter and the reverse; unknown fields in path
// items, operations, parameters, request bodies and media types (a
// misspelt "requried" must not make a parameter optional). Not checked,
// by design: responses, security requirements (the auth stages do that),
// servers on path items and operations (only the document's first
// servers[].url gives the base path), callbacks and webhooks, and the
// header parameters Accept, Content-Type and Authorization (OpenAPI
// says to ignore them).
//
// # Requests
//
// Check runs on the request path. The path it matches is the normalized
// one the router matched (pipeline.Request.RoutePath when ';' parameters
// were cut) below Options.BasePath; literal segments win over templates,
// a template's value is one non-empty segment, and trailing slashes
// count ("/orders/" is not "/orders"), and case counts, whatever the
// route's own matching. HEAD falls back to the GET operation; OPTIONS
// (a CORS preflight) is an operation like any other. No template: 404 (pipeline.ReasonNoRoute, detail
// openapi_no_operation); a template without the method: 405 with Allow.
//
// Parameter values are percent-decoded (path), must be valid UTF-8, and
// are read as the JSON value their schema's types call for: a number
// where number is allowed and the text is a JSON number, an integer where
// only integer is and the text is -?(0|[1-9][0-9]*) (no sign, leading
// zero or exponent, which upstreams parse differently), true/false for
// boolean, a string otherwise, so that "abc" for an integer fails the
// schema's type check. The compiled schema then checks that value: enum,
// bounds, pattern, format and, for query arrays (?tag=a&tag=b), the
// items and minItems/maxItems. A required parameter missing, a scalar
// query parameter given twice, and a value that is not UTF-8 fail too;
// allowEmptyValue lets "?q=" pass. Query names are compared as they are
// once fasthttp decoded them (so "%69d" is id, and id=1&%69d=2 a
// repetition), but a name that upstreams may read as a declared one is
// refused under the declared name (ReasonVariant): another case ("ID",
// and ı, ſ, K, which Java folds to ASCII), brackets ("id[]", "id[0]",
// which PHP, Rails and qs read as id), a further percent-decoding
// ("%2569d"), a NUL or spaces around it, '.' or ' ' for '_' (PHP). Other
// query parameters the operation does not declare pass unless
// Options.RejectUnknownQuery. Headers and cookies
// are checked like path parameters (one value, simple/form style); a
// header in any spelling lenient servers fold to its name, or a cookie
// whose name differs in case, counts as another value, and is refused.
//
// The body: a request with one (data, a Content-Length or chunked) to an
// operation without requestBody is refused; a required body missing is
// refused; otherwise the Content-Type must fall in a declared media type
// (most specific first: type/subtype, type/*+json, type/*, */*) or the
// answer is 415. A JSON media type (json or +json subtype) is read as
// validate.JSONCheck reads it (UTF-8 only: another declared charset is a
// 415, a byte order mark malformed; jsonbody: strict, depth-bounded, no
// duplicate keys), left in pipeline.Request.JSON for later stages, and
// checked by its schema, as is a JSON body sent under a range (type/*,
// */*) that has one; other media types (forms, multipart, text, binary)
// are checked by type only: their schemas describe no JSON.
//
// A parameter or body refusal is a 400 with reason body_invalid and up to
// 8 violations, {"pointer":"/query/limit","reason":"maximum: greater than
// 100"} or {"pointer":"/body/items/0/qty",...}: pointers are made of the
// document's names and array indexes, reasons are static. Every refusal
// is counted in edgeguard_validation_refused_total{route,cause}.
//
// The package must never read files or the network, never echo request
// data in a refusal, never let a construct it does not enforce load
// silently, and never allocate while checking a valid request.
package openapi
