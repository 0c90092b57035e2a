package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/edgeguard/edgeguard/dataplane/validate/jsonbody"
	"github.com/valyala/fastjson"
)

// defaultBase is the base URI of a document without a root $id. It is in
// the reserved .invalid domain so that no reference written by hand meets it.
const defaultBase = "https://schema.edgeguard.invalid/document.json"

// Dialect is the one $schema value accepted (with or without a trailing #).
const Dialect = "https://json-schema.org/draft/2020-12/schema"

// maxErrors bounds the errors one Compile reports.
const maxErrors = 20

// Compile compiles the schema that is the whole document doc.
func Compile(doc []byte) (*Schema, error) {
	return CompileAt(doc, "")
}

// CompileAt compiles the schema at pointer inside doc, e.g. an OpenAPI
// document and "/components/schemas/Order" (a "#/..." fragment is accepted
// too). References resolve against the whole document, so
// "#/components/schemas/Item" works. Only the schema at pointer and what it
// references are compiled. Errors name JSON pointers into doc.
func CompileAt(doc []byte, pointer string) (*Schema, error) {
	var r jsonbody.Reader
	root, err := r.Read(doc, jsonbody.MaxDepthLimit)
	if err != nil {
		return nil, fmt.Errorf("compile schema: %w%s", err, whereMalformed(doc))
	}
	if strings.HasPrefix(pointer, "#") {
		p, err := url.PathUnescape(pointer[1:])
		if err != nil {
			return nil, fmt.Errorf("compile schema: pointer %q: %v", pointer, err)
		}
		pointer = p
	}
	target, err := walkPointer(root, pointer)
	if err != nil {
		return nil, fmt.Errorf("compile schema: pointer %q: %v", pointer, err)
	}
	c := &compiler{
		nodes:     map[*fastjson.Value]*node{},
		resources: map[string]location{defaultBase: {root, "", defaultBase}},
		anchors:   map[string]location{},
		regexps:   map[string]*regexp.Regexp{},
	}
	if pointer != "" {
		// A $ref under the pointer may name an $anchor or $id of the
		// document outside it: know them all before compiling.
		c.index(root, "", defaultBase)
	}
	n := c.compile(target, pointer, defaultBase)
	c.resolveRefs()
	if len(c.errs) == 0 {
		c.checkCycles()
	}
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	return &Schema{root: n, loc: pointer, recursive: c.hasRefCycle()}, nil
}

// location is a value in the document with its JSON pointer and base URI.
type location struct {
	v    *fastjson.Value
	ptr  string
	base string
}

type pendingRef struct {
	n    *node
	ref  string // as written
	loc  string // of the $ref keyword
	base string
}

type compiler struct {
	nodes     map[*fastjson.Value]*node // every schema compiled, so refs share nodes and cycles end
	order     []*node                   // the same nodes in the order compiled
	resources map[string]location       // absolute URI without fragment: $id
	anchors   map[string]location       // absolute URI with #anchor
	refs      []pendingRef
	regexps   map[string]*regexp.Regexp
	errs      []error
}

func (c *compiler) errorf(loc, format string, args ...any) {
	if len(c.errs) == maxErrors {
		c.errs = append(c.errs, errors.New("compile schema: too many errors"))
	}
	if len(c.errs) > maxErrors {
		return
	}
	if loc == "" {
		loc = "(document root)"
	}
	c.errs = append(c.errs, fmt.Errorf("compile schema: %s: "+format, append([]any{loc}, args...)...))
}

