package openapi

import (
	"bytes"
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/edgeguard/edgeguard/dataplane/headers"
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/dataplane/validate"
	"github.com/edgeguard/edgeguard/dataplane/validate/jsonbody"
	"github.com/edgeguard/edgeguard/dataplane/validate/schema"
)

// Check validates requests against the operations of an OpenAPI
// document. It is immutable and safe for concurrent use.
type Check struct {
	route              string
	base               string // "" or "/api/v1", no trailing slash
	root               *node
	maxSegs            int
	operations         int
	maxDepth           int
	rejectUnknownQuery bool
	refused            map[string]*metrics.Counter
	security           []string // pointers of non-empty security requirements
}

// Security lists the document's security requirements (pointers such as
// "/security" or "/paths/~1admin/get/security"), which validation does
// not enforce: authentication is the route's auth section.
func (c *Check) Security() []string { return c.security }

var _ validate.BodyChecker = (*Check)(nil)

// Refusal details, for the access log and the
// edgeguard_validation_refused_total{route,cause} counter. Bodies that
// are not well-formed JSON are counted under the jsonbody codes, bodies
// the schema refuses under validate.DetailSchema.
const (
	DetailNoOperation        = "openapi_no_operation"
	DetailMethodNotAllowed   = "openapi_method_not_allowed"
	DetailParameter          = "openapi_parameter_invalid"
	DetailBodyMissing        = "openapi_body_missing"
	DetailBodyNotAllowed     = "openapi_body_not_allowed"
	DetailContentTypeMissing = "openapi_content_type_missing"
	DetailMediaType          = "openapi_media_type_not_allowed"
)

// Static reasons of violations that do not come from a schema.
const (
	ReasonRequired       = "required: missing"
	ReasonRepeated       = "repeated: a single value is expected"
	ReasonEncoding       = "encoding: not valid UTF-8 once decoded"
	ReasonEscape         = "encoding: a '%' not followed by two hex digits, which servers read differently"
	ReasonUnknownQuery   = "query: parameter not declared by the operation"
	ReasonVariant        = "name: a variant of the declared name (case, brackets, encoding), which upstreams may read as it"
	ReasonBodyNotAllowed = "requestBody: the operation takes no body"
	ReasonFormFields     = "form: more fields than the gateway reads (1024)"
)

// maxViolations is the most violations a 400 lists.
const maxViolations = schema.MaxViolations

// operation is the request side of one operation.
type operation struct {
	loc    string // its JSON pointer, e.g. "/paths/~1orders/post"
	id     string // operationId
	path   []param
	query  []param
	header []param
	cookie []param
	body   *body // nil: the operation declares no request body
}

// param is one parameter. Its value, a string on the wire, is read as
// the JSON value its schema's types call for (a number where number or
// integer is allowed and the text is one, true or false where boolean
// is, null where null is and string is not, a string otherwise), and
// that value is validated by the compiled schema: enum, bounds, pattern
// and format apply as they would to a body.
type param struct {
	name       string
	nameB      []byte
	fold       string // query and cookie parameters: queryKey of the folded name, for isVariant
	in         string
	pointer    string // "/query/limit"
	required   bool
	allowEmpty bool
	array      bool    // form, exploded: ?tag=a&tag=b
	kinds      typeSet // what a value (an item, for arrays) may be read as
	seg        int     // path parameters: the segment of the variable
	schemaPtr  string
	schema     *schema.Schema
}

// body is an operation's request body.
type body struct {
	required bool
	media    []media // most specific first
}

// media is one declared media type or range.
type media struct {
	typ, sub  string // lower case; "*" ranges; sub "*+json" for a suffix range
	json      bool   // read as JSON, and checked by schema when it has one
	schemaPtr string
	schema    *schema.Schema
	// A form (application/x-www-form-urlencoded) with a schema is read
	// into the object its fields' declared types make of it, then
	// checked by the schema; a text/* body with a schema, as a string.
	form   bool
	fields []formField
	extra  typeSet // what an undeclared field is read as (additionalProperties' types)
	text   bool
}

// formField is a property of a form body's schema.
type formField struct {
	name    string
	fold    string // queryKey of the folded name, for isVariant
	pointer string // "/amount", under /body
	array   bool   // repeated fields make an array
	kinds   typeSet
}

func (m media) rank() int {
	switch {
	case m.typ == "*":
		return 3
	case m.sub == "*":
		return 2
	case m.sub[0] == '*':
		return 1
	}
	return 0
}

