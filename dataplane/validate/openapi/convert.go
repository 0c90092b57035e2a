package openapi

import (
	"errors"
	"slices"
	"strconv"
	"strings"
)

// OASDialect is the schema dialect of OpenAPI 3.1 documents: draft 2020-12
// with the OpenAPI vocabulary (discriminator, xml, externalDocs, example).
const OASDialect = "https://spec.openapis.org/oas/3.1/dialect/base"

// oasAnnotations are the OpenAPI vocabulary keywords of a Schema Object
// (both versions) that do not validate: they are removed from schema
// positions before compiling. discriminator is handled apart.
var oasAnnotations = map[string]bool{"example": true, "xml": true, "externalDocs": true}

// refAnnotations are the siblings of $ref an OpenAPI 3.0 document may
// carry: 3.0 ignores every sibling of $ref, so a sibling that would
// validate is refused rather than silently dropped.
var refAnnotations = map[string]bool{
	"description": true, "summary": true, "title": true, "example": true, "examples": true,
	"externalDocs": true, "xml": true, "deprecated": true, "default": true, "$comment": true,
}

// schemaList, schemaMap and schemaOne name the keywords whose values are
// schemas (an array of them, an object of them, one), the only places the
// conversion looks into: a property named "example" is never removed.
var (
	schemaList = []string{"allOf", "anyOf", "oneOf", "prefixItems"}
	schemaMap  = []string{"properties", "patternProperties", "$defs", "dependentSchemas"}
	schemaOne  = []string{"items", "additionalProperties", "not", "contains", "propertyNames",
		"if", "then", "else", "unevaluatedItems", "unevaluatedProperties"}
)

// formatBounds turns the OpenAPI integer formats into the bounds they
// assert: the bounds as JSON numbers, and as float64 values (exact) that
// a schema's own bound must be strictly within for the format's bound to
// be redundant (2^63-1 is not a float64: 2^63-1024 is the largest below).
var formatBounds = map[string]struct {
	low, high   string
	lowF, highF float64
}{
	"int32": {"-2147483648", "2147483647", -2147483648, 2147483647},
	"int64": {"-9223372036854775808", "9223372036854775807", -9223372036854775808, 9223372036854774784},
}

// base64Pattern is what format "byte" asserts (RFC 4648 base64, padded).
const base64Pattern = `^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$`

// annotationFormats are OpenAPI formats without an assertion on a JSON
// value: float and double describe a number's precision, binary and
// password a string's use.
var annotationFormats = map[string]bool{"float": true, "double": true, "binary": true, "password": true}

// convertSchema rewrites the schema at ptr, in place, into the draft
// 2020-12 subset the schema compiler takes, and queues the targets of
// its local references for the same treatment. Each value is converted
// once: references share their targets.
func (l *loader) convertSchema(v *value, ptr string) {
	if v == nil || l.converted[v] {
		return
	}
	l.converted[v] = true
	switch v.kind {
	case kindBool:
		// 3.0 has them as additionalProperties only; elsewhere they are
		// invalid 3.0 that 2020-12 reads plainly.
		return
	case kindObject:
	default:
		l.errorf(v, ptr, "a schema must be an object, not %s", v.kind)
		return
	}
	if ref := v.get("$ref"); ref != nil {
		l.convertRef(v, ref, ptr)
	}
	for _, k := range slices.Clone(v.keys) {
		switch {
		case strings.HasPrefix(k, "x-"), oasAnnotations[k]:
			v.del(k)
		case k == "$schema" && v.get(k).kind == kindString && strings.TrimSuffix(v.get(k).str, "#") == OASDialect:
			v.del(k)
		}
	}
	if !l.v31 {
		l.convert30(v, ptr)
	} else if n := v.get("nullable"); n != nil {
		l.errorf(n, ptr+"/nullable", `nullable is OpenAPI 3.0; in 3.1 write type: [<type>, "null"]`)
	}
	l.convertFormat(v, ptr)
	if d := v.get("discriminator"); d != nil {
		l.convertDiscriminator(v, d, ptr)
	}
	l.dropReadOnlyRequired(v)

	for _, k := range schemaList {
		if list := v.get(k); list != nil && list.kind == kindArray {
			for i, s := range list.items {
				l.convertSchema(s, ptr+"/"+k+"/"+strconv.Itoa(i))
			}
		}
	}
	for _, k := range schemaMap {
		if m := v.get(k); m != nil && m.kind == kindObject {
			for i, name := range m.keys {
				l.convertSchema(m.vals[i], ptr+"/"+k+"/"+escapeToken(name))
			}
		}
	}
	for _, k := range schemaOne {
		if s := v.get(k); s != nil && (s.kind == kindObject || s.kind == kindBool) {
			l.convertSchema(s, ptr+"/"+k)
		}
	}
}