// compile turns the schema v at loc into a node, once per value.
func (c *compiler) compile(v *fastjson.Value, loc, base string) *node {
	if n := c.nodes[v]; n != nil {
		return n
	}
	n := &node{
		loc:       loc,
		minLength: sizeBound{n: -1}, maxLength: sizeBound{n: -1},
		minItems: sizeBound{n: -1}, maxItems: sizeBound{n: -1},
		minContains: sizeBound{n: -1}, maxContains: sizeBound{n: -1},
		minProps: sizeBound{n: -1}, maxProps: sizeBound{n: -1},
	}
	c.nodes[v] = n
	c.order = append(c.order, n)
	switch v.Type() {
	case fastjson.TypeTrue:
		return n
	case fastjson.TypeFalse:
		n.never = true
		return n
	case fastjson.TypeObject:
	default:
		c.errorf(loc, "schema must be an object or a boolean, not %s", v.Type())
		return n
	}
	o := v.GetObject()
	// $id sets the base URI for every other keyword of this schema.
	if id := o.Get("$id"); id != nil {
		base = c.identify(v, id, loc, base)
	}
	o.Visit(func(k []byte, kv *fastjson.Value) {
		c.keyword(n, v, string(k), kv, loc, base)
	})
	c.finish(n, loc)
	return n
}

// identify registers the schema v under its $id and returns the new base.
func (c *compiler) identify(v, id *fastjson.Value, loc, base string) string {
	kloc := loc + "/$id"
	s, ok := c.str(id, kloc)
	if !ok {
		return base
	}
	abs, err := resolveURI(base, s)
	if err != nil {
		c.errorf(kloc, "invalid URI reference: %v", err)
		return base
	}
	u, _ := url.Parse(abs)
	if u.Fragment != "" {
		c.errorf(kloc, "must not have a fragment (use $anchor)")
		return base
	}
	u.Fragment, u.RawFragment = "", ""
	abs = u.String()
	if prev, dup := c.resources[abs]; dup && prev.v != v {
		c.errorf(kloc, "%q is also the $id of %s", abs, displayLoc(prev.ptr))
		return base
	}
	c.resources[abs] = location{v, loc, abs}
	return abs
}

// index registers the $id resources and $anchors of the document under v
// (at loc, with base URI base) without compiling it, for references from
// the compiled part to parts outside it; errors in parts never compiled are
// not reported. Values of const, enum, default and examples are data, not
// schemas, and are not searched.
func (c *compiler) index(v *fastjson.Value, loc, base string) {
	switch v.Type() {
	case fastjson.TypeArray:
		for i, e := range v.GetArray() {
			c.index(e, loc+"/"+strconv.Itoa(i), base)
		}
		return
	case fastjson.TypeObject:
	default:
		return
	}
	o := v.GetObject()
	if id := o.Get("$id"); id != nil && id.Type() == fastjson.TypeString {
		if abs, err := resolveURI(base, string(id.GetStringBytes())); err == nil {
			if u, err := url.Parse(abs); err == nil && u.Fragment == "" {
				base = u.String()
				if _, dup := c.resources[base]; !dup {
					c.resources[base] = location{v, loc, base}
				}
			}
		}
	}
	if a := o.Get("$anchor"); a != nil && a.Type() == fastjson.TypeString {
		if name := string(a.GetStringBytes()); anchorName.MatchString(name) {
			if _, dup := c.anchors[base+"#"+name]; !dup {
				c.anchors[base+"#"+name] = location{v, loc, base}
			}
		}
	}
	o.Visit(func(k []byte, kv *fastjson.Value) {
		switch string(k) {
		case "const", "enum", "default", "examples":
			return
		}
		c.index(kv, loc+"/"+escapePointer(string(k)), base)
	})
}

func displayLoc(ptr string) string {
	if ptr == "" {
		return "(document root)"
	}
	return ptr
}

// formats maps each asserted format to its check.
var formats = map[string]func([]byte) bool{
	"email":     isEmail,
	"uuid":      isUUID,
	"date-time": isDateTime,
	"date":      isDate,
	"time":      isTime,
	"ipv4":      isIPv4,
	"ipv6":      isIPv6,
	"hostname":  isHostname,
	"uri":       isURI,
}

// annotations are the keywords without validation effect.
var annotations = map[string]bool{
	"$comment": true, "title": true, "description": true, "default": true,
	"examples": true, "deprecated": true, "readOnly": true, "writeOnly": true,
}