// matches reports whether the request's media type typ/sub is in m.
func (m *media) matches(typ, sub []byte) bool {
	if m.typ == "*" {
		return true
	}
	if !equalFold(typ, m.typ) {
		return false
	}
	switch {
	case m.sub == "*":
		return true
	case m.sub[0] == '*': // *+json
		suffix := m.sub[1:]
		return len(sub) > len(suffix) && equalFold(sub[len(sub)-len(suffix):], suffix)
	}
	return equalFold(sub, m.sub)
}

// equalFold compares ASCII case-insensitively; s is lower case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

func (c *Check) initCounters() {
	c.refused = map[string]*metrics.Counter{}
	for _, cause := range []string{DetailNoOperation, DetailMethodNotAllowed, DetailParameter, DetailBodyMissing,
		DetailBodyNotAllowed, DetailContentTypeMissing, DetailMediaType, validate.DetailSchema, validate.DetailCharset,
		jsonbody.ErrMalformed.Code(), jsonbody.ErrTrailingData.Code(), jsonbody.ErrDuplicateKey.Code(),
		jsonbody.ErrTooDeep.Code(), jsonbody.ErrInvalidUTF8.Code()} {
		c.refused[cause] = metrics.GetOrCreateCounter(
			fmt.Sprintf(`edgeguard_validation_refused_total{route=%q,cause=%q}`, c.route, cause))
	}
}

// BasePath returns the prefix the document's paths are relative to ("" is
// the root).
func (c *Check) BasePath() string { return c.base }

// Operations returns the number of operations compiled.
func (c *Check) Operations() int { return c.operations }

// scratch is one request's working memory, pooled.
type scratch struct {
	caps   []span
	dec    []byte // a decoded path or header value
	name   []byte // a query name, folded (foldQueryName)
	text   []byte // a parameter value as JSON text
	out    []byte // the violations, as JSON
	parser fastjson.Parser
	sv     []schema.Violation
	viol   []violation
	args   fasthttp.Args // a form body's fields
	semi   []byte        // a parameter name read after a ';' (checkSemicolonArgs)
}

