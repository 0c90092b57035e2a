package pipeline

import (
	"strconv"

	"github.com/valyala/fasthttp"
)

// Reason is a machine-readable code for a denial or failure. It appears in
// the response body, the access log and the metrics, so its string form is
// stable API.
type Reason uint8

const (
	ReasonNone Reason = iota
	ReasonPathInvalid
	ReasonPathAmbiguous
	ReasonNoRoute
	ReasonMethodNotAllowed
	ReasonHeaderInvalid
	ReasonBodyTooLarge
	ReasonUpstreamUnavailable
	ReasonUpstreamTimeout
	ReasonUpstreamError
	ReasonShuttingDown
	ReasonBlocked
	ReasonUnauthenticated // 401: missing or invalid credentials (precise cause in Request.Detail)
	ReasonForbidden       // 403: valid credentials without the required scope or route
	ReasonRateLimited     // 429: over a limit
	ReasonBurstBanned     // connection closed and source banned: far over a limit
	ReasonLoginLocked     // 429: too many failed logins
	// ReasonCredentialInQuery is a 400 for a credential (API key) sent in
	// the query string, which leaks into logs: the client must use a header.
	ReasonCredentialInQuery
	// ReasonLoginAmbiguous is a 400 for a login body that names the account
	// field more than once (duplicate or case-variant keys): servers differ
	// on which one counts, so failures could be charged to a decoy.
	ReasonLoginAmbiguous
	// ReasonAuthLocked is a 429 for a client whose credentials kept failing:
	// it is refused before any signature check until the lockout ends.
	ReasonAuthLocked
	// ReasonCredentialAmbiguous is a 400 for a request that carries a
	// credential header more than once, or in a spelling the gateway does
	// not read: the gateway would check one value and an upstream might
	// use another.
	ReasonCredentialAmbiguous
	// ReasonFramingInvalid is a 400 for a request whose message framing is
	// not strict HTTP/1.1 (bare LF, obs-fold, Content-Length with
	// Transfer-Encoding, ...); the connection is closed after it.
	ReasonFramingInvalid
	// ReasonRequestTimeout is a 408 for a request whose head or body did
	// not arrive in time (server.request_head_timeout, read_timeout).
	ReasonRequestTimeout
	// ReasonMediaTypeUnsupported is a 415 for a body whose Content-Type a
	// validated route does not take, or that has a Content-Encoding.
	ReasonMediaTypeUnsupported
	// ReasonURITooLong is a 414 over a route's max_uri_bytes.
	ReasonURITooLong
	// ReasonHeadersTooMany is a 431 over a route's max_headers.
	ReasonHeadersTooMany
	// ReasonQueryParamsTooMany is a 400 over a route's max_query_params.
	ReasonQueryParamsTooMany
	// ReasonBodyInvalid is a 400 for a body that is not well-formed JSON or
	// fails the route's schema.
	ReasonBodyInvalid
	// ReasonWAFBlocked is a 403 for a request the WAF found an attack in.
	ReasonWAFBlocked
	// ReasonWAFError is the answer (403 or 500, by config) when the WAF
	// itself failed: it fails closed.
	ReasonWAFError
	// ReasonVersionUnsupported is a 505 for a request line whose HTTP
	// major version is not 1 (HTTP/2.0 in an HTTP/1 request line).
	ReasonVersionUnsupported
	numReasons
)

var reasonNames = [numReasons]string{
	ReasonNone:                 "",
	ReasonPathInvalid:          "path_invalid",
	ReasonPathAmbiguous:        "path_ambiguous",
	ReasonNoRoute:              "no_route",
	ReasonMethodNotAllowed:     "method_not_allowed",
	ReasonHeaderInvalid:        "header_invalid",
	ReasonBodyTooLarge:         "body_too_large",
	ReasonUpstreamUnavailable:  "upstream_unavailable",
	ReasonUpstreamTimeout:      "upstream_timeout",
	ReasonUpstreamError:        "upstream_error",
	ReasonShuttingDown:         "shutting_down",
	ReasonBlocked:              "blocked",
	ReasonUnauthenticated:      "unauthenticated",
	ReasonForbidden:            "forbidden",
	ReasonRateLimited:          "rate_limited",
	ReasonBurstBanned:          "burst_banned",
	ReasonLoginLocked:          "login_locked",
	ReasonCredentialInQuery:    "credential_in_query",
	ReasonLoginAmbiguous:       "login_ambiguous",
	ReasonAuthLocked:           "auth_locked",
	ReasonCredentialAmbiguous:  "credential_ambiguous",
	ReasonFramingInvalid:       "framing_invalid",
	ReasonRequestTimeout:       "request_timeout",
	ReasonMediaTypeUnsupported: "media_type_unsupported",
	ReasonURITooLong:           "uri_too_long",
	ReasonHeadersTooMany:       "headers_too_many",
	ReasonQueryParamsTooMany:   "query_params_too_many",
	ReasonBodyInvalid:          "body_invalid",
	ReasonWAFBlocked:           "waf_blocked",
	ReasonWAFError:             "waf_error",
	ReasonVersionUnsupported:   "version_unsupported",
}

// String returns the stable code, e.g. "path_ambiguous".
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Reasons lists every defined reason except ReasonNone, for metric registration.
func Reasons() []Reason {
	out := make([]Reason, 0, numReasons-1)
	for r := ReasonNone + 1; r < numReasons; r++ {
		out = append(out, r)
	}
	return out
}

var (
	jsonOpen      = []byte(`{"status":`)
	jsonQuote     = []byte(`"`)
	jsonError     = []byte(`,"error":"`)
	jsonReason    = []byte(`","reason":"`)
	jsonRequestID = []byte(`","request_id":"`)
	jsonClose     = []byte("\"}\n")
	contentJSON   = []byte("application/json")
)

// Deny records reason on r and writes the gateway's standard error response:
// a small JSON body naming the status, the reason code and the request ID.
// It allocates nothing: the body is appended into the response buffer.
func Deny(ctx *fasthttp.RequestCtx, r *Request, status int, reason Reason) Verdict {
	DenyOpen(ctx, r, status, reason)
	ctx.Response.AppendBody(jsonClose[1:])
	return Done
}

// DenyOpen is Deny with the JSON object left open after the request ID, so
// that the caller can append more members (`,"name":value`) before it calls
// DenyClose.
func DenyOpen(ctx *fasthttp.RequestCtx, r *Request, status int, reason Reason) {
	r.Reason = reason
	resp := &ctx.Response
	resp.ResetBody()
	resp.SetStatusCode(status)
	resp.Header.SetContentTypeBytes(contentJSON)
	var num [8]byte
	resp.AppendBody(jsonOpen)
	resp.AppendBody(strconv.AppendInt(num[:0], int64(status), 10))
	resp.AppendBody(jsonError)
	resp.AppendBodyString(fasthttp.StatusMessage(status))
	resp.AppendBody(jsonReason)
	resp.AppendBodyString(reason.String())
	resp.AppendBody(jsonRequestID)
	resp.AppendBody(r.RequestID) // request IDs are validated to a JSON-safe charset
	resp.AppendBody(jsonQuote)
}

// DenyClose ends a body DenyOpen began.
func DenyClose(ctx *fasthttp.RequestCtx) Verdict {
	ctx.Response.AppendBody(jsonClose[1:])
	return Done
}