// keyword compiles the keyword k with value v of the schema sv at loc into n.
func (c *compiler) keyword(n *node, sv *fastjson.Value, k string, v *fastjson.Value, loc, base string) {
	kloc := loc + "/" + escapePointer(k)
	switch k {
	case "$id":
		// Done first, in compile.
	case "$schema":
		if s, ok := c.str(v, kloc); ok && s != Dialect && s != Dialect+"#" {
			c.errorf(kloc, "dialect %q not supported (only %s)", s, Dialect)
		}
	case "$anchor":
		c.anchor(sv, v, kloc, loc, base)
	case "$defs":
		c.schemaMap(v, kloc, base)
	case "$ref":
		if s, ok := c.str(v, kloc); ok {
			c.refs = append(c.refs, pendingRef{n, s, kloc, base})
			n.hasInPlace = true
		}

	case "type":
		c.types(n, v, kloc)
	case "enum":
		if v.Type() != fastjson.TypeArray {
			c.errorf(kloc, "must be an array")
			return
		}
		for i, item := range v.GetArray() {
			c.exactNumbers(item, kloc+"/"+strconv.Itoa(i))
			n.enum = append(n.enum, newConstValue(item))
		}
		n.hasEnum = true
	case "const":
		c.exactNumbers(v, kloc)
		n.constVal = newConstValue(v)

	case "minimum":
		c.bound(n, v, kloc, "minimum: less than ", true, false, false)
	case "exclusiveMinimum":
		c.bound(n, v, kloc, "exclusiveMinimum: not greater than ", true, true, false)
	case "maximum":
		c.bound(n, v, kloc, "maximum: greater than ", false, false, true)
	case "exclusiveMaximum":
		c.bound(n, v, kloc, "exclusiveMaximum: not less than ", false, true, true)
	case "multipleOf":
		if d, text, ok := c.number(v, kloc); ok {
			if d.sign() <= 0 {
				c.errorf(kloc, "must be greater than 0")
				return
			}
			n.multipleOf = &d
			n.multipleMsg = "multipleOf: not a multiple of " + text
		}

	case "minLength":
		n.minLength = c.size(v, kloc, "minLength: shorter than %d characters")
	case "maxLength":
		n.maxLength = c.size(v, kloc, "maxLength: longer than %d characters")
	case "pattern":
		if s, ok := c.str(v, kloc); ok {
			n.pattern = c.regexp(s, kloc)
			n.patternMsg = "pattern: does not match " + s
		}
	case "format":
		s, ok := c.str(v, kloc)
		if !ok {
			return
		}
		f := formats[s]
		if f == nil {
			c.errorf(kloc, "format %q not supported", s)
			return
		}
		n.format = f
		n.formatMsg = "format: not a valid " + s

	case "minItems":
		n.minItems = c.size(v, kloc, "minItems: fewer than %d items")
	case "maxItems":
		n.maxItems = c.size(v, kloc, "maxItems: more than %d items")
	case "uniqueItems":
		switch v.Type() {
		case fastjson.TypeTrue:
			n.uniqueItems = true
		case fastjson.TypeFalse:
		default:
			c.errorf(kloc, "must be a boolean")
		}
	case "prefixItems":
		n.prefixItems = c.schemaList(v, kloc, base)
	case "items":
		if v.Type() == fastjson.TypeArray {
			c.errorf(kloc, "must be a schema (the array form is draft 2019-09 and older: use prefixItems)")
			return
		}
		n.items = c.compile(v, kloc, base)
	case "contains":
		n.contains = c.compile(v, kloc, base)
	case "minContains":
		n.minContains = c.size(v, kloc, "minContains: fewer than %d matching items")
	case "maxContains":
		n.maxContains = c.size(v, kloc, "maxContains: more than %d matching items")

	case "minProperties":
		n.minProps = c.size(v, kloc, "minProperties: fewer than %d properties")
	case "maxProperties":
		n.maxProps = c.size(v, kloc, "maxProperties: more than %d properties")
	case "required":
		for _, name := range c.strList(v, kloc) {
			n.required = append(n.required, requiredName{name, "required: missing property " + strconv.Quote(name)})
		}
	case "dependentRequired":
		c.dependentRequired(n, v, kloc)
	case "properties":
		for name, s := range c.schemaMap(v, kloc, base) {
			n.properties = append(n.properties, property{name, s})
		}
		slices.SortFunc(n.properties, func(a, b property) int { return strings.Compare(a.name, b.name) })
	case "patternProperties":
		if v.Type() != fastjson.TypeObject {
			c.errorf(kloc, "must be an object")
			return
		}
		v.GetObject().Visit(func(p []byte, sv *fastjson.Value) {
			ploc := kloc + "/" + escapePointer(string(p))
			n.patternProperties = append(n.patternProperties, patternProperty{
				re:   c.regexp(string(p), ploc),
				node: c.compile(sv, ploc, base),
			})
		})
	case "additionalProperties":
		n.additional = c.compile(v, kloc, base)
	case "propertyNames":
		n.propertyNames = c.compile(v, kloc, base)

	case "allOf":
		n.allOf = c.schemaList(v, kloc, base)
	case "anyOf":
		n.anyOf = c.schemaList(v, kloc, base)
	case "oneOf":
		n.oneOf = c.schemaList(v, kloc, base)
	case "not":
		n.not = c.compile(v, kloc, base)
	case "if":
		n.ifS = c.compile(v, kloc, base)
	case "then":
		n.thenS = c.compile(v, kloc, base)
	case "else":
		n.elseS = c.compile(v, kloc, base)

	default:
		if !annotations[k] {
			c.errorf(kloc, "keyword not supported")
		}
	}
}

