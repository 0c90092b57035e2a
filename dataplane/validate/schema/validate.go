package schema

import (
	"regexp"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// typeSet is a set of JSON Schema type names.
type typeSet uint8

const (
	typeNull typeSet = 1 << iota
	typeBoolean
	typeObject
	typeArray
	typeNumber
	typeInteger
	typeString
)

// node is one compiled schema: every keyword it has, precomputed. Absent
// size keywords are -1; absent subschemas are nil.
type node struct {
	loc   string // JSON pointer of the schema in its document
	never bool   // the schema false

	types      typeSet
	typeReason string

	constVal *constValue
	enum     []*constValue
	hasEnum  bool

	// Numbers.
	bounds      []numBound
	multipleOf  *decimal
	multipleMsg string

	// Strings.
	minLength, maxLength sizeBound
	pattern              *regexp.Regexp
	patternMsg           string
	format               func([]byte) bool
	formatMsg            string

	// Arrays.
	minItems, maxItems       sizeBound
	uniqueItems              bool
	prefixItems              []*node
	items                    *node
	contains                 *node
	minContains, maxContains sizeBound

	// Objects.
	minProps, maxProps sizeBound
	required           []requiredName
	dependentRequired  []dependency
	properties         []property // sorted by name
	patternProperties  []patternProperty
	additional         *node
	propertyNames      *node

	// Applicators to the same instance.
	ref               *node
	allOf, anyOf      []*node
	oneOf             []*node
	not               *node
	ifS, thenS, elseS *node

	// Which groups of keywords are present, to skip the rest.
	hasNumber   bool // a number keyword, or type integer (which needs the exact value)
	hasString   bool
	hasArray    bool
	hasObject   bool
	walkMembers bool // a keyword looks at each member of an object
	hasInPlace  bool
}

// sizeBound is a minLength-style keyword: n < 0 when absent.
type sizeBound struct {
	n   int
	msg string
}

// numBound is one of minimum, maximum, exclusiveMinimum, exclusiveMaximum.
type numBound struct {
	limit decimal
	// The instance fails when cmp(instance, limit) is one of these.
	failBelow, failEqual, failAbove bool
	msg                             string
}

type requiredName struct {
	name string
	msg  string
}

type dependency struct {
	name     string
	required []requiredName
}

type property struct {
	name string
	node *node
}

type patternProperty struct {
	re   *regexp.Regexp
	node *node
}

// Static reasons.
const (
	reasonFalse         = "false: no value allowed"
	reasonEnum          = "enum: value not in the list"
	reasonConst         = "const: value differs from the constant"
	reasonNotNumber     = "number: not a finite JSON number, or its exponent is beyond ±2^56"
	reasonUnique        = "uniqueItems: items are not unique"
	reasonItemFalse     = "items: item not allowed"
	reasonAdditional    = "additionalProperties: property not allowed"
	reasonPropertyNames = "propertyNames: property name not allowed"
	reasonAnyOf         = "anyOf: no subschema matches"
	reasonOneOfNone     = "oneOf: no subschema matches"
	reasonOneOfMany     = "oneOf: more than one subschema matches"
	reasonNot           = "not: value matches the excluded schema"
)

// kindOfInstance is kindOf, where a nil value is the property name being
// checked by propertyNames.
func kindOfInstance(v *fastjson.Value) kind {
	if v == nil {
		return kindString
	}
	return kindOf(v)
}

// stringOf returns the content of the string instance v.
func (st *state) stringOf(v *fastjson.Value) []byte {
	if v == nil {
		return st.name
	}
	return v.GetStringBytes()
}

// check validates v (nil: the string st.name) and reports whether it is
// valid. When st.collect is set it records violations and goes on until
// st.room is used up; otherwise it stops at the first failure.
func (n *node) check(v *fastjson.Value, st *state) bool {
	if st.steps++; st.steps > st.budget {
		return false // Validate reports ReasonTooCostly once, at the root
	}
	if n.never {
		st.fail(reasonFalse)
		return false
	}
	ok := true
	k := kindOfInstance(v)

	var num decimal
	if k == kindNumber && n.hasNumber {
		d, valid := st.decimal(v, 0)
		if !valid {
			st.fail(reasonNotNumber)
			return false
		}
		num = d
	}
	if n.types != 0 && !n.typeMatches(k, num) {
		ok = false
		if !st.fail(n.typeReason) {
			return false
		}
	}

	switch k {
	case kindNumber:
		if n.hasNumber && !n.checkNumber(num, st) {
			ok = false
			if st.stopped() {
				return false
			}
		}
	case kindString:
		if n.hasString && !n.checkString(st.stringOf(v), st) {
			ok = false
			if st.stopped() {
				return false
			}
		}
	case kindArray:
		if n.hasArray && !n.checkArray(v.GetArray(), st) {
			ok = false
			if st.stopped() {
				return false
			}
		}
	case kindObject:
		if n.hasObject && !n.checkObject(v.GetObject(), st) {
			ok = false
			if st.stopped() {
				return false
			}
		}
	}

	if n.constVal != nil && !n.constVal.equal(v, st) {
		ok = false
		if !st.fail(reasonConst) {
			return false
		}
	}
	if n.hasEnum && !n.inEnum(v, st) {
		ok = false
		if !st.fail(reasonEnum) {
			return false
		}
	}
	if n.hasInPlace && !n.checkInPlace(v, st) {
		ok = false
	}
	return ok
}

// stopped reports whether validation should return at the first failure.
func (st *state) stopped() bool { return !st.collect || st.room <= 0 }

func (n *node) typeMatches(k kind, num decimal) bool {
	switch k {
	case kindNull:
		return n.types&typeNull != 0
	case kindBool:
		return n.types&typeBoolean != 0
	case kindNumber:
		return n.types&typeNumber != 0 || n.types&typeInteger != 0 && num.isInteger()
	case kindString:
		return n.types&typeString != 0
	case kindArray:
		return n.types&typeArray != 0
	case kindObject:
		return n.types&typeObject != 0
	}
	return false
}

func (n *node) inEnum(v *fastjson.Value, st *state) bool {
	for _, c := range n.enum {
		if c.equal(v, st) {
			return true
		}
	}
	return false
}

func (n *node) checkNumber(d decimal, st *state) bool {
	ok := true
	for i := range n.bounds {
		b := &n.bounds[i]
		c := cmpDecimal(d, b.limit)
		if c < 0 && b.failBelow || c == 0 && b.failEqual || c > 0 && b.failAbove {
			ok = false
			if !st.fail(b.msg) {
				return false
			}
		}
	}
	if n.multipleOf != nil && !isMultipleOf(d, *n.multipleOf) {
		ok = false
		st.fail(n.multipleMsg)
	}
	return ok
}

func (n *node) checkString(s []byte, st *state) bool {
	ok := true
	// A string of 4n bytes or more has at least n code points; len/4
	// rather than 4n, which overflows for the saturated bounds of huge
	// minLength values (the check was skipped for 10^18 and up).
	if n.minLength.n > 0 && len(s)/4 < n.minLength.n &&
		(len(s) < n.minLength.n || utf8.RuneCount(s) < n.minLength.n) {
		ok = false
		if !st.fail(n.minLength.msg) {
			return false
		}
	}
	if n.maxLength.n >= 0 && len(s) > n.maxLength.n && utf8.RuneCount(s) > n.maxLength.n {
		ok = false
		if !st.fail(n.maxLength.msg) {
			return false
		}
	}
	if n.pattern != nil && !n.pattern.Match(s) {
		ok = false
		if !st.fail(n.patternMsg) {
			return false
		}
	}
	if n.format != nil && !n.format(s) {
		ok = false
		st.fail(n.formatMsg)
	}
	return ok
}

func (n *node) checkArray(items []*fastjson.Value, st *state) bool {
	ok := true
	if n.minItems.n >= 0 && len(items) < n.minItems.n {
		ok = false
		if !st.fail(n.minItems.msg) {
			return false
		}
	}
	if n.maxItems.n >= 0 && len(items) > n.maxItems.n {
		ok = false
		if !st.fail(n.maxItems.msg) {
			return false
		}
	}
	if len(n.prefixItems) > 0 || n.items != nil {
		for i, item := range items {
			s := n.items
			if i < len(n.prefixItems) {
				s = n.prefixItems[i]
			} else if s == nil {
				break
			}
			st.push(segment{index: i, kind: segIndex})
			var valid bool
			if s.never {
				valid = false
				st.fail(reasonItemFalse)
			} else {
				valid = s.check(item, st)
			}
			st.pop()
			if !valid {
				ok = false
				if st.stopped() {
					return false
				}
			}
		}
	}
	if n.contains != nil {
		collect := st.collect
		st.collect = false
		count := 0
		for _, item := range items {
			if n.contains.check(item, st) {
				count++
				if count >= n.minContains.n && n.maxContains.n < 0 {
					break
				}
			}
		}
		st.collect = collect
		if count < n.minContains.n {
			ok = false
			if !st.fail(n.minContains.msg) {
				return false
			}
		}
		if n.maxContains.n >= 0 && count > n.maxContains.n {
			ok = false
			if !st.fail(n.maxContains.msg) {
				return false
			}
		}
	}
	if n.uniqueItems && len(items) > 1 && !itemsUnique(items, st) {
		ok = false
		st.fail(reasonUnique)
	}
	return ok
}

func (n *node) checkObject(o *fastjson.Object, st *state) bool {
	ok := true
	if n.minProps.n >= 0 && o.Len() < n.minProps.n {
		ok = false
		if !st.fail(n.minProps.msg) {
			return false
		}
	}
	if n.maxProps.n >= 0 && o.Len() > n.maxProps.n {
		ok = false
		if !st.fail(n.maxProps.msg) {
			return false
		}
	}
	for i := range n.required {
		if o.Get(n.required[i].name) == nil {
			ok = false
			if !st.fail(n.required[i].msg) {
				return false
			}
		}
	}
	for i := range n.dependentRequired {
		d := &n.dependentRequired[i]
		if o.Get(d.name) == nil {
			continue
		}
		for j := range d.required {
			if o.Get(d.required[j].name) == nil {
				ok = false
				if !st.fail(d.required[j].msg) {
					return false
				}
			}
		}
	}
	if n.walkMembers {
		o.Visit(func(k []byte, child *fastjson.Value) {
			if !ok && st.stopped() {
				return
			}
			if !n.checkMember(k, child, st) {
				ok = false
			}
		})
	}
	return ok
}

// property returns the schema of the declared property named k, or nil.
func (n *node) property(k []byte) *property {
	ps := n.properties
	lo, hi := 0, len(ps)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch name := ps[m].name; {
		case name == string(k):
			return &ps[m]
		case name < string(k):
			lo = m + 1
		default:
			hi = m
		}
	}
	return nil
}

