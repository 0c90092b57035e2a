package openapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fastjson"
	"go.yaml.in/yaml/v3"

	"github.com/edgeguard/edgeguard/dataplane/validate"
	"github.com/edgeguard/edgeguard/dataplane/validate/jsonbody"
)

// value is one node of the document, read from JSON or YAML into the same
// shape, members in document order. It is the loader's private copy: the
// conversion of OpenAPI 3.0 schemas to draft 2020-12 edits it in place.
type value struct {
	kind  kind
	str   string   // a string's content, a number's literal text
	truth bool     // a boolean
	items []*value // an array
	keys  []string // an object's member names, in order
	vals  []*value // an object's member values
	line  int      // the YAML line, 0 for JSON
}

type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

var kindNames = [...]string{"null", "boolean", "number", "string", "array", "object"}

func (k kind) String() string { return kindNames[k] }

// get returns the member key of an object, or nil.
func (v *value) get(key string) *value {
	if v == nil || v.kind != kindObject {
		return nil
	}
	for i, k := range v.keys {
		if k == key {
			return v.vals[i]
		}
	}
	return nil
}

// set replaces the member key of an object, or appends it.
func (v *value) set(key string, x *value) {
	for i, k := range v.keys {
		if k == key {
			v.vals[i] = x
			return
		}
	}
	v.keys = append(v.keys, key)
	v.vals = append(v.vals, x)
}

// del removes the member key of an object.
func (v *value) del(key string) {
	for i, k := range v.keys {
		if k == key {
			v.keys = append(v.keys[:i], v.keys[i+1:]...)
			v.vals = append(v.vals[:i], v.vals[i+1:]...)
			return
		}
	}
}

func newString(s string) *value { return &value{kind: kindString, str: s} }
func newNumber(s string) *value { return &value{kind: kindNumber, str: s} }

// Limits on a document, so that a configured file cannot make the load
// take unbounded time or memory.
const (
	// maxDocDepth is the nesting depth of a document: the schema compiler
	// reads documents with this bound.
	maxDocDepth = jsonbody.MaxDepthLimit
	// maxDocValues bounds the values of a document, counting YAML aliases
	// expanded (a "billion laughs" document is refused, not expanded).
	maxDocValues = 1 << 20
)

// parseDocument reads doc as JSON when it starts with '{' and as YAML
// otherwise.
func parseDocument(doc []byte) (*value, error) {
	trimmed := bytes.TrimLeft(doc, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var r jsonbody.Reader
		v, err := r.Read(doc, maxDocDepth)
		if err != nil {
			return nil, fmt.Errorf("openapi: parse JSON: %w", err)
		}
		return fromJSON(v), nil
	}
	return parseYAML(doc)
}

func fromJSON(v *fastjson.Value) *value {
	switch v.Type() {
	case fastjson.TypeObject:
		out := &value{kind: kindObject}
		v.GetObject().Visit(func(k []byte, child *fastjson.Value) {
			out.keys = append(out.keys, string(k))
			out.vals = append(out.vals, fromJSON(child))
		})
		return out
	case fastjson.TypeArray:
		out := &value{kind: kindArray}
		for _, item := range v.GetArray() {
			out.items = append(out.items, fromJSON(item))
		}
		return out
	case fastjson.TypeString:
		return newString(string(v.GetStringBytes()))
	case fastjson.TypeNumber:
		return newNumber(string(v.MarshalTo(nil)))
	case fastjson.TypeTrue:
		return &value{kind: kindBool, truth: true}
	case fastjson.TypeFalse:
		return &value{kind: kindBool}
	}
	return &value{kind: kindNull}
}

// yamlReader converts a YAML node tree, counting values and depth.
type yamlReader struct {
	values int
}

var errTooManyValues = fmt.Errorf("openapi: parse YAML: more than %d values (aliases included)", maxDocValues)

func parseYAML(doc []byte) (v *value, err error) {
	defer func() {
		// A configuration file must not crash the gateway, even through a
		// bug in the YAML library.
		if p := recover(); p != nil {
			v, err = nil, fmt.Errorf("openapi: parse YAML: %v", p)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(doc))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("openapi: parse YAML: empty document")
		}
		return nil, fmt.Errorf("openapi: parse YAML: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("openapi: parse YAML: more than one document in the stream")
	}
	var yr yamlReader
	return yr.convert(&root, 0)
}