// finish sets what validation needs to know about n as a whole.
func (c *compiler) finish(n *node, loc string) {
	if n.contains != nil && n.minContains.n < 0 {
		n.minContains = sizeBound{1, "contains: no item matches"}
	}
	if n.contains == nil {
		// minContains and maxContains without contains have no effect.
		n.minContains, n.maxContains = sizeBound{n: -1}, sizeBound{n: -1}
	}
	if n.ifS == nil {
		n.thenS, n.elseS = nil, nil // compiled for their errors, without effect
	}
	n.hasNumber = len(n.bounds) > 0 || n.multipleOf != nil || n.types&typeInteger != 0
	n.hasString = n.minLength.n >= 0 || n.maxLength.n >= 0 || n.pattern != nil || n.format != nil
	n.hasArray = n.minItems.n >= 0 || n.maxItems.n >= 0 || n.uniqueItems || len(n.prefixItems) > 0 ||
		n.items != nil || n.contains != nil
	n.walkMembers = len(n.properties) > 0 || len(n.patternProperties) > 0 || n.additional != nil || n.propertyNames != nil
	n.hasObject = n.minProps.n >= 0 || n.maxProps.n >= 0 || len(n.required) > 0 ||
		len(n.dependentRequired) > 0 || n.walkMembers
	n.hasInPlace = n.hasInPlace || len(n.allOf) > 0 || len(n.anyOf) > 0 || len(n.oneOf) > 0 ||
		n.not != nil || n.ifS != nil
}

var typeNames = map[string]typeSet{
	"null": typeNull, "boolean": typeBoolean, "object": typeObject, "array": typeArray,
	"number": typeNumber, "integer": typeInteger, "string": typeString,
}

func (c *compiler) types(n *node, v *fastjson.Value, kloc string) {
	var names []string
	switch v.Type() {
	case fastjson.TypeString:
		names = []string{string(v.GetStringBytes())}
	case fastjson.TypeArray:
		names = c.strList(v, kloc)
	default:
		c.errorf(kloc, "must be a string or an array of strings")
		return
	}
	for _, name := range names {
		t, ok := typeNames[name]
		if !ok {
			c.errorf(kloc, "unknown type %q", name)
			continue
		}
		n.types |= t
	}
	if len(names) == 0 {
		c.errorf(kloc, "must name at least one type")
		return
	}
	n.typeReason = "type: expected " + strings.Join(names, " or ")
}