// violation is one reason to refuse: prefix and pointer make the JSON
// pointer ("/query/limit" and "", "/body" and "/items/0/qty").
type violation struct {
	prefix, pointer, reason string
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// add records a violation and reports whether there is room for more.
func (sc *scratch) add(prefix, pointer, reason string) bool {
	if len(sc.viol) < maxViolations {
		sc.viol = append(sc.viol, violation{prefix, pointer, reason})
	}
	return len(sc.viol) < maxViolations
}

// Check implements validate.BodyChecker: it finds the request's
// operation and checks its parameters and body.
func (c *Check) Check(ctx *fasthttp.RequestCtx, r *pipeline.Request) pipeline.Verdict {
	return c.run(ctx, r, false)
}

// CheckHead implements validate.BodyChecker: everything but the body's
// content (operation, parameters, a required body, its media type and
// charset).
func (c *Check) CheckHead(ctx *fasthttp.RequestCtx, r *pipeline.Request) pipeline.Verdict {
	return c.run(ctx, r, true)
}

func (c *Check) run(ctx *fasthttp.RequestCtx, r *pipeline.Request, headOnly bool) pipeline.Verdict {
	path := r.Path
	if len(r.RoutePath) > 0 {
		path = r.RoutePath // ';' parameters cut
	}
	rel, ok := c.relative(path)
	if !ok {
		return c.deny(ctx, r, fasthttp.StatusNotFound, pipeline.ReasonNoRoute, DetailNoOperation)
	}
	sc := scratchPool.Get().(*scratch)
	if cap(sc.caps) < c.maxSegs {
		sc.caps = make([]span, c.maxSegs)
	}
	sc.caps = sc.caps[:cap(sc.caps)]
	v := c.check(ctx, r, rel, sc, headOnly)
	sc.viol = sc.viol[:0]
	if cap(sc.text) > maxKeptText {
		sc.text = nil // a pooled scratch keeps no large form's JSON
	}
	scratchPool.Put(sc)
	return v
}

var rootPath = []byte("/")

// relative returns path without the base path.
func (c *Check) relative(path []byte) ([]byte, bool) {
	if c.base == "" {
		return path, len(path) > 0 && path[0] == '/'
	}
	if len(path) < len(c.base) || string(path[:len(c.base)]) != c.base {
		return nil, false
	}
	rel := path[len(c.base):]
	switch {
	case len(rel) == 0:
		return rootPath, true
	case rel[0] == '/':
		return rel, true
	}
	return nil, false
}

func (c *Check) check(ctx *fasthttp.RequestCtx, r *pipeline.Request, rel []byte, sc *scratch, headOnly bool) pipeline.Verdict {
	e := c.root.match(rel, 1, 0, sc.caps)
	if e == nil {
		return c.deny(ctx, r, fasthttp.StatusNotFound, pipeline.ReasonNoRoute, DetailNoOperation)
	}
	m := methodIndex(ctx.Method())
	var op *operation
	if m >= 0 {
		op = e.ops[m]
		if op == nil && m == methodHead {
			op = e.ops[methodGet]
		}
	}
	if op == nil {
		v := c.deny(ctx, r, fasthttp.StatusMethodNotAllowed, pipeline.ReasonMethodNotAllowed, DetailMethodNotAllowed)
		ctx.Response.Header.SetCanonical(headerAllow, e.allow)
		return v
	}
	sc.viol = sc.viol[:0]
	c.checkParams(ctx, op, rel, sc)
	if len(sc.viol) > 0 {
		return c.refuse(ctx, r, DetailParameter, sc)
	}
	return c.checkBody(ctx, r, op, sc, headOnly)
}

var headerAllow = []byte("Allow")

func methodIndex(m []byte) int {
	switch string(m) {
	case "GET":
		return 0
	case "PUT":
		return 1
	case "POST":
		return 2
	case "DELETE":
		return 3
	case "OPTIONS":
		return 4
	case "HEAD":
		return 5
	case "PATCH":
		return 6
	case "TRACE":
		return 7
	}
	return -1
}

// checkParams records the violations of the operation's parameters.
func (c *Check) checkParams(ctx *fasthttp.RequestCtx, op *operation, rel []byte, sc *scratch) {
	for i := range op.path {
		p := &op.path[i]
		s := sc.caps[p.seg]
		var ok bool
		sc.dec, ok = percentDecode(sc.dec[:0], rel[s.start:s.end])
		if !ok {
			sc.add(p.pointer, "", ReasonEncoding)
			continue
		}
		c.checkValue(p, sc.dec, sc)
	}
	if len(op.query) > 0 || c.rejectUnknownQuery {
		q := ctx.URI().QueryString()
		if badEscape(q) {
			// Go's url.ParseQuery and Tomcat drop a pair with one, PHP
			// and fasthttp keep it as sent: a required "?s=%zz" would be
			// present here and missing there.
			sc.add("/query", "", ReasonEscape)
		}
		c.checkQuery(ctx.QueryArgs(), op, sc)
		if bytes.IndexByte(q, ';') >= 0 {
			c.checkSemicolonArgs(q, op, sc)
		}
	}
	// A header or cookie parameter sent twice is refused: the check would
	// read one value, and an upstream may act on the other (the last, or
	// both joined with a comma).
	h := &ctx.Request.Header
	for i := range op.header {
		p := &op.header[i]
		v, n := headerValue(h, p.nameB)
		if n > 1 {
			sc.add(p.pointer, "", ReasonRepeated)
			continue
		}
		c.checkPresent(p, v, sc)
	}
	for i := range op.cookie {
		p := &op.cookie[i]
		v, n, variants := cookieValue(h, p, sc)
		switch {
		case n > 1:
			sc.add(p.pointer, "", ReasonRepeated)
			continue
		case variants > 0:
			sc.add(p.pointer, "", ReasonVariant)
			continue
		}
		c.checkPresent(p, v, sc)
	}
}

// headerValue returns the first value of the header name and how many
// fields carry it, counting every spelling lenient servers read as name
// (any case, '_' for '-', as CGI, WSGI and PHP fold them).
func headerValue(h *fasthttp.RequestHeader, name []byte) ([]byte, int) {
	var first []byte
	n := 0
	for k, v := range h.All() {
		if !headers.FoldedEqual(k, name) {
			continue
		}
		if n == 0 {
			first = v
		}
		n++
	}
	return first, n
}

// cookieValue returns the first value of the cookie p, how many cookies
// of that name the request carries, across all Cookie headers, and how
// many whose name an upstream may read as p's (isVariant: ASP.NET reads
// cookie names ignoring case, PHP "se.ss" and "se[ss" as se_ss), hidden
// after a comma included ("a=1, sess=x": ASP.NET Core, older Rack and
// Jetty split cookies on ',' too).
func cookieValue(h *fasthttp.RequestHeader, p *param, sc *scratch) (first []byte, n, variants int) {
	for k, v := range h.Cookies() {
		for seg := range headers.CookiesAfterCommas(k, v) {
			sc.name = foldQueryName(sc.name[:0], seg)
			if isVariant(sc.name, p.fold) {
				variants++
			}
		}
		if string(k) != p.name {
			sc.name = foldQueryName(sc.name[:0], k)
			if isVariant(sc.name, p.fold) {
				variants++
			}
			continue
		}
		if n == 0 {
			first = v
		}
		n++
	}
	return first, n, variants
}

func (c *Check) checkPresent(p *param, v []byte, sc *scratch) {
	if len(v) == 0 {
		if p.required {
			sc.add(p.pointer, "", ReasonRequired)
		}
		return
	}
	c.checkValue(p, v, sc)
}

func (c *Check) checkQuery(args *fasthttp.Args, op *operation, sc *scratch) {
	for i := range op.query {
		p := &op.query[i]
		n := 0
		var first []byte
		if p.array {
			sc.text = append(sc.text[:0], '[')
		}
		bad := false
		for k, v := range args.All() {
			if string(k) != p.name {
				continue
			}
			n++
			if n == 1 {
				first = v
			}
			if p.array {
				if !utf8.Valid(v) {
					bad = true
				}
				if n > 1 {
					sc.text = append(sc.text, ',')
				}
				sc.text = appendValue(sc.text, v, p.kinds)
			}
		}
		switch {
		case n == 0:
			if p.required {
				sc.add(p.pointer, "", ReasonRequired)
			}
		case bad:
			sc.add(p.pointer, "", ReasonEncoding)
		case n == 1 && len(first) == 0 && p.required && !p.allowEmpty:
			// allowEmptyValue is off: "?q=" or "?ids=" gives no required
			// value, as an empty header or cookie does not.
			sc.add(p.pointer, "", ReasonRequired)
		case p.array:
			sc.text = append(sc.text, ']')
			c.validate(p, sc)
		case n > 1:
			sc.add(p.pointer, "", ReasonRepeated)
		case len(first) == 0 && p.allowEmpty:
		default:
			c.checkValue(p, first, sc)
		}
	}
	unknown := false
	for k := range args.All() {
		if declared(op.query, k) {
			continue
		}
		unknown = true
		if len(op.query) == 0 {
			break
		}
		// A name the operation does not declare but an upstream may read
		// as a declared one ("ID", "id[]", "%69d" decoded twice) would
		// carry a value past the declared parameter's check, or beside
		// it as a second value: refused, under the declared name.
		sc.name = foldQueryName(sc.name[:0], k)
		for i := range op.query {
			if isVariant(sc.name, op.query[i].fold) {
				sc.add(op.query[i].pointer, "", ReasonVariant)
				break
			}
		}
	}
	if unknown && c.rejectUnknownQuery {
		sc.add("/query", "", ReasonUnknownQuery) // never the name: it is request data
	}
}

// ReasonSemicolon refuses a declared parameter (or a variant of its name)
// that follows a ';' inside another parameter: Rack 2, Python before
// 3.9.2 and Go before 1.17 split the query at ';' and read it, past its
// check ("tag=x;limit=1000").
const ReasonSemicolon = "name: a declared parameter after ';', which some servers read as a separator"

// checkSemicolonArgs records the declared parameters that the servers
// which also split at ';' would read from q and this reading did not. A
// ';' inside a value ("range=1;5", "fields=id;name") passes: only a piece
// after a ';' that has a '=' is a parameter to those servers, and only a
// declared name among those matters.
func (c *Check) checkSemicolonArgs(q []byte, op *operation, sc *scratch) {
	for piece := range validate.SemicolonPieces(q) {
		k, _, _ := bytes.Cut(piece, []byte{'='})
		// Decoded as fasthttp decodes the names of the '&' reading.
		sc.semi = fasthttp.AppendUnquotedArg(sc.semi[:0], k)
		sc.name = foldQueryName(sc.name[:0], sc.semi)
		for i := range op.query {
			if string(sc.semi) == op.query[i].name || isVariant(sc.name, op.query[i].fold) {
				sc.add(op.query[i].pointer, "", ReasonSemicolon)
				break
			}
		}
	}
}

// maxFoldDecodes is how many more times foldQueryName percent-decodes a
// name that fasthttp decoded once: what an upstream that decodes again
// (a proxy, then the framework) would read.
const maxFoldDecodes = 3

var emptyBrackets = []byte("[]")

// isVariant reports whether a query name, folded, is a variant of the
// declared name whose key (queryKey) is key: the same key ("ID" for id,
// "id" for id[], "id[]" for id), or the key with a subscript ("id[0]",
// "id[x]": PHP, Rails and qs read them into id). A name with subscripts
// of its own (filter[status]) is matched whole, so filter[other] is not
// its variant.
func isVariant(folded []byte, key string) bool {
	k := queryKey(folded)
	if string(k) == key || len(folded) > len(key) && string(folded[:len(key)]) == key && folded[len(key)] == '[' {
		return true
	}
	rk, ok := rackName(folded)
	return ok && string(rk) == key
}

// rackName is the parameter Rack 2 (Rails up to 7.0) files a bracketed
// name under when it reads it as a plain or array parameter: brackets
// before the name and ']' after it are dropped ("[id]", "id]", "]id",
// "[id][]" are id). ok is false for a name without stray brackets or one
// Rack reads as nested.
func rackName(folded []byte) (name []byte, ok bool) {
	if bytes.IndexAny(folded, "[]") < 0 {
		return nil, false
	}
	i := 0
	for i < len(folded) && (folded[i] == '[' || folded[i] == ']') {
		i++
	}
	j := i
	for j < len(folded) && folded[j] != '[' && folded[j] != ']' {
		j++
	}
	name = folded[i:j]
	for j < len(folded) && folded[j] == ']' {
		j++
	}
	rest := folded[j:]
	return name, len(name) > 0 && (len(rest) == 0 || string(rest) == "[]")
}

// queryKey is a folded name without a trailing "[]", which PHP-style
// clients append to array parameters.
func queryKey(folded []byte) []byte { return bytes.TrimSuffix(folded, emptyBrackets) }

// foldQueryName appends to dst the name that upstream frameworks may read
// a query parameter's name as: percent-decoded up to maxFoldDecodes more
// times, cut at a NUL (C strings), trimmed of spaces, with ' ' and '.' as
// '_' (PHP), and case folded, ASCII and the non-ASCII letters that Java's
// case-insensitive comparisons fold to ASCII (ı, ſ, K).
func foldQueryName(dst, name []byte) []byte {
	start := len(dst)
	dst = append(dst, name...)
	for range maxFoldDecodes {
		b := dst[start:]
		if !hasPercentHex(b) {
			break
		}
		w := 0
		for i := 0; i < len(b); i++ {
			if b[i] == '%' && i+2 < len(b) && unhex(b[i+1]) >= 0 && unhex(b[i+2]) >= 0 {
				b[w] = byte(unhex(b[i+1])<<4 | unhex(b[i+2]))
				i += 2
			} else {
				b[w] = b[i]
			}
			w++
		}
		dst = dst[:start+w]
	}
	b := dst[start:]
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	b = bytes.TrimSpace(b)
	w := 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c == ' ' || c == '.':
			c = '_'
		case c >= 0x80:
			if r, n := utf8.DecodeRune(b[i:]); asciiFold(r) != 0 {
				c = asciiFold(r)
				i += n - 1
			}
		}
		b[w] = c
		w++
	}
	// PHP reads a '[' that no ']' closes as '_' ("a[b" is a_b).
	if i := bytes.IndexByte(b[:w], '['); i >= 0 && bytes.IndexByte(b[i:w], ']') < 0 {
		b[i] = '_'
	}
	copy(dst[start:], b[:w])
	return dst[:start+w]
}