func (yr *yamlReader) convert(n *yaml.Node, depth int) (*value, error) {
	yr.values++
	if yr.values > maxDocValues {
		return nil, errTooManyValues
	}
	for n.Kind == yaml.DocumentNode {
		if len(n.Content) != 1 {
			return nil, errors.New("openapi: parse YAML: empty document")
		}
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return nil, fmt.Errorf("openapi: parse YAML: line %d: unknown alias", n.Line)
		}
		// Depth bounds the expansion of an alias to itself.
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode, yaml.SequenceNode:
		depth++
		if depth > maxDocDepth {
			return nil, fmt.Errorf("openapi: parse YAML: line %d: nesting deeper than %d", n.Line, maxDocDepth)
		}
	}
	switch n.Kind {
	case yaml.MappingNode:
		out := &value{kind: kindObject, line: n.Line}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("openapi: parse YAML: line %d: a mapping key must be a scalar", k.Line)
			}
			if k.ShortTag() == "!!merge" {
				return nil, fmt.Errorf("openapi: parse YAML: line %d: merge keys (<<) are not supported", k.Line)
			}
			if out.get(k.Value) != nil {
				return nil, fmt.Errorf("openapi: parse YAML: line %d: key %q defined twice", k.Line, k.Value)
			}
			child, err := yr.convert(n.Content[i+1], depth)
			if err != nil {
				return nil, err
			}
			out.keys = append(out.keys, k.Value)
			out.vals = append(out.vals, child)
		}
		return out, nil
	case yaml.SequenceNode:
		out := &value{kind: kindArray, line: n.Line}
		for _, c := range n.Content {
			child, err := yr.convert(c, depth)
			if err != nil {
				return nil, err
			}
			out.items = append(out.items, child)
		}
		return out, nil
	case yaml.ScalarNode:
		v, err := yamlScalar(n)
		if err != nil {
			return nil, err
		}
		v.line = n.Line
		return v, nil
	}
	return nil, fmt.Errorf("openapi: parse YAML: line %d: unexpected node", n.Line)
}

// jsonNumber is the JSON number grammar (RFC 8259).
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)

func yamlScalar(n *yaml.Node) (*value, error) {
	switch tag := n.ShortTag(); tag {
	case "!!null":
		return &value{kind: kindNull}, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, fmt.Errorf("openapi: parse YAML: line %d: %v", n.Line, err)
		}
		return &value{kind: kindBool, truth: b}, nil
	case "!!int", "!!float":
		if jsonNumber.MatchString(n.Value) {
			return newNumber(n.Value), nil
		}
		// YAML readers disagree on the rest: 010 is 8 to yaml.v3 (YAML
		// 1.1) and 10 to YAML 1.2; 1_000, 0x1F, 0o17, +1, .5 and .inf
		// vary too. The document must say what it means.
		return nil, fmt.Errorf("openapi: parse YAML: line %d: %s is not a JSON number (write it as one, or quote it)", n.Line, n.Value)
	case "!!str", "!!timestamp", "!!binary":
		// An unquoted date (2024-01-02) is a timestamp to YAML and a
		// string to JSON, which is what OpenAPI documents mean.
		if !utf8.ValidString(n.Value) {
			return nil, fmt.Errorf("openapi: parse YAML: line %d: invalid UTF-8", n.Line)
		}
		return newString(n.Value), nil
	default:
		return nil, fmt.Errorf("openapi: parse YAML: line %d: tag %s not supported", n.Line, tag)
	}
}

// escapeToken escapes a JSON pointer reference token.
func escapeToken(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

var unescapeToken = strings.NewReplacer("~1", "/", "~0", "~")

// lookup returns the value at the JSON pointer p, or nil.
func (v *value) lookup(p string) *value {
	if p == "" {
		return v
	}
	if p[0] != '/' {
		return nil
	}
	for _, tok := range strings.Split(p[1:], "/") {
		tok = unescapeToken.Replace(tok)
		switch v.kind {
		case kindObject:
			v = v.get(tok)
		case kindArray:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v.items) || (len(tok) > 1 && tok[0] == '0') || tok[0] == '+' {
				return nil
			}
			v = v.items[i]
		default:
			return nil
		}
		if v == nil {
			return nil
		}
	}
	return v
}

// refPointer returns the JSON pointer of a local reference "#/a/b", and
// false for any other reference (another document, an anchor).
func refPointer(ref string) (string, bool) {
	if ref == "#" {
		return "", true
	}
	if !strings.HasPrefix(ref, "#/") {
		return "", false
	}
	p, err := url.PathUnescape(ref[1:])
	if err != nil {
		return "", false
	}
	return p, true
}

