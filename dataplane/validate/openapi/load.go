package openapi

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/edgeguard/edgeguard/dataplane/pathnorm"
	"github.com/edgeguard/edgeguard/dataplane/validate/schema"
)

// Options configure a Check.
type Options struct {
	// Route names the route in metrics.
	Route string
	// BasePath is the prefix of request paths that the document's paths
	// are relative to: with "/api/v1", the document's "/orders/{id}"
	// answers "/api/v1/orders/7". Empty: the path of the document's first
	// servers[].url (its variables at their defaults), or the root when
	// it has none. "/" is the root, whatever the servers say.
	BasePath string
	// MaxJSONDepth bounds the nesting of JSON bodies; 0 is
	// jsonbody.DefaultMaxDepth.
	MaxJSONDepth int
	// RejectUnknownQuery refuses a query parameter the operation does not
	// declare. Off, such parameters pass unchecked.
	RejectUnknownQuery bool
}

// maxErrors bounds the errors one New reports.
const maxErrors = 20

// loader turns a document into a Check, collecting every error.
type loader struct {
	root      *value
	v31       bool
	errs      []error
	converted map[*value]bool           // schemas converted (shared through $ref)
	params    map[*value]*param         // Parameter Objects read, by target
	bodies    map[*value]*body          // Request Body Objects read, by target
	schemas   map[string]*schema.Schema // compiled, by pointer
	pending   []string                  // schema pointers to compile, in order
	whole     []byte                    // the whole converted document, when a schema needs it
	errPtrs   map[string]bool           // places reported already
	security  []string                  // operations' security requirements (Check.Security)
}

// requiresSecurity reports whether a security field asks for a credential:
// a list with a requirement that names a scheme ({} alone makes
// authentication optional).
func requiresSecurity(v *value) bool {
	if v == nil || v.kind != kindArray {
		return false
	}
	for _, req := range v.items {
		if req.kind == kindObject && len(req.keys) > 0 {
			return true
		}
	}
	return false
}

// errorf records "openapi: <pointer>: <message>", with the YAML line of
// at when known.
func (l *loader) errorf(at *value, ptr, format string, args ...any) {
	if len(l.errs) > maxErrors {
		return
	}
	if len(l.errs) == maxErrors {
		l.errs = append(l.errs, errors.New("openapi: too many errors"))
		return
	}
	if ptr == "" {
		ptr = "(document root)"
	}
	msg := fmt.Sprintf(format, args...)
	if at != nil && at.line > 0 {
		msg += fmt.Sprintf(" (line %d)", at.line)
	}
	l.errs = append(l.errs, fmt.Errorf("openapi: %s: %s", ptr, msg))
	l.errPtrs[ptr] = true
}

// New reads an OpenAPI 3.0.x or 3.1.x document (JSON or YAML) and
// compiles the request side of every operation. It reports every problem
// it finds (up to 20), each naming its place in the document as a JSON
// pointer, and refuses anything it would not enforce exactly.
func New(doc []byte, opts Options) (*Check, error) {
	root, err := parseDocument(doc)
	if err != nil {
		return nil, err
	}
	l := newLoader(root)
	c := l.load(opts)
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	c.security = append(c.security, l.security...)
	return c, nil
}

func newLoader(root *value) *loader {
	return &loader{
		root:      root,
		converted: map[*value]bool{},
		params:    map[*value]*param{},
		bodies:    map[*value]*body{},
		schemas:   map[string]*schema.Schema{},
		errPtrs:   map[string]bool{},
	}
}

var (
	version30 = regexp.MustCompile(`^3\.0\.[0-9]+(-[0-9A-Za-z.-]+)?$`)
	version31 = regexp.MustCompile(`^3\.1\.[0-9]+(-[0-9A-Za-z.-]+)?$`)
)