// checkMember applies properties, patternProperties, additionalProperties
// and propertyNames to one member of an object.
func (n *node) checkMember(k []byte, child *fastjson.Value, st *state) bool {
	ok := true
	matched := false
	if p := n.property(k); p != nil {
		matched = true
		st.push(segment{name: p.name})
		valid := p.node.check(child, st)
		st.pop()
		if !valid {
			ok = false
			if st.stopped() {
				return false
			}
		}
	}
	for i := range n.patternProperties {
		pp := &n.patternProperties[i]
		if !pp.re.Match(k) {
			continue
		}
		matched = true
		st.push(segment{kind: segOpaque}) // the name is the instance's: report at the object
		valid := pp.node.check(child, st)
		st.pop()
		if !valid {
			ok = false
			if st.stopped() {
				return false
			}
		}
	}
	if !matched && n.additional != nil {
		var valid bool
		if n.additional.never {
			valid = false
			st.fail(reasonAdditional)
		} else {
			st.push(segment{kind: segOpaque})
			valid = n.additional.check(child, st)
			st.pop()
		}
		if !valid {
			ok = false
			if st.stopped() {
				return false
			}
		}
	}
	if n.propertyNames != nil {
		collect, name := st.collect, st.name
		st.collect, st.name = false, k
		valid := n.propertyNames.check(nil, st)
		st.collect, st.name = collect, name
		if !valid {
			ok = false
			st.fail(reasonPropertyNames)
		}
	}
	return ok
}