// appendJSON appends v as JSON.
func appendJSON(dst []byte, v *value) []byte {
	switch v.kind {
	case kindNull:
		return append(dst, "null"...)
	case kindBool:
		return strconv.AppendBool(dst, v.truth)
	case kindNumber:
		return append(dst, v.str...)
	case kindString:
		return validate.AppendQuoted(dst, v.str)
	case kindArray:
		dst = append(dst, '[')
		for i, item := range v.items {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSON(dst, item)
		}
		return append(dst, ']')
	}
	dst = append(dst, '{')
	for i, k := range v.keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = validate.AppendQuoted(dst, k)
		dst = append(dst, ':')
		dst = appendJSON(dst, v.vals[i])
	}
	return append(dst, '}')
}

// miniDoc returns the smallest JSON document in which the schema at ptr
// compiles exactly as in the whole document: the schema and, transitively,
// every local "#/..." reference it makes, each at its own pointer, inside
// containers shaped like the original (array places before an index are
// null). The schema compiler parses its whole input on each call, so this
// keeps the load of a large document linear instead of quadratic. A schema
// that identifies itself ($id, $anchor) or refers otherwise gets the
// whole document.
func (l *loader) miniDoc(ptr string) []byte {
	ptrs, ok := l.refClosure(ptr)
	if !ok {
		if l.whole == nil {
			l.whole = appendJSON(nil, l.root)
		}
		return l.whole
	}
	skel := map[*value]bool{}
	out := &value{kind: kindObject}
	skel[out] = true
	for _, p := range ptrs {
		if p == "" {
			return appendJSON(nil, l.root)
		}
		orig, dst := l.root, out
		toks := strings.Split(p[1:], "/")
		for i, tok := range toks {
			if !skel[dst] {
				break // inside a subtree copied whole already
			}
			tok = unescapeToken.Replace(tok)
			var next *value
			switch orig.kind {
			case kindObject:
				next = orig.get(tok)
			case kindArray:
				idx, _ := strconv.Atoi(tok)
				next = orig.items[idx]
			}
			if i == len(toks)-1 {
				placeChild(dst, orig, tok, next)
				break
			}
			child := childOf(dst, orig, tok)
			if child == nil {
				child = &value{kind: next.kind}
				skel[child] = true
				placeChild(dst, orig, tok, child)
			}
			orig, dst = next, child
		}
	}
	return appendJSON(nil, out)
}

func childOf(dst, orig *value, tok string) *value {
	if orig.kind == kindObject {
		return dst.get(tok)
	}
	idx, _ := strconv.Atoi(tok)
	if idx < len(dst.items) && dst.items[idx].kind != kindNull {
		return dst.items[idx]
	}
	return nil
}

func placeChild(dst, orig *value, tok string, child *value) {
	if orig.kind == kindObject {
		dst.kind = kindObject
		dst.set(tok, child)
		return
	}
	dst.kind = kindArray
	idx, _ := strconv.Atoi(tok)
	for len(dst.items) <= idx {
		dst.items = append(dst.items, &value{kind: kindNull})
	}
	dst.items[idx] = child
}

// refClosure returns ptr and every pointer its schema reaches through
// local references, or false when one reference or identifier needs the
// whole document.
func (l *loader) refClosure(ptr string) ([]string, bool) {
	seen := map[string]bool{ptr: true}
	ptrs := []string{ptr}
	for i := 0; i < len(ptrs); i++ {
		v := l.root.lookup(ptrs[i])
		if v == nil {
			return nil, false
		}
		ok := true
		walkValues(v, func(o *value) {
			for j, k := range o.keys {
				switch k {
				case "$id", "$anchor", "$dynamicAnchor", "$dynamicRef":
					ok = false
				case "$ref":
					if o.vals[j].kind != kindString {
						continue
					}
					p, local := refPointer(o.vals[j].str)
					if !local || l.root.lookup(p) == nil {
						ok = false
						continue
					}
					if !seen[p] {
						seen[p] = true
						ptrs = append(ptrs, p)
					}
				}
			}
		})
		if !ok {
			return nil, false
		}
	}
	return ptrs, true
}

// walkValues calls f on every object under v, v included.
func walkValues(v *value, f func(o *value)) {
	switch v.kind {
	case kindObject:
		f(v)
		for _, c := range v.vals {
			walkValues(c, f)
		}
	case kindArray:
		for _, c := range v.items {
			walkValues(c, f)
		}
	}
}