func (l *loader) load(opts Options) *Check {
	root := l.root
	if root.kind != kindObject {
		l.errorf(root, "", "the document must be an object, not %s", root.kind)
		return nil
	}
	v := root.get("openapi")
	switch {
	case v == nil && root.get("swagger") != nil:
		l.errorf(root.get("swagger"), "/swagger", "Swagger 2.0 is not supported (OpenAPI 3.0.x or 3.1.x)")
		return nil
	case v == nil || v.kind != kindString:
		l.errorf(v, "/openapi", "must be a version string, 3.0.x or 3.1.x")
		return nil
	case version31.MatchString(v.str):
		l.v31 = true
	case !version30.MatchString(v.str):
		l.errorf(v, "/openapi", "version %q not supported (3.0.x or 3.1.x)", v.str)
		return nil
	}
	if d := root.get("jsonSchemaDialect"); l.v31 && d != nil {
		if d.kind != kindString || (strings.TrimSuffix(d.str, "#") != OASDialect && strings.TrimSuffix(d.str, "#") != schema.Dialect) {
			l.errorf(d, "/jsonSchemaDialect", "only %s or %s is supported", OASDialect, schema.Dialect)
		}
	}
	base := l.basePath(opts.BasePath)

	c := &Check{route: opts.Route, base: base, maxDepth: opts.MaxJSONDepth,
		rejectUnknownQuery: opts.RejectUnknownQuery, root: &node{}}
	if sec := root.get("security"); requiresSecurity(sec) {
		c.security = append(c.security, "/security")
	}
	paths := root.get("paths")
	if paths != nil && paths.kind != kindObject {
		l.errorf(paths, "/paths", "must be an object")
		return nil
	}
	var entries []*pathEntry
	shapes := map[string]string{}
	for i, key := range pathKeys(paths) {
		ptr := "/paths/" + escapeToken(key)
		item := paths.vals[i]
		if strings.HasPrefix(key, "x-") {
			continue
		}
		segs, err := parseTemplate(key)
		if err != nil {
			l.errorf(item, ptr, "path template: %v", err)
			continue
		}
		var shape strings.Builder
		for _, s := range segs {
			shape.WriteString("/" + s.shape())
		}
		if prev, dup := shapes[shape.String()]; dup {
			l.errorf(item, ptr, "the same template as %s (only the variable names differ)", prev)
			continue
		}
		shapes[shape.String()] = ptr
		e := l.loadPathItem(item, ptr, key, segs)
		if e == nil {
			continue
		}
		entries = append(entries, e)
		c.maxSegs = max(c.maxSegs, len(segs))
	}
	if len(entries) == 0 && len(l.errs) == 0 {
		l.errorf(paths, "/paths", "no operations")
	}
	l.compileSchemas()
	if len(l.errs) > 0 {
		return nil
	}
	for _, e := range entries {
		for _, op := range e.ops {
			if op != nil {
				l.link(op)
			}
		}
		c.root.insert(e.segs, e)
		c.operations += e.count()
	}
	c.initCounters()
	return c
}

func pathKeys(paths *value) []string {
	if paths == nil {
		return nil
	}
	return paths.keys
}

// basePath returns the option, or the path of the first server URL.
func (l *loader) basePath(opt string) string {
	if opt != "" {
		if !strings.HasPrefix(opt, "/") {
			l.errorf(nil, "(options)", "base path %q must start with /", opt)
			return ""
		}
		return l.cleanBase(opt, nil, "(options)")
	}
	servers := l.root.get("servers")
	if servers == nil || servers.kind != kindArray || len(servers.items) == 0 {
		return ""
	}
	s := servers.items[0]
	ptr := "/servers/0"
	u := s.get("url")
	if u == nil || u.kind != kindString {
		l.errorf(s, ptr+"/url", "must be a string")
		return ""
	}
	// One pass: a default is not searched for more variables.
	var sb strings.Builder
	vars := s.get("variables")
	for rest := u.str; rest != ""; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			sb.WriteString(rest)
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			l.errorf(u, ptr+"/url", "unclosed server variable")
			return ""
		}
		name := rest[i+1 : i+j]
		def := vars.get(name).get("default")
		if def == nil || def.kind != kindString {
			l.errorf(u, ptr+"/url", "server variable {%s} has no default", name)
			return ""
		}
		sb.WriteString(rest[:i])
		sb.WriteString(def.str)
		rest = rest[i+j+1:]
	}
	raw := sb.String()
	parsed, err := url.Parse(raw)
	if err != nil {
		l.errorf(u, ptr+"/url", "%v", err)
		return ""
	}
	p := parsed.EscapedPath()
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // relative to the document: taken from the root
	}
	return l.cleanBase(p, u, ptr+"/url")
}