// bound compiles minimum and its kin: the instance fails when it compares
// to the limit as the flags say (below, equal, above).
func (c *compiler) bound(n *node, v *fastjson.Value, kloc, msg string, below, equal, above bool) {
	d, text, ok := c.number(v, kloc)
	if !ok {
		return
	}
	n.bounds = append(n.bounds, numBound{limit: d, failBelow: below, failEqual: equal, failAbove: above, msg: msg + text})
}

func (c *compiler) number(v *fastjson.Value, kloc string) (decimal, string, bool) {
	if v.Type() != fastjson.TypeNumber {
		c.errorf(kloc, "must be a number")
		return decimal{}, "", false
	}
	text := string(v.MarshalTo(nil))
	d, ok := parseDecimal([]byte(text))
	if !ok {
		c.errorf(kloc, errExponent)
	}
	return d, text, ok
}

// errExponent: the only JSON numbers parseDecimal refuses.
const errExponent = "number out of range: exponent beyond ±2^56"

// exactNumbers reports the numbers of a const or enum value, at any depth,
// that parseDecimal cannot hold exactly: compared as they are, they would
// equal nothing (or, as a null, the wrong thing).
func (c *compiler) exactNumbers(v *fastjson.Value, kloc string) {
	switch v.Type() {
	case fastjson.TypeNumber:
		if _, ok := parseDecimal(v.MarshalTo(nil)); !ok {
			c.errorf(kloc, errExponent)
		}
	case fastjson.TypeArray:
		for i, item := range v.GetArray() {
			c.exactNumbers(item, kloc+"/"+strconv.Itoa(i))
		}
	case fastjson.TypeObject:
		v.GetObject().Visit(func(k []byte, child *fastjson.Value) {
			c.exactNumbers(child, kloc+"/"+escapePointer(string(k)))
		})
	}
}

// size compiles a non-negative integer keyword; 2.0 counts as 2.
func (c *compiler) size(v *fastjson.Value, kloc, msg string) sizeBound {
	if v.Type() == fastjson.TypeNumber {
		if d, ok := parseDecimal(v.MarshalTo(nil)); ok {
			if i, ok := decimalInt(d); ok {
				return sizeBound{i, fmt.Sprintf(msg, i)}
			}
		}
	}
	c.errorf(kloc, "must be a non-negative integer")
	return sizeBound{n: -1}
}

func (c *compiler) str(v *fastjson.Value, kloc string) (string, bool) {
	if v.Type() != fastjson.TypeString {
		c.errorf(kloc, "must be a string")
		return "", false
	}
	return string(v.GetStringBytes()), true
}

// strList compiles an array of unique strings.
func (c *compiler) strList(v *fastjson.Value, kloc string) []string {
	if v.Type() != fastjson.TypeArray {
		c.errorf(kloc, "must be an array of strings")
		return nil
	}
	var out []string
	for i, item := range v.GetArray() {
		s, ok := c.str(item, kloc+"/"+strconv.Itoa(i))
		if !ok {
			continue
		}
		if slices.Contains(out, s) {
			c.errorf(kloc+"/"+strconv.Itoa(i), "%q listed twice", s)
			continue
		}
		out = append(out, s)
	}
	return out
}

func (c *compiler) schemaList(v *fastjson.Value, kloc, base string) []*node {
	items := v.GetArray()
	if v.Type() != fastjson.TypeArray || len(items) == 0 {
		c.errorf(kloc, "must be a non-empty array of schemas")
		return nil
	}
	out := make([]*node, len(items))
	for i, item := range items {
		out[i] = c.compile(item, kloc+"/"+strconv.Itoa(i), base)
	}
	return out
}