// asciiFold returns the ASCII letter that case-insensitive comparisons
// fold r to, or 0: Java's equalsIgnoreCase upper-cases ı (U+0131) to I and
// ſ (U+017F) to S, and lower-cases the Kelvin sign (U+212A) to k.
func asciiFold(r rune) byte {
	switch r {
	case 0x131:
		return 'i'
	case 0x17f:
		return 's'
	case 0x212a:
		return 'k'
	}
	return 0
}

// badEscape reports whether b has a '%' that two hex digits do not follow.
func badEscape(b []byte) bool {
	for i := bytes.IndexByte(b, '%'); i >= 0; {
		if i+2 >= len(b) || unhex(b[i+1]) < 0 || unhex(b[i+2]) < 0 {
			return true
		}
		j := bytes.IndexByte(b[i+3:], '%')
		if j < 0 {
			return false
		}
		i += 3 + j
	}
	return false
}

func hasPercentHex(b []byte) bool {
	for i := bytes.IndexByte(b, '%'); i >= 0 && i+2 < len(b); {
		if unhex(b[i+1]) >= 0 && unhex(b[i+2]) >= 0 {
			return true
		}
		j := bytes.IndexByte(b[i+1:], '%')
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

func declared(ps []param, name []byte) bool {
	for i := range ps {
		if string(name) == ps[i].name {
			return true
		}
	}
	return false
}

// checkValue checks one scalar value of p.
func (c *Check) checkValue(p *param, raw []byte, sc *scratch) {
	if !utf8.Valid(raw) {
		sc.add(p.pointer, "", ReasonEncoding)
		return
	}
	if p.schema == nil {
		return
	}
	sc.text = appendValue(sc.text[:0], raw, p.kinds)
	c.validate(p, sc)
}

// validate checks the JSON text in sc.text against p's schema.
func (c *Check) validate(p *param, sc *scratch) {
	if p.schema == nil {
		return
	}
	v, err := sc.parser.ParseBytes(sc.text)
	if err != nil {
		sc.add(p.pointer, "", ReasonEncoding) // unreachable: appendValue writes JSON
		return
	}
	if p.schema.Valid(v) {
		return
	}
	sc.sv = p.schema.Validate(v, sc.sv[:0])
	for _, x := range sc.sv {
		if !sc.add(p.pointer, x.Pointer, x.Reason) {
			break
		}
	}
}

// appendValue appends the wire value raw, valid UTF-8, as the JSON value
// a schema of the types kinds reads it as.
func appendValue(dst, raw []byte, kinds typeSet) []byte {
	switch {
	case kinds&tNumber != 0 && isNumber(raw), kinds&tInteger != 0 && isInteger(raw):
		return append(dst, raw...)
	case kinds&tBoolean != 0 && (string(raw) == "true" || string(raw) == "false"):
		return append(dst, raw...)
	case kinds&tNull != 0 && kinds&tString == 0 && string(raw) == "null":
		return append(dst, raw...)
	}
	return validate.AppendQuoted(dst, raw)
}

// isInteger reports whether b is an integer without sign, leading zeros
// or exponent (-?(0|[1-9][0-9]*)): what every upstream parses as one.
func isInteger(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 || (b[0] == '0' && len(b) > 1) {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// isNumber reports whether b is a JSON number.
func isNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i == len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i == len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	return i == len(b)
}

// percentDecode appends s with its %XX escapes decoded.
func percentDecode(dst, s []byte) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			dst = append(dst, s[i])
			continue
		}
		if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
			return dst, false
		}
		dst = append(dst, byte(unhex(s[i+1])<<4|unhex(s[i+2])))
		i += 2
	}
	return dst, true
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// checkBody checks the body against the operation's requestBody.
func (c *Check) checkBody(ctx *fasthttp.RequestCtx, r *pipeline.Request, op *operation, sc *scratch, headOnly bool) pipeline.Verdict {
	req := &ctx.Request
	raw := req.Body()
	present := len(raw) > 0 || req.Header.ContentLength() > 0 || req.Header.ContentLength() == -1 ||
		validate.EmptyBodyDeclared(&req.Header) // an empty chunked body, typed
	b := op.body
	switch {
	case b == nil && present:
		sc.add("/body", "", ReasonBodyNotAllowed)
		return c.refuse(ctx, r, DetailBodyNotAllowed, sc)
	case b == nil:
		return pipeline.Continue
	case !present && b.required:
		sc.add("/body", "", ReasonRequired)
		return c.refuse(ctx, r, DetailBodyMissing, sc)
	case !present:
		return pipeline.Continue
	}
	ct := req.Header.ContentType()
	if len(ct) == 0 {
		return c.deny(ctx, r, fasthttp.StatusUnsupportedMediaType, pipeline.ReasonMediaTypeUnsupported, DetailContentTypeMissing)
	}
	m, sub := b.find(ct)
	if m == nil {
		return c.deny(ctx, r, fasthttp.StatusUnsupportedMediaType, pipeline.ReasonMediaTypeUnsupported, DetailMediaType)
	}
	if m.schema != nil && !m.form && !m.text && (m.typ == "*" || m.sub == "*") && isFormSubtype(ct) {
		// A form under a range with a schema: read as a form, or its
		// fields would pass unchecked where the same values as JSON
		// would not.
		if !validate.UTF8Declared(ct) {
			return c.deny(ctx, r, fasthttp.StatusUnsupportedMediaType, pipeline.ReasonMediaTypeUnsupported, validate.DetailCharset)
		}
		if headOnly {
			return pipeline.Continue
		}
		return c.checkForm(ctx, r, m, raw, sc)
	}
	if (m.form || m.text) && m.schema != nil {
		if !validate.UTF8Declared(ct) {
			return c.deny(ctx, r, fasthttp.StatusUnsupportedMediaType, pipeline.ReasonMediaTypeUnsupported, validate.DetailCharset)
		}
		if headOnly {
			return pipeline.Continue
		}
		if m.form {
			return c.checkForm(ctx, r, m, raw, sc)
		}
		if !utf8.Valid(raw) {
			sc.add("/body", "", ReasonEncoding)
			return c.refuse(ctx, r, validate.DetailSchema, sc)
		}
		sc.text = validate.AppendQuoted(sc.text[:0], raw)
		return c.checkText(ctx, r, m, sc)
	}
	// A JSON body under a range the operation gives a schema (application/*,
	// */*) is checked by it too; other bodies by their type only.
	if !m.json && (m.schema == nil || !jsonSubtype(sub)) {
		return pipeline.Continue
	}
	if !validate.UTF8Declared(ct) {
		return c.deny(ctx, r, fasthttp.StatusUnsupportedMediaType, pipeline.ReasonMediaTypeUnsupported, validate.DetailCharset)
	}
	if headOnly {
		return pipeline.Continue
	}
	v, err := r.JSONReader().Read(raw, c.maxDepth)
	if err != nil {
		je, ok := err.(*jsonbody.Error)
		if !ok {
			je = jsonbody.ErrMalformed
		}
		sc.add("/body", "", je.Code())
		return c.refuse(ctx, r, je.Code(), sc)
	}
	r.JSON = v
	if m.schema == nil {
		return pipeline.Continue
	}
	return c.checkSchema(ctx, r, m, v, sc)
}

