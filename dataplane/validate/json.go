package validate

import (
	"errors"
	"fmt"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/headers"
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/dataplane/validate/jsonbody"
	"github.com/edgeguard/edgeguard/dataplane/validate/schema"
)

// JSONCheck refuses a body that is not exactly one well-formed JSON value
// (jsonbody) or, with a schema, that the schema does not accept. The parsed
// body is left in pipeline.Request.JSON for later stages.
type JSONCheck struct {
	route    string
	maxDepth int
	schema   *schema.Schema
	refused  map[string]*metrics.Counter
}

var _ BodyChecker = (*JSONCheck)(nil)

// DetailSchema is the access-log detail of a body the schema refused.
const DetailSchema = "schema_violation"

// DetailBodyMissing is the detail of a request refused (400) for having no
// body where the route's JSON check wants one: a POST, PUT or PATCH, or any
// request that declares a Content-Type. An empty body is no JSON value.
const DetailBodyMissing = "body_missing"

// DetailCharset is the detail of a JSON body refused (415) because its
// Content-Type declares a charset other than UTF-8: the body is checked as
// UTF-8, and an upstream that honours the label (Spring, for one, decodes
// by it) would read another document, in UTF-7 one with "+ADw-" for '<'.
const DetailCharset = "charset_not_utf8"

// UTF8Declared reports whether the Content-Type value ct lets a JSON body
// be read as UTF-8: no charset parameter, or utf-8.
func UTF8Declared(ct []byte) bool {
	cs, _ := headers.ContentCharset(ct)
	return cs == headers.CharsetNone || cs == headers.CharsetUTF8
}

// NewJSONCheck builds the check; s may be nil (well-formedness only).
func NewJSONCheck(route string, maxDepth int, s *schema.Schema) *JSONCheck {
	j := &JSONCheck{route: route, maxDepth: maxDepth, schema: s, refused: map[string]*metrics.Counter{}}
	for _, e := range []*jsonbody.Error{jsonbody.ErrMalformed, jsonbody.ErrTrailingData, jsonbody.ErrDuplicateKey,
		jsonbody.ErrTooDeep, jsonbody.ErrInvalidUTF8} {
		j.refused[e.Code()] = refusedCounter(route, e.Code())
	}
	j.refused[DetailSchema] = refusedCounter(route, DetailSchema)
	j.refused[DetailCharset] = refusedCounter(route, DetailCharset)
	j.refused[DetailBodyMissing] = refusedCounter(route, DetailBodyMissing)
	return j
}

func refusedCounter(route, cause string) *metrics.Counter {
	return metrics.GetOrCreateCounter(fmt.Sprintf(`edgeguard_validation_refused_total{route=%q,cause=%q}`, route, cause))
}

var (
	jsonViolations = []byte(`,"violations":[`)
	jsonPointer    = []byte(`{"pointer":`)
	jsonReason     = []byte(`,"reason":`)
	jsonEnd        = []byte(`]`)
)

// bodyExpected reports whether a request without a body still owes the
// JSON check one: its method sends a body (POST, PUT, PATCH) or it
// declares a Content-Type.
func bodyExpected(h *fasthttp.RequestHeader) bool {
	return h.IsPost() || h.IsPut() || h.IsPatch() || len(h.ContentType()) > 0
}

// CheckHead implements BodyChecker: a body declared in another charset.
func (j *JSONCheck) CheckHead(ctx *fasthttp.RequestCtx, r *pipeline.Request) pipeline.Verdict {
	h := &ctx.Request.Header
	if hasBody(h, nil) && !UTF8Declared(h.ContentType()) {
		j.refused[DetailCharset].Inc()
		return refuse(ctx, r, fasthttp.StatusUnsupportedMediaType, pipeline.ReasonMediaTypeUnsupported, DetailCharset)
	}
	return pipeline.Continue
}

// Check implements BodyChecker.
func (j *JSONCheck) Check(ctx *fasthttp.RequestCtx, r *pipeline.Request) pipeline.Verdict {
	body := ctx.Request.Body()
	if len(body) == 0 {
		if !hasBody(&ctx.Request.Header, body) && !bodyExpected(&ctx.Request.Header) {
			return pipeline.Continue // a GET, a DELETE: no body to check
		}
		j.refused[DetailBodyMissing].Inc()
		return refuse(ctx, r, fasthttp.StatusBadRequest, pipeline.ReasonBodyInvalid, DetailBodyMissing)
	}
	if !UTF8Declared(ctx.Request.Header.ContentType()) {
		j.refused[DetailCharset].Inc()
		return refuse(ctx, r, fasthttp.StatusUnsupportedMediaType, pipeline.ReasonMediaTypeUnsupported, DetailCharset)
	}
	v, err := r.JSONReader().Read(body, j.maxDepth)
	if err != nil {
		detail := jsonbody.ErrMalformed.Code()
		var je *jsonbody.Error
		if errors.As(err, &je) {
			detail = je.Code()
		}
		j.refused[detail].Inc()
		return refuse(ctx, r, fasthttp.StatusBadRequest, pipeline.ReasonBodyInvalid, detail)
	}
	r.JSON = v
	if j.schema == nil {
		return pipeline.Continue
	}
	if j.schema.Valid(v) {
		return pipeline.Continue
	}
	violations := j.schema.Validate(v, make([]schema.Violation, 0, schema.MaxViolations)) // refusals only
	j.refused[DetailSchema].Inc()
	// The response lists where the body failed and why, in the schema's
	// words only: pointers name schema properties and array indexes, never
	// the request's own keys or values.
	pipeline.DenyOpen(ctx, r, fasthttp.StatusBadRequest, pipeline.ReasonBodyInvalid)
	r.Detail = DetailSchema
	resp := &ctx.Response
	resp.AppendBody(jsonViolations)
	for i := range violations {
		if i > 0 {
			resp.AppendBody(comma)
		}
		resp.AppendBody(jsonPointer)
		appendJSONString(resp, violations[i].Pointer)
		resp.AppendBody(jsonReason)
		appendJSONString(resp, violations[i].Reason)
		resp.AppendBody(closeBrace)
	}
	resp.AppendBody(jsonEnd)
	return pipeline.DenyClose(ctx)
}

var (
	comma      = []byte(",")
	closeBrace = []byte("}")
)

const hexDigits = "0123456789abcdef"

// appendJSONString appends s, a string from the schema (a pointer or a
// reason), as a JSON string.
func appendJSONString(resp *fasthttp.Response, s string) {
	var scratch [128]byte
	resp.AppendBody(AppendQuoted(scratch[:0], s))
}

// AppendQuoted appends s, valid UTF-8, to dst as a JSON string.
func AppendQuoted[T string | []byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	dst = AppendEscaped(dst, s)
	return append(dst, '"')
}

// AppendEscaped appends s, valid UTF-8, escaped for a JSON string.
func AppendEscaped[T string | []byte](dst []byte, s T) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