// schemaMap compiles an object whose members are schemas, in order.
func (c *compiler) schemaMap(v *fastjson.Value, kloc, base string) map[string]*node {
	if v.Type() != fastjson.TypeObject {
		c.errorf(kloc, "must be an object")
		return nil
	}
	out := map[string]*node{}
	v.GetObject().Visit(func(k []byte, sv *fastjson.Value) {
		out[string(k)] = c.compile(sv, kloc+"/"+escapePointer(string(k)), base)
	})
	return out
}

func (c *compiler) dependentRequired(n *node, v *fastjson.Value, kloc string) {
	if v.Type() != fastjson.TypeObject {
		c.errorf(kloc, "must be an object")
		return
	}
	v.GetObject().Visit(func(k []byte, list *fastjson.Value) {
		d := dependency{name: string(k)}
		for _, name := range c.strList(list, kloc+"/"+escapePointer(d.name)) {
			d.required = append(d.required, requiredName{name,
				"dependentRequired: property " + strconv.Quote(d.name) + " requires " + strconv.Quote(name)})
		}
		n.dependentRequired = append(n.dependentRequired, d)
	})
}

var anchorName = regexp.MustCompile(`^[A-Za-z_][-A-Za-z0-9._]*$`)

func (c *compiler) anchor(sv, v *fastjson.Value, kloc, loc, base string) {
	s, ok := c.str(v, kloc)
	if !ok {
		return
	}
	if !anchorName.MatchString(s) {
		c.errorf(kloc, "invalid anchor name %q", s)
		return
	}
	key := base + "#" + s
	if prev, dup := c.anchors[key]; dup && prev.ptr != loc {
		c.errorf(kloc, "anchor %q also defined at %s", s, displayLoc(prev.ptr))
		return
	}
	c.anchors[key] = location{sv, loc, base}
}

// regexp compiles a pattern once per compile.
func (c *compiler) regexp(s, kloc string) *regexp.Regexp {
	if re, ok := c.regexps[s]; ok {
		return re
	}
	re, err := regexp.Compile(s)
	if err != nil {
		c.errorf(kloc, "pattern not supported by Go's RE2 (lookaround, backreferences and \\u escapes are ECMA-262 only): %v", err)
		re = regexp.MustCompile(`$^`)
	}
	c.regexps[s] = re
	return re
}

// resolveRefs links each $ref to its target, compiling targets outside the
// schema compiled so far (which may add references of their own).
func (c *compiler) resolveRefs() {
	for i := 0; i < len(c.refs); i++ {
		r := c.refs[i]
		target, ok := c.resolve(r)
		if ok {
			r.n.ref = c.compile(target.v, target.ptr, target.base)
		}
	}
}

func (c *compiler) resolve(r pendingRef) (location, bool) {
	abs, err := resolveURI(r.base, r.ref)
	if err != nil {
		c.errorf(r.loc, "invalid URI reference %q: %v", r.ref, err)
		return location{}, false
	}
	u, _ := url.Parse(abs)
	frag := u.Fragment
	u.Fragment, u.RawFragment = "", ""
	res, ok := c.resources[u.String()]
	if !ok {
		c.errorf(r.loc, "reference %q is not in this document (remote references are not supported)", r.ref)
		return location{}, false
	}
	switch {
	case frag == "":
		return res, true
	case frag[0] == '/':
		v, err := walkPointer(res.v, frag)
		if err != nil {
			c.errorf(r.loc, "reference %q: %v", r.ref, err)
			return location{}, false
		}
		return location{v, res.ptr + frag, res.base}, true
	}
	a, ok := c.anchors[res.base+"#"+frag]
	if !ok {
		c.errorf(r.loc, "reference %q: no $anchor %q in this document", r.ref, frag)
		return location{}, false
	}
	return a, true
}

func resolveURI(base, ref string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(ref)
	if err != nil {
		return "", err
	}
	// The callers parse the result again: it must parse ("//0::" parses
	// as a reference, but against a base with a scheme makes a URL whose
	// port does not).
	abs := b.ResolveReference(u).String()
	if _, err := url.Parse(abs); err != nil {
		return "", err
	}
	return abs, nil
}