// convertRef checks the siblings of a $ref and queues its target.
func (l *loader) convertRef(v, ref *value, ptr string) {
	if ref.kind != kindString {
		l.errorf(ref, ptr+"/$ref", "must be a string")
		return
	}
	target, ok := refPointer(ref.str)
	if !ok {
		l.errorf(ref, ptr+"/$ref", "reference %q not supported (only local references #/...)", ref.str)
		return
	}
	t := l.root.lookup(target)
	if t == nil {
		l.errorf(ref, ptr+"/$ref", "reference %q: no value there", ref.str)
		return
	}
	if !l.v31 {
		for _, k := range slices.Clone(v.keys) {
			switch {
			case k == "$ref":
			case refAnnotations[k] || strings.HasPrefix(k, "x-"):
				v.del(k)
			default:
				l.errorf(v.get(k), ptr+"/"+escapeToken(k),
					"OpenAPI 3.0 ignores the siblings of $ref; put %s in an allOf beside the $ref", k)
			}
		}
	}
	l.convertSchema(t, target)
}

// convert30 rewrites the OpenAPI 3.0 forms of nullable and of the
// exclusive bounds.
func (l *loader) convert30(v *value, ptr string) {
	if t := v.get("type"); t != nil && t.kind != kindString {
		// A list of types is 3.1's (JSON Schema 2020-12); a 3.0 reader
		// would refuse or misread it.
		l.errorf(t, ptr+"/type", "must be one type name in OpenAPI 3.0 (a list of types is 3.1; use nullable: true for null)")
		v.del("type")
	}
	if n := v.get("nullable"); n != nil {
		v.del("nullable")
		if n.kind != kindBool {
			l.errorf(n, ptr+"/nullable", "must be a boolean")
		} else if t := v.get("type"); n.truth && t != nil {
			// OpenAPI 3.0.3: nullable only takes effect with a type, and
			// adds null to it; an enum must list null itself.
			v.set("type", &value{kind: kindArray, items: []*value{newString(t.str), newString("null")}, line: t.line})
		}
	}
	for _, b := range [...]struct{ excl, bound string }{{"exclusiveMinimum", "minimum"}, {"exclusiveMaximum", "maximum"}} {
		e := v.get(b.excl)
		if e == nil || e.kind != kindBool {
			continue // the 2020-12 numeric form passes as it is
		}
		v.del(b.excl)
		if bound := v.get(b.bound); e.truth && bound != nil {
			v.del(b.bound)
			v.set(b.excl, bound)
		}
	}
}

// convertFormat turns the OpenAPI formats into what they assert; the
// formats of the schema compiler pass, any other is refused by it.
func (l *loader) convertFormat(v *value, ptr string) {
	f := v.get("format")
	if f == nil || f.kind != kindString {
		return
	}
	switch {
	case annotationFormats[f.str]:
		v.del("format")
	case f.str == "byte":
		v.del("format")
		l.addAllOf(v, &value{kind: kindObject, keys: []string{"pattern"}, vals: []*value{newString(base64Pattern)}})
	default:
		b, ok := formatBounds[f.str]
		if !ok {
			return
		}
		v.del("format")
		extra := &value{kind: kindObject}
		for _, side := range [...]struct {
			bound, excl, limit string
			limitF             float64
			below              bool
		}{{"minimum", "exclusiveMinimum", b.low, b.lowF, true}, {"maximum", "exclusiveMaximum", b.high, b.highF, false}} {
			switch {
			case l.within(v, side.bound, side.limit, side.limitF, side.below) || l.within(v, side.excl, side.limit, side.limitF, side.below):
				// The schema's own bound is at least as tight.
			case v.get(side.bound) == nil:
				v.set(side.bound, newNumber(side.limit))
			default:
				extra.set(side.bound, newNumber(side.limit))
			}
		}
		if len(extra.keys) > 0 {
			l.addAllOf(v, extra)
		}
	}
}

// within reports whether the schema's bound keyword k is a number
// provably within the format's limit. Numbers are compared as float64,
// strictly against limits that are exact float64 values (rounding is
// monotonic, so that is sound); big.Rat would expand an exponent such as
// 1e999999999 at the cost the document's author chooses.
func (l *loader) within(v *value, k, limit string, limitF float64, below bool) bool {
	x := v.get(k)
	if x == nil || x.kind != kindNumber {
		return false
	}
	if x.str == limit {
		return true
	}
	f, err := strconv.ParseFloat(x.str, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return false
	}
	if below {
		return f > limitF
	}
	return f < limitF
}

// addAllOf adds s to the schema's allOf, so that it adds to the keywords
// the schema has instead of replacing one. The added schemas are already
// in 2020-12 form.
func (l *loader) addAllOf(v, s *value) {
	l.converted[s] = true
	all := v.get("allOf")
	if all == nil || all.kind != kindArray {
		if all != nil {
			return // not an array: the compiler reports it
		}
		all = &value{kind: kindArray}
		v.set("allOf", all)
	}
	all.items = append(all.items, s)
}