// cleanBase normalizes a base path like a request path, without its
// trailing slash; the root is "".
func (l *loader) cleanBase(p string, at *value, ptr string) string {
	out, err := pathnorm.Normalize(nil, []byte(p))
	if err != nil {
		l.errorf(at, ptr, "base path %q: %v", p, err)
		return ""
	}
	return strings.TrimRight(string(out), "/")
}

// methods are the operations of a Path Item Object, in the order of
// Check's method index.
var methods = [...]string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

const (
	numMethods = len(methods)
	methodGet  = 0
	methodHead = 5
)

var (
	pathItemFields  = fields("summary", "description", "servers", "parameters", "$ref", "get", "put", "post", "delete", "options", "head", "patch", "trace")
	operationFields = fields("tags", "summary", "description", "externalDocs", "operationId", "parameters", "requestBody", "responses", "callbacks", "deprecated", "security", "servers")
	parameterFields = fields("name", "in", "description", "required", "deprecated", "allowEmptyValue", "style", "explode", "allowReserved", "schema", "content", "example", "examples")
	bodyFields      = fields("description", "content", "required")
	mediaFields     = fields("schema", "example", "examples", "encoding")
	refFields       = fields("$ref", "summary", "description")
)

func fields(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// checkFields refuses the members of an object OpenAPI does not define
// there (extensions x-* aside): a misspelt "requried" must not make a
// parameter optional.
func (l *loader) checkFields(v *value, ptr string, allowed map[string]bool) {
	for i, k := range v.keys {
		if !allowed[k] && !strings.HasPrefix(k, "x-") {
			l.errorf(v.vals[i], ptr+"/"+escapeToken(k), "unknown field")
		}
	}
}

// deref follows Reference Objects from v to the object they name, and
// returns it with its pointer.
func (l *loader) deref(v *value, ptr string) (*value, string) {
	for range 16 {
		if v.kind != kindObject {
			l.errorf(v, ptr, "must be an object, not %s", v.kind)
			return nil, ""
		}
		r := v.get("$ref")
		if r == nil {
			return v, ptr
		}
		l.checkFields(v, ptr, refFields)
		if r.kind != kindString {
			l.errorf(r, ptr+"/$ref", "must be a string")
			return nil, ""
		}
		target, ok := refPointer(r.str)
		if !ok {
			l.errorf(r, ptr+"/$ref", "reference %q not supported (only local references #/...)", r.str)
			return nil, ""
		}
		next := l.root.lookup(target)
		if next == nil {
			l.errorf(r, ptr+"/$ref", "reference %q: no value there", r.str)
			return nil, ""
		}
		v, ptr = next, target
	}
	l.errorf(v, ptr, "reference chain too long or cyclic")
	return nil, ""
}

// pathEntry is one template of the document with its operations.
type pathEntry struct {
	template string
	segs     []segment
	ops      [numMethods]*operation
	allow    []byte // the Allow header of a 405
}

func (e *pathEntry) count() int {
	n := 0
	for _, op := range e.ops {
		if op != nil {
			n++
		}
	}
	return n
}

func (l *loader) loadPathItem(item *value, ptr, key string, segs []segment) *pathEntry {
	item, ptr = l.deref(item, ptr)
	if item == nil {
		return nil
	}
	l.checkFields(item, ptr, pathItemFields)
	e := &pathEntry{template: key, segs: segs}
	shared := l.paramList(item.get("parameters"), ptr+"/parameters")
	var allow []string
	for m, name := range methods {
		opv := item.get(name)
		if opv == nil {
			continue
		}
		e.ops[m] = l.loadOperation(opv, ptr+"/"+name, segs, shared)
		allow = append(allow, strings.ToUpper(name))
		if m == methodGet && item.get("head") == nil {
			allow = append(allow, "HEAD")
		}
	}
	if len(allow) == 0 {
		return nil // a path without operations answers nothing
	}
	e.allow = []byte(strings.Join(allow, ", "))
	return e
}

// paramRef is one entry of a parameters list, resolved.
type paramRef struct {
	p   *param
	ptr string // where the list names it
}

func (l *loader) paramList(list *value, ptr string) []paramRef {
	if list == nil {
		return nil
	}
	if list.kind != kindArray {
		l.errorf(list, ptr, "must be an array")
		return nil
	}
	var out []paramRef
	for i, raw := range list.items {
		iptr := ptr + "/" + strconv.Itoa(i)
		p := l.loadParam(raw, iptr)
		if p == nil {
			continue
		}
		if slices.ContainsFunc(out, func(q paramRef) bool { return q.p.same(p) }) {
			l.errorf(raw, iptr, "parameter %q in %s declared twice", p.name, p.in)
			continue
		}
		out = append(out, paramRef{p, iptr})
	}
	return out
}

func (l *loader) loadOperation(opv *value, ptr string, segs []segment, shared []paramRef) *operation {
	if opv.kind != kindObject {
		l.errorf(opv, ptr, "must be an object")
		return nil
	}
	l.checkFields(opv, ptr, operationFields)
	op := &operation{loc: ptr}
	if requiresSecurity(opv.get("security")) {
		l.security = append(l.security, ptr+"/security")
	}
	if id := opv.get("operationId"); id != nil && id.kind == kindString {
		op.id = id.str
	}
	// Operation parameters override the path item's of the same name and
	// location.
	params := slices.Clone(shared)
	for _, own := range l.paramList(opv.get("parameters"), ptr+"/parameters") {
		i := slices.IndexFunc(params, func(q paramRef) bool { return q.p.same(own.p) })
		if i >= 0 {
			params[i] = own
		} else {
			params = append(params, own)
		}
	}
	for depth, s := range segs {
		if s.name == "" {
			continue
		}
		i := slices.IndexFunc(params, func(q paramRef) bool { return q.p.in == inPath && q.p.name == s.name })
		if i < 0 {
			l.errorf(opv, ptr, "path variable {%s} has no path parameter", s.name)
			continue
		}
		p := *params[i].p
		p.seg = depth
		op.path = append(op.path, p)
	}
	for _, q := range params {
		switch q.p.in {
		case inPath:
			if !slices.ContainsFunc(segs, func(s segment) bool { return s.name == q.p.name }) {
				l.errorf(nil, q.ptr, "path parameter %q is not a variable of the path template", q.p.name)
			}
		case inQuery:
			// Two names an upstream may read as one ("id" and "ID", "a.b"
			// and "a_b"): each would pass the other's value unchecked.
			if i := slices.IndexFunc(op.query, func(o param) bool { return isVariant([]byte(q.p.fold), o.fold) || isVariant([]byte(o.fold), q.p.fold) }); i >= 0 {
				l.errorf(nil, q.ptr, "query parameter %q and %q are one name to upstreams that ignore case, brackets or '.' for '_': declare one", q.p.name, op.query[i].name)
				continue
			}
			op.query = append(op.query, *q.p)
		case inHeader:
			op.header = append(op.header, *q.p)
		case inCookie:
			op.cookie = append(op.cookie, *q.p)
		}
	}
	if rb := opv.get("requestBody"); rb != nil {
		op.body = l.loadBody(rb, ptr+"/requestBody")
	}
	return op
}

// same reports whether p and q are the same parameter: the same name in
// the same location (header names ignore case).
func (p *param) same(q *param) bool {
	if p.in != q.in {
		return false
	}
	if p.in == inHeader {
		return strings.EqualFold(p.name, q.name)
	}
	return p.name == q.name
}

// Parameter locations.
const (
	inPath   = "path"
	inQuery  = "query"
	inHeader = "header"
	inCookie = "cookie"
)

// ignoredHeaders are header parameters OpenAPI says to ignore: the
// gateway's other stages own them.
var ignoredHeaders = map[string]bool{"accept": true, "content-type": true, "authorization": true}

// loadParam reads a Parameter Object (through its reference), once per
// target. It returns nil for a parameter that is not checked.
func (l *loader) loadParam(raw *value, ptr string) *param {
	v, vptr := l.deref(raw, ptr)
	if v == nil {
		return nil
	}
	if p, done := l.params[v]; done {
		return p
	}
	l.params[v] = nil
	l.checkFields(v, vptr, parameterFields)
	name, in := v.get("name"), v.get("in")
	if name == nil || name.kind != kindString || name.str == "" {
		l.errorf(v, vptr+"/name", "must be a non-empty string")
		return nil
	}
	if in == nil || in.kind != kindString {
		l.errorf(v, vptr+"/in", "must be path, query, header or cookie")
		return nil
	}
	p := &param{name: name.str, nameB: []byte(name.str), in: in.str,
		pointer: "/" + in.str + "/" + escapeToken(name.str)}
	if in.str == "query" || in.str == "cookie" {
		p.fold = string(queryKey(foldQueryName(nil, p.nameB)))
	}
	explode := true
	for _, flag := range []struct {
		key string
		dst *bool
	}{{"required", &p.required}, {"allowEmptyValue", &p.allowEmpty}, {"explode", &explode}} {
		if f := v.get(flag.key); f != nil {
			if f.kind != kindBool {
				l.errorf(f, vptr+"/"+flag.key, "must be a boolean")
				continue
			}
			*flag.dst = f.truth
		}
	}
	style := ""
	if s := v.get("style"); s != nil {
		if s.kind != kindString {
			l.errorf(s, vptr+"/style", "must be a string")
			return nil
		}
		style = s.str
	}
	var want string
	switch in.str {
	case inPath:
		want = "simple"
		if r := v.get("required"); !p.required {
			// OpenAPI: REQUIRED, and true, for a path parameter.
			l.errorf(r, vptr+"/required", "a path parameter must be required (required: true)")
		}
		p.required = true
	case inQuery:
		want = "form"
	case inHeader:
		want = "simple"
		if ignoredHeaders[strings.ToLower(name.str)] {
			return nil // OpenAPI: "the parameter definition SHALL be ignored"
		}
	case inCookie:
		want = "form"
	default:
		l.errorf(in, vptr+"/in", "%q is not a parameter location (path, query, header, cookie)", in.str)
		return nil
	}
	if style != "" && style != want {
		l.errorf(v.get("style"), vptr, "style %s not supported (%s parameters: %s)", style, in.str, want)
		return nil
	}
	if in.str != inQuery {
		p.allowEmpty = false // OpenAPI: query only
	}
	if c := v.get("content"); c != nil {
		l.errorf(c, vptr+"/content", "parameters with content are not supported (use schema)")
		return nil
	}
	s := v.get("schema")
	if s == nil {
		l.errorf(v, vptr, "a parameter needs a schema")
		return nil
	}
	sptr := vptr + "/schema"
	l.convertSchema(s, sptr)
	types := l.typesOf(s, 0)
	switch {
	case types&tObject != 0:
		l.errorf(s, sptr, "object parameters are not supported")
		return nil
	case types&tArray != 0:
		if types&^(tArray|tNull) != 0 {
			l.errorf(s, sptr, "a parameter that is an array or a scalar is not supported")
			return nil
		}
		if in.str != inQuery {
			l.errorf(s, sptr, "array parameters are supported in the query only (form, explode)")
			return nil
		}
		if !explode {
			l.errorf(v.get("explode"), vptr, "explode false not supported for arrays (comma-separated values)")
			return nil
		}
		p.array = true
		items := l.itemsOf(s, 0)
		types = l.typesOf(items, 0)
		if types&(tArray|tObject) != 0 {
			l.errorf(items, sptr+"/items", "array parameters of arrays or objects are not supported")
			return nil
		}
	}
	p.kinds = types
	if p.kinds&^tNull == 0 {
		p.kinds = tString // no type: the value is read as a string
	}
	p.schemaPtr = sptr
	l.queue(sptr)
	l.params[v] = p
	return p
}

// Type bits of a parameter's schema.
const (
	tNull typeSet = 1 << iota
	tBoolean
	tInteger
	tNumber
	tString
	tArray
	tObject
)

type typeSet uint8

var typeBits = map[string]typeSet{"null": tNull, "boolean": tBoolean, "integer": tInteger, "number": tNumber,
	"string": tString, "array": tArray, "object": tObject}

// typesOf returns the types a schema allows, found through its type,
// $ref, anyOf/oneOf branches, allOf, enum or const; 0 when it does not
// say.
func (l *loader) typesOf(s *value, depth int) typeSet {
	if s == nil || s.kind != kindObject || depth > 8 {
		return 0
	}
	if t := s.get("type"); t != nil {
		var ts typeSet
		switch t.kind {
		case kindString:
			ts = typeBits[t.str]
		case kindArray:
			for _, x := range t.items {
				ts |= typeBits[x.str]
			}
		}
		return ts
	}
	if r := s.get("$ref"); r != nil {
		if p, ok := refPointer(r.str); ok {
			return l.typesOf(l.root.lookup(p), depth+1)
		}
		return 0
	}
	for _, k := range []string{"anyOf", "oneOf"} {
		if list := s.get(k); list != nil && list.kind == kindArray {
			var ts typeSet
			for _, b := range list.items {
				bt := l.typesOf(b, depth+1)
				if bt == 0 {
					return 0
				}
				ts |= bt
			}
			return ts
		}
	}
	if list := s.get("allOf"); list != nil && list.kind == kindArray {
		for _, b := range list.items {
			if bt := l.typesOf(b, depth+1); bt != 0 {
				return bt
			}
		}
	}
	var consts []*value
	if e := s.get("enum"); e != nil && e.kind == kindArray {
		consts = e.items
	}
	if c := s.get("const"); c != nil {
		consts = append(consts, c)
	}
	var ts typeSet
	for _, c := range consts {
		switch c.kind {
		case kindNull:
			ts |= tNull
		case kindBool:
			ts |= tBoolean
		case kindNumber:
			ts |= tNumber
		case kindString:
			ts |= tString
		case kindArray:
			ts |= tArray
		case kindObject:
			ts |= tObject
		}
	}
	return ts
}

// itemsOf returns the items schema of an array schema.
func (l *loader) itemsOf(s *value, depth int) *value {
	if s == nil || s.kind != kindObject || depth > 8 {
		return nil
	}
	if it := s.get("items"); it != nil {
		return it
	}
	if r := s.get("$ref"); r != nil {
		if p, ok := refPointer(r.str); ok {
			return l.itemsOf(l.root.lookup(p), depth+1)
		}
	}
	if list := s.get("allOf"); list != nil && list.kind == kindArray {
		for _, b := range list.items {
			if it := l.itemsOf(b, depth+1); it != nil {
				return it
			}
		}
	}
	return nil
}

// loadBody reads a Request Body Object, once per target.
func (l *loader) loadBody(raw *value, ptr string) *body {
	v, vptr := l.deref(raw, ptr)
	if v == nil {
		return nil
	}
	if b, done := l.bodies[v]; done {
		return b
	}
	l.bodies[v] = nil
	l.checkFields(v, vptr, bodyFields)
	b := &body{}
	if r := v.get("required"); r != nil {
		if r.kind != kindBool {
			l.errorf(r, vptr+"/required", "must be a boolean")
		}
		b.required = r.truth
	}
	content := v.get("content")
	if content == nil || content.kind != kindObject || len(content.keys) == 0 {
		l.errorf(v, vptr+"/content", "must declare at least one media type")
		return nil
	}
	for i, key := range content.keys {
		mptr := vptr + "/content/" + escapeToken(key)
		mv := content.vals[i]
		if mv.kind != kindObject {
			l.errorf(mv, mptr, "must be an object")
			continue
		}
		l.checkFields(mv, mptr, mediaFields)
		m, err := parseMediaRange(key)
		if err != nil {
			l.errorf(mv, mptr, "%v", err)
			continue
		}
		if slices.ContainsFunc(b.media, func(o media) bool { return o.typ == m.typ && o.sub == m.sub }) {
			l.errorf(mv, mptr, "media type %s/%s declared twice", m.typ, m.sub)
			continue
		}
		// A range (type/*, */*) may carry a JSON body, which its schema
		// then checks (checkBody); other ranges' bodies by type only.
		if s := mv.get("schema"); s != nil {
			sptr := mptr + "/schema"
			switch {
			case m.typ == "*" || m.sub == "*":
				m.fields, m.extra = l.formFields(s, sptr, false) // for a form sent under the range
			case m.json:
			case m.typ == "application" && m.sub == "x-www-form-urlencoded":
				m.form = true
				m.fields, m.extra = l.formFields(s, sptr, true)
			case m.typ == "text" && m.sub != "*":
				if ts := l.typesOf(s, 0); ts != 0 && ts&tString == 0 {
					l.errorf(s, sptr, "a text body's schema must allow a string")
				}
				m.text = true
			default:
				s = nil // multipart and binary bodies: by media type only
			}
			if s != nil {
				l.convertSchema(s, sptr)
				m.schemaPtr = sptr
				l.queue(sptr)
			}
		}
		b.media = append(b.media, m)
	}
	// Most specific first: type/subtype, type/*+json, type/*, */*.
	slices.SortStableFunc(b.media, func(x, y media) int { return x.rank() - y.rank() })
	l.bodies[v] = b
	return b
}

// formFields lists the properties of a form body's schema s (its own, and
// those of the schemas its $ref, allOf, oneOf and anyOf lead to) with the
// types their values are read as, and the types of an undeclared field's
// value (additionalProperties'). Objects have no form encoding the
// gateway reads: strict refuses them (a form media type), otherwise (a
// range, which may carry JSON) such a field is read as a string.
func (l *loader) formFields(s *value, ptr string, strict bool) (out []formField, extra typeSet) {
	extra = tString
	var walk func(s *value, depth int)
	walk = func(s *value, depth int) {
		if s == nil || s.kind != kindObject || depth > 8 {
			return
		}
		if r := s.get("$ref"); r != nil {
			if p, ok := refPointer(r.str); ok {
				walk(l.root.lookup(p), depth+1)
			}
		}
		for _, k := range []string{"allOf", "oneOf", "anyOf"} {
			if list := s.get(k); list != nil && list.kind == kindArray {
				for _, b := range list.items {
					walk(b, depth+1)
				}
			}
		}
		if depth == 0 {
			if ap := s.get("additionalProperties"); ap != nil && ap.kind == kindObject {
				if ts := l.typesOf(ap, 0); ts&^tNull != 0 && ts&(tObject|tArray) == 0 {
					extra = ts
				}
			}
		}
		props := s.get("properties")
		if props == nil || props.kind != kindObject {
			return
		}
		for i, name := range props.keys {
			ps := props.vals[i]
			ts := l.typesOf(ps, 0)
			array := false
			if ts&tArray != 0 {
				array = true
				ts = l.typesOf(l.itemsOf(ps, 0), 0)
			}
			if ts&(tObject|tArray) != 0 {
				if strict {
					l.errorf(ps, ptr+"/properties/"+escapeToken(name), "objects and nested arrays have no form encoding the gateway reads")
				}
				continue
			}
			if j := slices.IndexFunc(out, func(f formField) bool { return f.name == name }); j >= 0 {
				out[j].kinds |= ts // declared in several branches: any of their types
				out[j].array = out[j].array || array
				continue
			}
			f := formField{name: name, pointer: "/" + escapeToken(name), array: array, kinds: ts}
			f.fold = string(queryKey(foldQueryName(nil, []byte(name))))
			out = append(out, f)
		}
	}
	walk(s, 0)
	for i := range out {
		if out[i].kinds&^tNull == 0 {
			out[i].kinds = tString
		}
	}
	return out, extra
}

// parseMediaRange reads a content key: "application/json",
// "application/*+json", "application/*", "*/*", parameters ignored.
func parseMediaRange(key string) (media, error) {
	s, _, _ := strings.Cut(key, ";")
	typ, sub, ok := strings.Cut(strings.ToLower(strings.TrimSpace(s)), "/")
	m := media{typ: typ, sub: sub}
	valid := ok && (isToken(typ) || typ == "*") && (isToken(sub) || sub == "*" ||
		(strings.HasPrefix(sub, "*+") && isToken(sub[2:]))) && !(typ == "*" && sub != "*")
	if !valid {
		return m, fmt.Errorf("media type %q: want type/subtype, type/*+suffix, type/* or */*", key)
	}
	// A JSON body is read and checked by its schema; a range of types is
	// not, except type/*+json.
	m.json = sub == "json" || strings.HasSuffix(sub, "+json")
	return m, nil
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&-^_.+", c) >= 0) {
			return false
		}
	}
	return true
}