// checkSchema checks body v against m's schema.
func (c *Check) checkSchema(ctx *fasthttp.RequestCtx, r *pipeline.Request, m *media, v *fastjson.Value, sc *scratch) pipeline.Verdict {
	if m.schema.Valid(v) {
		return pipeline.Continue
	}
	sc.sv = m.schema.Validate(v, sc.sv[:0])
	for _, x := range sc.sv {
		if !sc.add("/body", x.Pointer, x.Reason) {
			break
		}
	}
	return c.refuse(ctx, r, validate.DetailSchema, sc)
}

// checkForm reads a form body into the JSON object its schema's property
// types make of it (a field declared as an integer is a number, one
// declared as an array collects its repeated values, others are strings)
// and checks that. A declared scalar field sent twice, or under a name an
// upstream reads as a declared one, is refused, as for query parameters.
func (c *Check) checkForm(ctx *fasthttp.RequestCtx, r *pipeline.Request, m *media, raw []byte, sc *scratch) pipeline.Verdict {
	if bytes.Count(raw, ampersand) >= maxFormFields {
		// Counted before parsing: a body of "b&b&b..." would otherwise
		// cost a parse and a JSON member per field.
		sc.add("/body", "", ReasonFormFields)
		return c.refuse(ctx, r, validate.DetailSchema, sc)
	}
	if badEscape(raw) {
		sc.add("/body", "", ReasonEscape)
		return c.refuse(ctx, r, validate.DetailSchema, sc)
	}
	args := &sc.args
	args.ParseBytes(raw)
	sc.text = append(sc.text[:0], '{')
	members := 0
	for k, v := range args.All() {
		if !utf8.Valid(k) || !utf8.Valid(v) {
			sc.add("/body", "", ReasonEncoding)
			return c.refuse(ctx, r, validate.DetailSchema, sc)
		}
	}
	for i := range m.fields {
		f := &m.fields[i]
		n := 0
		for k, v := range args.All() {
			if string(k) != f.name {
				continue
			}
			switch {
			case n == 0:
				if members > 0 {
					sc.text = append(sc.text, ',')
				}
				members++
				sc.text = validate.AppendQuoted(sc.text, k)
				sc.text = append(sc.text, ':')
				if f.array {
					sc.text = append(sc.text, '[')
				}
			case f.array:
				sc.text = append(sc.text, ',')
			default:
				sc.add("/body", f.pointer, ReasonRepeated)
			}
			n++
			if n == 1 || f.array {
				sc.text = appendValue(sc.text, v, f.kinds)
			}
		}
		if n > 0 && f.array {
			sc.text = append(sc.text, ']')
		}
	}
	for k, v := range args.All() {
		if formDeclared(m.fields, k) {
			continue
		}
		sc.name = foldQueryName(sc.name[:0], k)
		for i := range m.fields {
			if isVariant(sc.name, m.fields[i].fold) {
				sc.add("/body", m.fields[i].pointer, ReasonVariant)
				break
			}
		}
		if members > 0 {
			sc.text = append(sc.text, ',')
		}
		members++
		sc.text = validate.AppendQuoted(sc.text, k)
		sc.text = append(sc.text, ':')
		sc.text = appendValue(sc.text, v, m.extra)
	}
	sc.text = append(sc.text, '}')
	if len(sc.viol) > 0 {
		return c.refuse(ctx, r, validate.DetailSchema, sc)
	}
	return c.checkText(ctx, r, m, sc)
}

