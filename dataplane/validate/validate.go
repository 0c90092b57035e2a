// Package validate is a route's request validation stage: the request
// rules a route declares (allowed media types, body size, no content
// encoding, limits on header count, URI length and query parameters), and,
// when the route has a JSON schema, a body that is exactly one well-formed
// UTF-8 JSON value (a charset other than utf-8 declared: 415; a byte order
// mark: malformed) checked by the schema compiled at load.
//
// The package must never forward a request it refused, never echo request
// data in a refusal (the 400 lists schema locations and static reasons),
// and never allocate per request in steady state.
package validate

import (
	"bytes"
	"errors"
	"fmt"
	"iter"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/headers"
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// Defaults of the limits of a validated route.
const (
	DefaultMaxHeaders     = 100
	DefaultMaxURIBytes    = 8192
	DefaultMaxQueryParams = 100
)

// Rules is one route's request rules. Zero limits are off.
type Rules struct {
	Route string
	// MediaTypes are the Content-Types a request body may have, as
	// "type/subtype" or "type/*" (compared ignoring case and parameters
	// such as charset). Empty: any, when the route has no JSON body check.
	MediaTypes []string
	// MaxBodyBytes is enforced before the body is read (the server asks
	// BodyLimit at header time); repeated here for bodies that got in.
	MaxBodyBytes int
	// MaxHeaders bounds the header fields the client sent
	// (pipeline.Request.HeaderCount, which the headers stage counts).
	MaxHeaders     int
	MaxURIBytes    int
	MaxQueryParams int
	// RefuseEncoded refuses bodies with a Content-Encoding (validated
	// routes: a compressed body cannot be checked without inflating it).
	RefuseEncoded bool
	// Body checks the body, when set (JSON well-formedness and schema).
	Body BodyChecker
}

// BodyChecker checks a request body after the request rules passed. It
// reports the refusal it wrote, or pipeline.Continue.
type BodyChecker interface {
	Check(ctx *fasthttp.RequestCtx, r *pipeline.Request) pipeline.Verdict
	// CheckHead runs the checks the head alone decides (a charset, an
	// undeclared operation or media type), for a head that waits for a
	// 100 Continue; Check runs them again with the body.
	CheckHead(ctx *fasthttp.RequestCtx, r *pipeline.Request) pipeline.Verdict
}

// Stage enforces Rules. Immutable once built.
type Stage struct {
	route          string
	types          []mediaType
	maxBody        int
	maxHeaders     int
	maxURI         int
	maxQueryParams int
	refuseEncoded  bool
	body           BodyChecker
}

var _ pipeline.Stage = (*Stage)(nil)

type mediaType struct {
	typ, sub []byte // lower case; sub "*" matches any subtype
}

// Refusal details, for the access log and metrics.
const (
	DetailMediaTypeMissing = "content_type_missing"
	DetailMediaTypeOther   = "content_type_not_allowed"
	DetailContentEncoding  = "content_encoding_not_allowed"
	DetailBodyTooLarge     = "body_over_route_limit"
	DetailHeadersTooMany   = "headers_over_route_limit"
	DetailURITooLong       = "uri_over_route_limit"
	DetailQueryTooMany     = "query_params_over_route_limit"
)

// New validates rules and builds the stage, reporting every problem.
func New(rules Rules) (*Stage, error) {
	s := &Stage{route: rules.Route, maxBody: rules.MaxBodyBytes, maxHeaders: rules.MaxHeaders,
		maxURI: rules.MaxURIBytes, maxQueryParams: rules.MaxQueryParams, refuseEncoded: rules.RefuseEncoded, body: rules.Body}
	var errs []error
	for i, t := range rules.MediaTypes {
		mt, err := parseMediaType(t)
		if err != nil {
			errs = append(errs, fmt.Errorf("content_types[%d]: %w", i, err))
			continue
		}
		s.types = append(s.types, mt)
	}
	for _, l := range []struct {
		name string
		n    int
	}{{"max_body_bytes", s.maxBody}, {"max_headers", s.maxHeaders}, {"max_uri_bytes", s.maxURI}, {"max_query_params", s.maxQueryParams}} {
		if l.n < 0 {
			errs = append(errs, fmt.Errorf("%s: must be >= 0, got %d", l.name, l.n))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("build validate stage %q: %w", rules.Route, errors.Join(errs...))
	}
	return s, nil
}

// semicolonParams counts the parameters of query q as the servers that
// also split at ';' read them (Rack 2, Python before 3.9.2, Go before
// 1.17): each '&' argument, plus each SemicolonPieces one ("a=1;b=2" is
// two; "fields=id;name", a value, one). 0 when q has no ';'.
func semicolonParams(q []byte) int {
	if bytes.IndexByte(q, ';') < 0 {
		return 0
	}
	n := 0
	for arg := range bytes.SplitSeq(q, []byte{'&'}) {
		if len(arg) > 0 {
			n++
		}
	}
	for range SemicolonPieces(q) {
		n++
	}
	return n
}

// SemicolonPieces yields the "name=value" pieces after a ';' inside the
// '&' arguments of query q: the parameters that only servers which also
// split at ';' read. A piece without '=' (or with an empty name) is part
// of a value to them too, and is not yielded.
func SemicolonPieces(q []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for len(q) > 0 {
			var arg []byte
			arg, q, _ = bytes.Cut(q, []byte{'&'})
			_, rest, found := bytes.Cut(arg, []byte{';'})
			for found {
				var piece []byte
				piece, rest, found = bytes.Cut(rest, []byte{';'})
				if bytes.IndexByte(piece, '=') > 0 && !yield(piece) {
					return
				}
			}
		}
	}
}

// parseMediaType parses a configured "type/subtype" or "type/*".
func parseMediaType(s string) (mediaType, error) {
	typ, sub, ok := bytes.Cut(bytes.ToLower([]byte(s)), []byte{'/'})
	if !ok || !isToken(typ) || (!isToken(sub) && string(sub) != "*") || string(typ) == "*" {
		return mediaType{}, fmt.Errorf("media type %q: want type/subtype or type/*", s)
	}
	return mediaType{typ: typ, sub: sub}, nil
}

// Name returns "validate".
func (s *Stage) Name() string { return "validate" }

// Handle implements pipeline.Stage.
func (s *Stage) Handle(ctx *fasthttp.RequestCtx, r *pipeline.Request) pipeline.Verdict {
	if v := s.checkRules(ctx, r); v != pipeline.Continue {
		return v
	}
	if s.body != nil {
		return s.body.Check(ctx, r)
	}
	return pipeline.Continue
}

// CheckHead implements pipeline.HeadChecker: the request rules and what
// the body check can decide from the head.
func (s *Stage) CheckHead(ctx *fasthttp.RequestCtx, r *pipeline.Request) pipeline.Verdict {
	if v := s.checkRules(ctx, r); v != pipeline.Continue || s.body == nil {
		return v
	}
	return s.body.CheckHead(ctx, r)
}

// checkRules checks the limits on the request-target, header count, query
// parameters and body size, and the body's media type and coding, all
// read from the head (a body that arrived counts for the size).
func (s *Stage) checkRules(ctx *fasthttp.RequestCtx, r *pipeline.Request) pipeline.Verdict {
	req := &ctx.Request
	h := &req.Header
	if s.maxURI > 0 && len(h.RequestURI()) > s.maxURI {
		return refuse(ctx, r, fasthttp.StatusRequestURITooLong, pipeline.ReasonURITooLong, DetailURITooLong)
	}
	if s.maxHeaders > 0 && r.HeaderCount > s.maxHeaders {
		return refuse(ctx, r, fasthttp.StatusRequestHeaderFieldsTooLarge, pipeline.ReasonHeadersTooMany, DetailHeadersTooMany)
	}
	if s.maxQueryParams > 0 && max(ctx.QueryArgs().Len(), semicolonParams(ctx.URI().QueryString())) > s.maxQueryParams {
		return refuse(ctx, r, fasthttp.StatusBadRequest, pipeline.ReasonQueryParamsTooMany, DetailQueryTooMany)
	}
	body := req.Body()
	if s.maxBody > 0 && len(body) > s.maxBody {
		return refuse(ctx, r, fasthttp.StatusRequestEntityTooLarge, pipeline.ReasonBodyTooLarge, DetailBodyTooLarge)
	}
	if hasBody(h, body) {
		// A compressed body cannot be checked without inflating it, which
		// is a decompression-bomb risk: validated routes take none.
		if s.refuseEncoded {
			if _, n := headers.ContentCodings(h); n > 0 {
				return refuse(ctx, r, fasthttp.StatusUnsupportedMediaType, pipeline.ReasonMediaTypeUnsupported, DetailContentEncoding)
			}
		}
		if len(s.types) > 0 {
			ct := h.ContentType()
			if len(ct) == 0 {
				return refuse(ctx, r, fasthttp.StatusUnsupportedMediaType, pipeline.ReasonMediaTypeUnsupported, DetailMediaTypeMissing)
			}
			if !s.allowed(ct) {
				return refuse(ctx, r, fasthttp.StatusUnsupportedMediaType, pipeline.ReasonMediaTypeUnsupported, DetailMediaTypeOther)
			}
		}
	}
	return pipeline.Continue
}

// BodyLimit is the route's body limit (0: the server's), for the server to
// apply before the body is read.
func (s *Stage) BodyLimit() int { return s.maxBody }

// hasBody reports whether the request carries a body: one that arrived, or
// a declared length or chunked encoding (an empty chunked body still
// declared one, and its type is checked).
func hasBody(h *fasthttp.RequestHeader, body []byte) bool {
	if len(body) > 0 || h.ContentLength() > 0 || h.ContentLength() == -1 {
		return true
	}
	return EmptyBodyDeclared(h)
}

// EmptyBodyDeclared reports whether a request whose body turned out empty
// still declared content: a Content-Type or Content-Encoding with a body
// that was announced (chunked: once read, fasthttp reports its length, 0,
// and only the head as received still says chunked). An empty chunked
// DELETE without a type is no body, as one with Content-Length: 0 is.
func EmptyBodyDeclared(h *fasthttp.RequestHeader) bool {
	if len(h.ContentType()) == 0 && len(h.Peek(fasthttp.HeaderContentEncoding)) == 0 {
		return false
	}
	return HasBody(h)
}

// HasBody reports whether the head as received declares a body: a
// Transfer-Encoding field, or a Content-Length other than 0.
func HasBody(h *fasthttp.RequestHeader) bool {
	for name, value := range headers.RawFields(h.RawHeaders()) {
		switch {
		case bytes.EqualFold(name, []byte("transfer-encoding")):
			return true
		case bytes.EqualFold(name, []byte("content-length")):
			if v := bytes.TrimLeft(bytes.TrimSpace(value), "0"); len(v) > 0 {
				return true
			}
		}
	}
	return false
}

// allowed reports whether the Content-Type value ct names an allowed media
// type, ignoring case, whitespace and parameters.
func (s *Stage) allowed(ct []byte) bool {
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = bytes.TrimSpace(ct)
	typ, sub, ok := bytes.Cut(ct, []byte{'/'})
	// Both halves must be tokens (RFC 9110 media-type): a range rule such
	// as text/* matched "text/plain,application/xml" and "text/" before.
	if !ok || !isToken(typ) || !isToken(sub) {
		return false
	}
	for _, m := range s.types {
		if bytes.EqualFold(typ, m.typ) && (string(m.sub) == "*" || bytes.EqualFold(sub, m.sub)) {
			return true
		}
	}
	return false
}

func refuse(ctx *fasthttp.RequestCtx, r *pipeline.Request, status int, reason pipeline.Reason, detail string) pipeline.Verdict {
	v := pipeline.Deny(ctx, r, status, reason)
	r.Detail = detail
	return v
}

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tchar[c] {
			return false
		}
	}
	return true
}

var tchar = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range []byte("!#$%&'*+-.^_`|~") {
		t[c] = true
	}
	return t
}()
