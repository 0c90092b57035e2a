package schema

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/edgeguard/edgeguard/dataplane/validate/jsonbody"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/valyala/fastjson"
)

// errorLine is the shape of every line of a Compile error: the prefix and
// a location (a JSON pointer, the document root, the pointer given to
// CompileAt) or the reason the document itself was refused.
var errorLine = regexp.MustCompile(`^compile schema: (/[^:]*|\(document root\)|pointer "[^"]*"|read json body|too many errors)`)

// FuzzCompile: Compile never panics, every error names a location, and a
// schema that compiles validates arbitrary documents without panicking.
func FuzzCompile(f *testing.F) {
	for _, s := range suiteSchemas(f) {
		f.Add(s.doc)
	}
	in := loadBench(f)
	f.Add(in.schema)
	probes := []string{`null`, `true`, `0`, `-1.5e3`, `"a"`, `""`, `[]`, `[1,"a",null,[{}]]`, `{}`, `{"a":1,"b":{"c":[2]}}`}
	f.Fuzz(func(t *testing.T, doc []byte) {
		s, err := Compile(doc)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !errorLine.MatchString(line) {
					t.Fatalf("Compile(%q): error line %q names no location", doc, line)
				}
			}
			return
		}
		for _, p := range probes {
			v := mustRead(t, p)
			viol := s.Validate(v, nil)
			if len(viol) > MaxViolations || s.Valid(v) != (len(viol) == 0) {
				t.Fatalf("Compile(%q) on %s: Valid %v, violations %q", doc, p, s.Valid(v), viol)
			}
		}
	})
}

// hugeNumber finds numbers santhosh-tekuri/jsonschema cannot handle: it
// expands exponents into big.Rat (1e999999 takes seconds, 1e9999999 makes
// it panic), where edgeguard keeps exponents symbolic.
var hugeNumber = regexp.MustCompile(`[eE][-+]?0*[0-9]{4,}|[0-9]{100,}`)

// FuzzValidate validates random documents against the suite's schemas and
// compares the verdict with santhosh-tekuri/jsonschema. Schemas that use
// format are left out of the comparison (the two libraries' format checks
// differ by design: edgeguard's follow the suite's optional files strictly);
// they are still validated, for panics and for leaks. It also checks that
// no violation carries instance data: pointers and reasons may only use
// text that is in the schema.
func FuzzValidate(f *testing.F) {
	schemas := suiteSchemas(f)
	for i, s := range schemas {
		for _, d := range s.data {
			f.Add(uint16(i), d)
		}
	}
	f.Fuzz(func(t *testing.T, i uint16, data []byte) {
		s := &schemas[int(i)%len(schemas)]
		var r jsonbody.Reader
		v, err := r.Read(data, 0)
		if err != nil {
			return
		}
		viol := s.ours.Validate(v, nil)
		valid := s.ours.Valid(v)
		if valid != (len(viol) == 0) || len(viol) > MaxViolations {
			t.Fatalf("schema %s, data %s: Valid %v, violations %q", s.doc, data, valid, viol)
		}
		checkNoLeak(t, s.doc, v, viol)
		if s.theirs == nil || hugeNumber.Match(data) {
			return
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("santhosh cannot read %s: %v", data, err)
		}
		theirs := s.theirs.Validate(inst) == nil
		if valid != theirs {
			t.Fatalf("schema %s, data %s: edgeguard valid = %v (%q), santhosh valid = %v", s.doc, data, valid, viol, theirs)
		}
	})
}

// checkNoLeak fails when a violation contains a string of the instance (a
// key or a value, 3 bytes or more) that the schema document does not.
func checkNoLeak(t *testing.T, doc []byte, v *fastjson.Value, viol []Violation) {
	schema := append(schemaText(doc), reasonText...)
	var leak func(v *fastjson.Value) string
	check := func(s []byte) string {
		if len(s) < 3 || bytes.Contains(schema, s) {
			return ""
		}
		for _, x := range viol {
			if strings.Contains(x.Pointer, string(s)) || strings.Contains(x.Reason, string(s)) {
				return string(s)
			}
		}
		return ""
	}
	leak = func(v *fastjson.Value) string {
		switch v.Type() {
		case fastjson.TypeString:
			return check(v.GetStringBytes())
		case fastjson.TypeArray:
			for _, item := range v.GetArray() {
				if l := leak(item); l != "" {
					return l
				}
			}
		case fastjson.TypeObject:
			found := ""
			v.GetObject().Visit(func(k []byte, child *fastjson.Value) {
				if found == "" {
					if found = check(k); found == "" {
						found = leak(child)
					}
				}
			})
			return found
		}
		return ""
	}
	if l := leak(v); l != "" {
		t.Fatalf("violations %q contain instance data %q", viol, l)
	}
	for _, x := range viol {
		for _, tok := range strings.Split(x.Pointer, "/")[1:] {
			if _, err := strconv.Atoi(tok); err != nil && !bytes.Contains(schema, []byte(strings.NewReplacer("~1", "/", "~0", "~").Replace(tok))) {
				t.Fatalf("pointer %q has token %q that is not in the schema", x.Pointer, tok)
			}
		}
	}
}