// maxFormFields bounds the fields of a form body checked by its schema;
// maxKeptText the JSON text buffer a pooled scratch keeps.
const (
	maxFormFields = 1024
	maxKeptText   = 256 << 10
)

var ampersand = []byte("&")

func formDeclared(fs []formField, name []byte) bool {
	for i := range fs {
		if string(name) == fs[i].name {
			return true
		}
	}
	return false
}

// checkText checks the JSON text in sc.text, made from a form or text
// body, against m's schema.
func (c *Check) checkText(ctx *fasthttp.RequestCtx, r *pipeline.Request, m *media, sc *scratch) pipeline.Verdict {
	v, err := sc.parser.ParseBytes(sc.text)
	if err != nil {
		sc.add("/body", "", ReasonEncoding) // unreachable: the text is JSON written here
		return c.refuse(ctx, r, validate.DetailSchema, sc)
	}
	return c.checkSchema(ctx, r, m, v, sc)
}

// find returns the declared media type the Content-Type ct falls in, and
// ct's subtype.
func (b *body) find(ct []byte) (*media, []byte) {
	for i, c := range ct {
		if c == ';' {
			ct = ct[:i]
			break
		}
	}
	ct = trimSpace(ct)
	slash := -1
	for i, c := range ct {
		if c == '/' {
			slash = i
			break
		}
	}
	if slash <= 0 || slash == len(ct)-1 {
		return nil, nil
	}
	typ, sub := ct[:slash], ct[slash+1:]
	for i := range b.media {
		if b.media[i].matches(typ, sub) {
			return &b.media[i], sub
		}
	}
	return nil, nil
}