// walkPointer returns the value at the JSON pointer p under v.
func walkPointer(v *fastjson.Value, p string) (*fastjson.Value, error) {
	if p == "" {
		return v, nil
	}
	if p[0] != '/' {
		return nil, errors.New("not a JSON pointer")
	}
	for _, tok := range strings.Split(p[1:], "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch v.Type() {
		case fastjson.TypeObject:
			v = v.GetObject().Get(tok)
		case fastjson.TypeArray:
			i, err := strconv.Atoi(tok)
			items := v.GetArray()
			if err != nil || i < 0 || i >= len(items) || (len(tok) > 1 && tok[0] == '0') {
				v = nil
			} else {
				v = items[i]
			}
		default:
			v = nil
		}
		if v == nil {
			return nil, fmt.Errorf("no value at %q", p)
		}
	}
	return v, nil
}

// hasRefCycle reports whether some schema can reach itself through any
// subschema edges (which then must include a descent into the instance,
// since checkCycles refused the rest).
func (c *compiler) hasRefCycle() bool {
	const (
		unseen = iota
		active
		done
	)
	color := map[*node]int{}
	var visit func(n *node) bool
	visit = func(n *node) bool {
		switch color[n] {
		case active:
			return true
		case done:
			return false
		}
		color[n] = active
		for _, m := range n.children() {
			if m != nil && visit(m) {
				return true
			}
		}
		color[n] = done
		return false
	}
	for _, n := range c.order {
		if visit(n) {
			return true
		}
	}
	return false
}

// children returns every subschema of n, in place or not.
func (n *node) children() []*node {
	out := slices.Concat(n.allOf, n.anyOf, n.oneOf, n.prefixItems,
		[]*node{n.ref, n.not, n.ifS, n.thenS, n.elseS, n.items, n.contains, n.additional, n.propertyNames})
	for _, p := range n.properties {
		out = append(out, p.node)
	}
	for _, p := range n.patternProperties {
		out = append(out, p.node)
	}
	return out
}

// checkCycles refuses $ref (and allOf, anyOf, ...) loops that apply a
// schema to the same instance again without descending into it: validation
// would never end.
func (c *compiler) checkCycles() {
	const (
		unseen = iota
		active
		done
	)
	color := map[*node]int{}
	var visit func(n *node) bool
	visit = func(n *node) bool {
		switch color[n] {
		case active:
			c.errorf(n.loc, "reference cycle that never descends into the instance")
			return false
		case done:
			return true
		}
		color[n] = active
		next := slices.Concat(n.allOf, n.anyOf, n.oneOf, []*node{n.ref, n.not, n.ifS, n.thenS, n.elseS})
		for _, m := range next {
			if m != nil && !visit(m) {
				return false
			}
		}
		color[n] = done
		return true
	}
	for _, n := range c.order {
		if !visit(n) {
			return
		}
	}
}

// whereMalformed says where and how a schema document that is not one
// well-formed JSON value goes wrong, for the operator who must fix it:
// the line and column, a byte order mark, a YAML document.
func whereMalformed(doc []byte) string {
	if bytes.HasPrefix(doc, []byte("\xef\xbb\xbf")) {
		return " (the file starts with a byte order mark: save it as UTF-8 without one)"
	}
	trimmed := bytes.TrimLeft(doc, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] != '{' && trimmed[0] != '[' && bytes.IndexByte(trimmed, ':') > 0 {
		return " (not JSON: a YAML document? json_schema_file takes JSON; an OpenAPI document in YAML goes in openapi_file)"
	}
	var v any
	err := json.Unmarshal(doc, &v)
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return ""
	}
	line := 1 + bytes.Count(doc[:se.Offset], []byte{'\n'})
	col := int(se.Offset) - bytes.LastIndexByte(doc[:se.Offset], '\n') - 1
	return fmt.Sprintf(" (line %d, column %d: %v)", line, col, se)
}
