// Package pipeline defines what every data-plane stage shares: the per-request
// state, the verdict a stage returns, and the deny reason codes that appear in
// responses, access logs and metrics. It must never import configuration code:
// stages receive compiled values only.
package pipeline

import (
	"net/netip"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/edgeguard/edgeguard/dataplane/validate/jsonbody"
)

// Verdict is what a stage decides about a request.
type Verdict uint8

const (
	// Continue passes the request to the next stage.
	Continue Verdict = iota
	// Done means the stage wrote the response; no later stage runs.
	Done
	// Close means the connection is closed without a response.
	Close
)

// Stage is one step of a route's request path. Handle must not allocate in
// steady state and must not retain ctx or r after it returns.
type Stage interface {
	Name() string
	Handle(ctx *fasthttp.RequestCtx, r *Request) Verdict
}

// HeadChecker is implemented by stages that can refuse a request from its
// head alone. The server asks them, in stage order, when a client sends
// "Expect: 100-continue", so that the refusal comes instead of a 100 that
// would invite the body. CheckHead changes nothing in the request; it
// writes the response (as Handle would) and returns Done when it refuses,
// else Continue. Handle still runs every check once the body is in.
type HeadChecker interface {
	CheckHead(ctx *fasthttp.RequestCtx, r *Request) Verdict
}

// ResponseObserver is implemented by stages that need to see the outcome of
// a request (e.g. login protection counting upstream 401s). The server calls
// ObserveResponse, in reverse stage order, for every stage of the route whose
// Handle ran, after the response is final and before it is sent.
type ResponseObserver interface {
	ObserveResponse(ctx *fasthttp.RequestCtx, r *Request)
}

// Request is the per-request state that stages share. The server resets and
// reuses it; stages must not keep references to it or to its slices.
type Request struct {
	Start    time.Time
	ClientIP netip.Addr // the TCP peer, or the first untrusted hop when the peer is a trusted proxy
	PeerIP   netip.Addr // the TCP peer, always
	TLS      bool

	// HeadUnread is set for a request refused before its head was parsed
	// whole (a framing violation, a timeout): its method and path are
	// not known, and the log says none rather than fasthttp's defaults.
	HeadUnread bool

	// Path is the normalized request path (no query); stages match and
	// forward this, never the raw URI.
	Path []byte
	// RoutePath is the path the route was matched on when it differs from
	// Path (';' parameters cut); empty otherwise.
	RoutePath []byte

	RouteName string
	Upstream  string // address of the target that served the request, if any
	Identity  string // authenticated client identity, when known

	RequestID []byte
	// TraceParent is the traceparent the upstream gets: the request's
	// trace with the gateway's own span as parent.
	TraceParent []byte
	// ParentID is the span id of the caller's span (the parent-id of the
	// traceparent it sent); zero when the gateway started the trace.
	ParentID [8]byte
	// HeaderCount is how many header fields the client sent, counted
	// before the gateway adds or removes any.
	HeaderCount int

	// JSON is the request body parsed by the validation stage, nil when no
	// stage parsed it; later stages (the WAF) inspect it instead of parsing
	// again. It is valid until the request ends.
	JSON       *fastjson.Value
	jsonReader *jsonbody.Reader // kept across requests: its parser's memory is reused

	Reason Reason // why the gateway denied or failed the request; ReasonNone when it did not
	// Detail is the precise cause behind Reason (e.g. "token_expired") for
	// the access log and metrics only, never the response. Static strings
	// only: it is set per request.
	Detail string
	// Location names where in the request a WAF detection matched
	// ("query.q", "json./items/0/name", "crs.942100"), for the access log
	// only, never the response.
	Location []byte

	// Principal is the authenticated client, nil when anonymous. It is
	// owned by the authenticating stage (often a cache entry) and immutable.
	Principal *Principal

	// Notice is what a stage did to a request it let pass that the
	// security event stream records; NoticeNone otherwise.
	Notice Notice

	// BanSource and BanUntil name the ban this request caused (the
	// source as enforce.FormatSource writes it), for its security event;
	// empty when it caused none.
	BanSource string
	BanUntil  time.Time
}

// Notice is a security-relevant fact about a request that was not denied.
type Notice uint8

const (
	NoticeNone Notice = iota
	// NoticeLimitDelayed: a rate limit held the request back (80-100%).
	NoticeLimitDelayed
	// NoticeLoginFailed: the upstream answered a login attempt 401 or 403.
	NoticeLoginFailed
)

var noticeNames = [...]string{"", "rate_limit_delayed", "login_failed"}

// String returns the stable code, used as the event's reason.
func (n Notice) String() string {
	if int(n) < len(noticeNames) {
		return noticeNames[n]
	}
	return "unknown"
}

// IdentityKind says what authenticated a principal.
type IdentityKind uint8

const (
	IdentityNone IdentityKind = iota
	IdentityAPIKey
	IdentityJWT
	IdentityCert
	IdentityHMAC
)

var identityKindNames = [...]string{"none", "api_key", "jwt", "cert", "hmac"}

func (k IdentityKind) String() string {
	if int(k) < len(identityKindNames) {
		return identityKindNames[k]
	}
	return "unknown"
}

// Principal is an authenticated client. Values are built when a credential
// is first verified and shared by every request that presents it again, so
// they must never be modified after publication.
type Principal struct {
	Kind    IdentityKind
	Subject string   // JWT sub (or configured claim), certificate subject, or client name of an API/HMAC key
	KeyID   string   // API or HMAC key id; never the key itself
	Tier    string   // rate-limit tier, when the credential carries one
	Scopes  []string // granted scopes
	// RateKey is the identity rate limits are keyed on: kind-prefixed so an
	// API key id can never collide with a JWT subject.
	RateKey string
}

// Reset clears r for reuse, keeping slice capacity.
func (r *Request) Reset() {
	*r = Request{
		Path:        r.Path[:0],
		RoutePath:   r.RoutePath[:0],
		RequestID:   r.RequestID[:0],
		TraceParent: r.TraceParent[:0],
		Location:    r.Location[:0],
		jsonReader:  r.jsonReader,
	}
}

// JSONReader returns the request's JSON reader, whose parsed values live
// as long as the request.
func (r *Request) JSONReader() *jsonbody.Reader {
	if r.jsonReader == nil {
		r.jsonReader = &jsonbody.Reader{}
	}
	return r.jsonReader
}