// isFormSubtype reports whether the Content-Type ct is
// application/x-www-form-urlencoded, in any case, parameters aside.
func isFormSubtype(ct []byte) bool {
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return bytes.EqualFold(trimSpace(ct), formType)
}

var formType = []byte("application/x-www-form-urlencoded")

// jsonSubtype reports whether a request's media subtype names JSON: json
// or a +json suffix, in any case (parseMediaRange's rule for declared
// types).
func jsonSubtype(sub []byte) bool {
	return bytes.EqualFold(sub, []byte("json")) ||
		len(sub) > 5 && bytes.EqualFold(sub[len(sub)-5:], []byte("+json"))
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func (c *Check) deny(ctx *fasthttp.RequestCtx, r *pipeline.Request, status int, reason pipeline.Reason, detail string) pipeline.Verdict {
	c.refused[detail].Inc()
	v := pipeline.Deny(ctx, r, status, reason)
	r.Detail = detail
	return v
}

var (
	jsonViolations = []byte(`,"violations":[`)
	jsonPointer    = `{"pointer":`
	jsonReason     = `,"reason":`
)

// refuse answers 400 with the violations in sc: pointers built from the
// document's names and the schema's, reasons static, never request data.
func (c *Check) refuse(ctx *fasthttp.RequestCtx, r *pipeline.Request, detail string, sc *scratch) pipeline.Verdict {
	c.refused[detail].Inc()
	pipeline.DenyOpen(ctx, r, fasthttp.StatusBadRequest, pipeline.ReasonBodyInvalid)
	r.Detail = detail
	out := append(sc.out[:0], jsonViolations...)
	for i, v := range sc.viol {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, jsonPointer...)
		out = append(out, '"')
		out = validate.AppendEscaped(out, v.prefix)
		out = validate.AppendEscaped(out, v.pointer)
		out = append(out, '"')
		out = append(out, jsonReason...)
		out = validate.AppendQuoted(out, v.reason)
		out = append(out, '}')
	}
	out = append(out, ']')
	ctx.Response.AppendBody(out)
	sc.out = out
	return pipeline.DenyClose(ctx)
}
