// Package schema validates request bodies against JSON Schema (draft
// 2020-12) documents compiled ahead of time into a tree of checks over
// fastjson values.
//
// Compile reads a schema once, at config load, and refuses anything it
// would not enforce exactly: a keyword outside the supported set, a format
// it does not assert, a reference outside the document, a pattern Go's RE2
// cannot compile (ECMA-262-only constructs such as lookaround and
// backreferences), a $ref cycle that never reaches into the instance. The
// error names the place as a JSON pointer into the schema document, e.g.
//
//	compile schema: /properties/items/unevaluatedItems: keyword not supported
//
// Supported keywords: type, enum, const, properties, required,
// additionalProperties, patternProperties, propertyNames, items,
// prefixItems, contains, minContains, maxContains, minItems, maxItems,
// uniqueItems, minLength, maxLength (in code points), pattern, minimum,
// maximum, exclusiveMinimum, exclusiveMaximum, multipleOf (all five, and
// type integer, const and enum, in exact decimal arithmetic, never float64;
// a number whose exponent is beyond ±2^56 is refused wherever a number
// keyword applies, and in a schema), minProperties, maxProperties, dependentRequired, allOf,
// anyOf, oneOf, not, if/then/else, $ref, $defs, $id and $anchor (within the
// document), boolean schemas, format (asserted: email, uuid, date-time,
// date, time, ipv4, ipv6, hostname, uri), and the annotations $schema (2020-12
// only), $comment, title, description, default, examples, deprecated,
// readOnly and writeOnly.
//
// Patterns are Go regexps (RE2 syntax), unanchored as in JSON Schema. They
// differ from ECMA-262 in small ways a schema author may meet: \s, \d, \w
// and \b are ASCII-only in both, but ECMA's \s also matches Unicode spaces;
// '.' excludes \n only (ECMA also excludes \r, U+2028 and U+2029); \uXXXX
// is written \x{XXXX}. Constructs RE2 lacks fail at compile.
//
// Validate is on the request path: for a valid document it allocates
// nothing in steady state. Violations carry only static reasons and
// pointers made of the schema's own property names and array indexes, so a
// 400 response built from them never echoes the request. The package must
// never read files or the network, never evaluate a keyword it does not
// understand, and never put instance data into a Violation.
package schema

import (
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/valyala/fastjson"
)

// MaxViolations is the most violations one Validate call appends.
const MaxViolations = 8

// Violation is one reason a document failed validation.
type Violation struct {
	// Pointer is the JSON pointer to the failing value. It contains only
	// property names declared in the schema and array indexes: a value
	// reached through patternProperties or additionalProperties is
	// reported at its parent object.
	Pointer string
	// Reason names the keyword and what it expected, from the schema
	// only, e.g. "type: expected integer" or `required: missing property "name"`.
	Reason string
}

// Schema is a compiled schema. It is immutable and safe for concurrent use.
type Schema struct {
	root *node
	loc  string // where the schema is in its document
	// recursive is set when a $ref leads back to a schema it comes from.
	// Only then can an instance make validation cost more than a constant
	// factor per value (anyOf or oneOf branches that each descend into the
	// same children double the work at each level), so only then is the
	// work budgeted.
	recursive bool
}

// ReasonTooCostly is the violation recorded when validating a document
// against a recursive schema takes more than WorkPerValue checks per value
// of the document: the document is refused rather than validated at a
// cost the sender chooses.
const ReasonTooCostly = "schema: document too costly to validate"

// WorkPerValue is the number of schema checks allowed per value of the
// document (plus a constant 4096) when the schema is recursive.
const WorkPerValue = 128

// Validate checks v and appends to dst at most MaxViolations violations,
// the first ones found in document order. It returns dst unchanged when v
// is valid. v should come from jsonbody.Reader.Read, which guarantees the
// strict JSON (no duplicate keys, valid UTF-8, finite numbers) the checks
// assume.
func (s *Schema) Validate(v *fastjson.Value, dst []Violation) []Violation {
	st := s.start(v)
	st.collect = true
	st.out = dst
	st.room = MaxViolations
	s.root.check(v, st)
	if st.steps > st.budget && st.room > 0 {
		st.path = st.path[:0]
		st.fail(ReasonTooCostly)
	}
	dst = st.out
	st.out = nil
	statePool.Put(st)
	return dst
}

// Valid reports whether v is valid, stopping at the first violation.
func (s *Schema) Valid(v *fastjson.Value) bool {
	st := s.start(v)
	st.collect = false
	ok := s.root.check(v, st) && st.steps <= st.budget
	statePool.Put(st)
	return ok
}

func (s *Schema) start(v *fastjson.Value) *state {
	st := statePool.Get().(*state)
	st.path = st.path[:0]
	st.steps = 0
	st.budget = int(^uint(0) >> 1)
	if s.recursive {
		st.budget = 4096 + WorkPerValue*countValues(v)
	}
	return st
}

// countValues returns the number of JSON values in v.
func countValues(v *fastjson.Value) int {
	n := 1
	switch v.Type() {
	case fastjson.TypeArray:
		for _, item := range v.GetArray() {
			n += countValues(item)
		}
	case fastjson.TypeObject:
		v.GetObject().Visit(func(_ []byte, child *fastjson.Value) { n += countValues(child) })
	}
	return n
}

// Location returns the JSON pointer of the schema in its document: "" for
// Compile, the pointer given to CompileAt otherwise.
func (s *Schema) Location() string { return s.loc }

// state is one validation's working memory, pooled so that validation
// allocates nothing in steady state.
type state struct {
	collect bool // record violations, and keep going after one
	steps   int  // checks done; past budget, every check fails
	budget  int
	out     []Violation // where violations go
	room    int         // violations still allowed in out
	path    []segment   // the instance location being checked
	numbuf  [2][]byte   // number text, parsed in place
	hashed  []hashedItem
	name    []byte // the property name propertyNames checks, as a nil instance
}

var statePool = sync.Pool{New: func() any { return new(state) }}

// segment is one step of the instance path. name is from the schema, never
// from the instance; opaque marks a step through a property whose name the
// schema does not declare.
type segment struct {
	name  string
	index int
	kind  uint8
}

const (
	segName uint8 = iota
	segIndex
	segOpaque
)

func (st *state) push(s segment) { st.path = append(st.path, s) }
func (st *state) pop()           { st.path = st.path[:len(st.path)-1] }

// fail records a violation at the current path when collecting, and
// reports whether validation should go on looking for more.
func (st *state) fail(reason string) bool {
	if !st.collect || st.room <= 0 {
		return false
	}
	st.out = append(st.out, Violation{Pointer: st.pointer(), Reason: reason})
	st.room--
	return st.room > 0
}

// pointer renders the current path, stopping at the first opaque step.
func (st *state) pointer() string {
	var b strings.Builder
	for _, s := range st.path {
		switch s.kind {
		case segOpaque:
			return b.String()
		case segIndex:
			b.WriteByte('/')
			b.WriteString(strconv.Itoa(s.index))
		default:
			b.WriteByte('/')
			b.WriteString(escapePointer(s.name))
		}
	}
	return b.String()
}

// decimal parses the number v into scratch buffer i (0 or 1).
func (st *state) decimal(v *fastjson.Value, i int) (decimal, bool) {
	st.numbuf[i] = v.MarshalTo(st.numbuf[i][:0])
	return parseDecimal(st.numbuf[i])
}

// b2s views b as a string without copying; the caller keeps b unchanged
// while the string is in use.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// escapePointer escapes a JSON pointer token.
func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}