// checkInPlace applies $ref, allOf, anyOf, oneOf, not and if/then/else.
func (n *node) checkInPlace(v *fastjson.Value, st *state) bool {
	ok := true
	if n.ref != nil && !n.ref.check(v, st) {
		ok = false
		if st.stopped() {
			return false
		}
	}
	for _, s := range n.allOf {
		if !s.check(v, st) {
			ok = false
			if st.stopped() {
				return false
			}
		}
	}
	collect := st.collect
	if len(n.anyOf) > 0 {
		st.collect = false
		matched := false
		for _, s := range n.anyOf {
			if s.check(v, st) {
				matched = true
				break
			}
		}
		st.collect = collect
		if !matched {
			ok = false
			if !st.fail(reasonAnyOf) {
				return false
			}
		}
	}
	if len(n.oneOf) > 0 {
		st.collect = false
		matches := 0
		for _, s := range n.oneOf {
			if s.check(v, st) {
				if matches++; matches > 1 {
					break
				}
			}
		}
		st.collect = collect
		if matches != 1 {
			ok = false
			reason := reasonOneOfNone
			if matches > 1 {
				reason = reasonOneOfMany
			}
			if !st.fail(reason) {
				return false
			}
		}
	}
	if n.not != nil {
		st.collect = false
		matched := n.not.check(v, st)
		st.collect = collect
		if matched {
			ok = false
			if !st.fail(reasonNot) {
				return false
			}
		}
	}
	if n.ifS != nil {
		st.collect = false
		cond := n.ifS.check(v, st)
		st.collect = collect
		branch := n.elseS
		if cond {
			branch = n.thenS
		}
		if branch != nil && !branch.check(v, st) {
			ok = false
		}
	}
	return ok
}