// reasonText is every fixed part of a reason.
var reasonText = []byte(strings.Join([]string{
	reasonFalse, reasonEnum, reasonConst, reasonNotNumber, reasonUnique, reasonItemFalse,
	reasonAdditional, reasonPropertyNames, reasonAnyOf, reasonOneOfNone, reasonOneOfMany, reasonNot,
	"type: expected ", " or ", "minimum: less than ", "exclusiveMinimum: not greater than ",
	"maximum: greater than ", "exclusiveMaximum: not less than ", "multipleOf: not a multiple of ",
	"minLength: shorter than ", "maxLength: longer than ", " characters", "pattern: does not match ",
	"format: not a valid ", "minItems: fewer than ", "maxItems: more than ", " items",
	"minContains: fewer than ", "maxContains: more than ", " matching items", "contains: no item matches",
	"minProperties: fewer than ", "maxProperties: more than ", " properties",
	"required: missing property ", "dependentRequired: property ", " requires ",
}, "\x00"))

// schemaText returns the schema document's numbers and unescaped strings
// (keys and values), NUL-separated: the text violations may quote.
func schemaText(doc []byte) []byte {
	var p fastjson.Parser
	v, err := p.ParseBytes(doc)
	if err != nil {
		return nil
	}
	var out []byte
	var walk func(v *fastjson.Value)
	walk = func(v *fastjson.Value) {
		switch v.Type() {
		case fastjson.TypeString:
			out = append(append(out, v.GetStringBytes()...), 0)
		case fastjson.TypeNumber:
			out = append(v.MarshalTo(out), 0)
		case fastjson.TypeArray:
			for _, item := range v.GetArray() {
				walk(item)
			}
		case fastjson.TypeObject:
			v.GetObject().Visit(func(k []byte, child *fastjson.Value) {
				out = append(append(out, k...), 0)
				walk(child)
			})
		}
	}
	walk(v)
	return out
}

type fuzzSchema struct {
	doc    []byte
	data   [][]byte
	ours   *Schema
	theirs *jsonschema.Schema // nil: not compared
}

var (
	fuzzSchemasOnce sync.Once
	fuzzSchemas     []fuzzSchema
)

// suiteSchemas returns the schemas of the supported suite files that
// compile, with their test data.
func suiteSchemas(tb testing.TB) []fuzzSchema {
	fuzzSchemasOnce.Do(func() {
		dir := suiteDirTB(tb)
		var files []string
		for _, name := range supportedFiles {
			files = append(files, filepath.Join(dir, name))
		}
		for _, name := range supportedFormats {
			files = append(files, filepath.Join(dir, "optional", "format", name))
		}
		for _, path := range files {
			b, err := os.ReadFile(path)
			if err != nil {
				tb.Fatal(err)
			}
			for _, g := range readSuiteBytes(tb, path, b) {
				ours, err := Compile(g.Schema)
				if err != nil {
					continue
				}
				fs := fuzzSchema{doc: g.Schema, ours: ours}
				for _, tc := range g.Tests {
					fs.data = append(fs.data, tc.Data)
				}
				if !bytes.Contains(g.Schema, []byte(`"format"`)) {
					fs.theirs = compileSanthosh(g.Schema)
				}
				fuzzSchemas = append(fuzzSchemas, fs)
			}
		}
		slices.SortStableFunc(fuzzSchemas, func(a, b fuzzSchema) int { return bytes.Compare(a.doc, b.doc) })
	})
	if len(fuzzSchemas) == 0 {
		tb.Fatal("no suite schemas")
	}
	return fuzzSchemas
}

func compileSanthosh(schema []byte) *jsonschema.Schema {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return nil
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("https://fuzz.invalid/schema.json", doc); err != nil {
		return nil
	}
	s, err := c.Compile("https://fuzz.invalid/schema.json")
	if err != nil {
		return nil
	}
	return s
}