// queue adds a schema to compile.
func (l *loader) queue(ptr string) {
	if _, ok := l.schemas[ptr]; !ok {
		l.schemas[ptr] = nil
		l.pending = append(l.pending, ptr)
	}
}

// compileErrorPointer finds the pointer in a schema compile error line,
// "compile schema: <pointer>: <message>": the longest prefix before a
// ": " that names a value (keys may contain ": ").
func (l *loader) compileErrorPointer(line string) (string, bool) {
	rest, ok := strings.CutPrefix(line, "compile schema: /")
	if !ok {
		return "", false
	}
	rest = "/" + rest
	found, ok := "", false
	for i := 0; ; {
		j := strings.Index(rest[i:], ": ")
		if j < 0 {
			return found, ok
		}
		i += j
		if l.root.lookup(rest[:i]) != nil {
			found, ok = rest[:i], true
		}
		i += 2
	}
}

// compileSchemas compiles every queued schema once, each from the
// smallest document that holds it and what it references.
func (l *loader) compileSchemas() {
	for _, ptr := range l.pending {
		s, err := schema.CompileAt(l.miniDoc(ptr), ptr)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				var at *value
				if p, ok := l.compileErrorPointer(line); ok {
					if l.errPtrs[p] {
						continue // the conversion said it already
					}
					l.errPtrs[p] = true
					at = l.root.lookup(p)
				}
				if at != nil && at.line > 0 {
					line += fmt.Sprintf(" (line %d)", at.line)
				}
				if len(l.errs) < maxErrors {
					l.errs = append(l.errs, errors.New("openapi: "+line))
				}
			}
			continue
		}
		l.schemas[ptr] = s
	}
}

// link sets the compiled schemas of an operation.
func (l *loader) link(op *operation) {
	for _, ps := range [][]param{op.path, op.query, op.header, op.cookie} {
		for i := range ps {
			ps[i].schema = l.schemas[ps[i].schemaPtr]
		}
	}
	if op.body != nil {
		for i := range op.body.media {
			if m := &op.body.media[i]; m.schemaPtr != "" {
				m.schema = l.schemas[m.schemaPtr]
			}
		}
	}
}