// convertDiscriminator replaces a oneOf or anyOf of references that a
// discriminator selects from with the selection itself: the property
// must name a mapped schema, and the body is validated by that schema
// only. A plain oneOf would refuse a body that two of the schemas accept
// (they seldom exclude each other's properties), where OpenAPI tools
// validate the schema the discriminator names. A discriminator without
// such a list (on a base schema used through allOf) only annotates.
func (l *loader) convertDiscriminator(v, d *value, ptr string) {
	v.del("discriminator")
	dptr := ptr + "/discriminator"
	if d.kind != kindObject {
		l.errorf(d, dptr, "must be an object")
		return
	}
	name := d.get("propertyName")
	if name == nil || name.kind != kindString {
		l.errorf(d, dptr, "propertyName: must be a string")
		return
	}
	listKey := "oneOf"
	list := v.get("oneOf")
	if list == nil {
		listKey, list = "anyOf", v.get("anyOf")
	}
	if list == nil || list.kind != kindArray || len(list.items) == 0 {
		return
	}
	var refs []string
	for _, s := range list.items {
		r := s.get("$ref")
		if r == nil || r.kind != kindString || len(s.keys) != 1 {
			return // inline schemas: the plain oneOf stays
		}
		refs = append(refs, r.str)
	}
	type choice struct{ value, ref string }
	var choices []choice
	mapped := map[string]bool{}
	if m := d.get("mapping"); m != nil {
		if m.kind != kindObject {
			l.errorf(m, dptr+"/mapping", "must be an object")
			return
		}
		for i, k := range m.keys {
			target := m.vals[i]
			if target.kind != kindString {
				l.errorf(target, dptr+"/mapping/"+escapeToken(k), "must be a string")
				return
			}
			ref := target.str
			if !strings.ContainsAny(ref, "#/") {
				ref = "#/components/schemas/" + escapeToken(ref)
			}
			if !slices.Contains(refs, ref) {
				l.errorf(target, dptr+"/mapping/"+escapeToken(k), "%q is not one of the %s schemas", target.str, listKey)
				return
			}
			choices = append(choices, choice{k, ref})
			mapped[ref] = true
		}
	}
	for _, ref := range refs {
		if mapped[ref] {
			continue
		}
		// Implicit mapping: the schema's name in components.
		i := strings.LastIndexByte(ref, '/')
		choices = append(choices, choice{unescapeToken.Replace(ref[i+1:]), ref})
	}
	v.del(listKey)
	req := v.get("required")
	if req == nil || req.kind != kindArray {
		if req != nil {
			return
		}
		req = &value{kind: kindArray}
		v.set("required", req)
	}
	if !slices.ContainsFunc(req.items, func(x *value) bool { return x.kind == kindString && x.str == name.str }) {
		req.items = append(req.items, newString(name.str))
	}
	enum := &value{kind: kindArray}
	for _, c := range choices {
		enum.items = append(enum.items, newString(c.value))
	}
	l.addAllOf(v, object("properties", object(name.str, object("enum", enum))))
	for _, c := range choices {
		sel := object("if", object("required", &value{kind: kindArray, items: []*value{newString(name.str)}},
			"properties", object(name.str, object("const", newString(c.value)))),
			"then", object("$ref", newString(c.ref)))
		l.addAllOf(v, sel)
	}
	for _, ref := range refs {
		if p, ok := refPointer(ref); ok {
			l.convertSchema(l.root.lookup(p), p)
		}
	}
}

// object builds an object from key, value pairs.
func object(kv ...any) *value {
	o := &value{kind: kindObject}
	for i := 0; i+1 < len(kv); i += 2 {
		o.keys = append(o.keys, kv[i].(string))
		o.vals = append(o.vals, kv[i+1].(*value))
	}
	return o
}

// dropReadOnlyRequired removes from required the properties marked
// readOnly: OpenAPI says such a property is required in responses only,
// and this document is compiled for requests.
func (l *loader) dropReadOnlyRequired(v *value) {
	req, props := v.get("required"), v.get("properties")
	if req == nil || req.kind != kindArray || props == nil || props.kind != kindObject {
		return
	}
	req.items = slices.DeleteFunc(req.items, func(x *value) bool {
		return x.kind == kindString && l.readOnly(props.get(x.str), 0)
	})
	if len(req.items) == 0 {
		v.del("required")
	}
}

// readOnly reports whether the schema s is marked readOnly, looking
// through a few levels of $ref.
func (l *loader) readOnly(s *value, depth int) bool {
	if s == nil || s.kind != kindObject || depth > 8 {
		return false
	}
	if ro := s.get("readOnly"); ro != nil && ro.kind == kindBool && ro.truth {
		return true
	}
	if r := s.get("$ref"); r != nil && r.kind == kindString {
		if p, ok := refPointer(r.str); ok {
			return l.readOnly(l.root.lookup(p), depth+1)
		}
	}
	return false
}
