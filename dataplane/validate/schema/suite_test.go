package schema

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgeguard/edgeguard/dataplane/validate/jsonbody"
)

// The official JSON Schema Test Suite, draft 2020-12, lives in the shared
// directory beside the repository. Which of its files edgeguard supports
// is data: every case of a supported file must pass, every other file must
// be listed as unsupported with the reason, and a file in neither list
// fails the test.

var supportedFiles = []string{
	"additionalProperties.json",
	"allOf.json",
	"anchor.json",
	"anyOf.json",
	"boolean_schema.json",
	"const.json",
	"contains.json",
	"default.json",
	"defs.json",
	"dependentRequired.json",
	"enum.json",
	"exclusiveMaximum.json",
	"exclusiveMinimum.json",
	"if-then-else.json",
	"infinite-loop-detection.json",
	"items.json",
	"maxContains.json",
	"maxItems.json",
	"maxLength.json",
	"maxProperties.json",
	"maximum.json",
	"minContains.json",
	"minItems.json",
	"minLength.json",
	"minProperties.json",
	"minimum.json",
	"multipleOf.json",
	"not.json",
	"oneOf.json",
	"pattern.json",
	"patternProperties.json",
	"prefixItems.json",
	"properties.json",
	"propertyNames.json",
	"ref.json",
	"required.json",
	"type.json",
	"uniqueItems.json",
}

var unsupportedFiles = map[string]string{
	"content.json":               "contentMediaType, contentEncoding and contentSchema are not supported: Compile refuses them",
	"dependentSchemas.json":      "dependentSchemas is not supported: Compile refuses it",
	"dynamicRef.json":            "$dynamicRef and $dynamicAnchor are not supported: Compile refuses them",
	"format.json":                "it tests format as an annotation only; edgeguard asserts the formats it supports (optional/format runs below) and refuses the others at compile",
	"refRemote.json":             "remote references are not supported: every $ref must resolve inside the document",
	"unevaluatedItems.json":      "unevaluatedItems is not supported: Compile refuses it",
	"unevaluatedProperties.json": "unevaluatedProperties is not supported: Compile refuses it",
	"vocabulary.json":            "custom meta-schemas and $vocabulary are not supported: Compile refuses a $schema other than draft 2020-12",
}

// groupExceptions are test groups of supported files whose schema uses a
// feature edgeguard refuses: Compile must fail on them.
var groupExceptions = map[string]string{
	"additionalProperties.json|dependentSchemas with additionalProperties":        "uses dependentSchemas",
	"defs.json|validate definition against metaschema":                            "remote $ref to the draft 2020-12 meta-schema",
	"not.json|collect annotations inside a 'not', even if collection is disabled": "uses unevaluatedProperties",
	"ref.json|ref creates new scope when adjacent to keywords":                    "uses unevaluatedProperties",
	"ref.json|remote ref, containing refs itself":                                 "remote $ref to the draft 2020-12 meta-schema",
}

// testExceptions are single tests expected to fail, with the reason. A
// listed test that passes fails the run, so the list cannot go stale.
var testExceptions = map[string]string{}

// supportedFormats are the optional/format files run in full. Every other
// file there names a format Compile must refuse.
var supportedFormats = []string{
	"date-time.json", "date.json", "email.json", "hostname.json", "ipv4.json",
	"ipv6.json", "time.json", "uri.json", "uuid.json",
}

// The optional directory: files edgeguard passes in full, and why the
// others do not apply. A file in neither list fails the test.
var supportedOptional = []string{
	"anchor.json", "bignum.json", "float-overflow.json", "id.json", "no-schema.json", "non-bmp-regex.json",
}

var unsupportedOptional = map[string]string{
	"cross-draft.json":                "references to schemas of other drafts are remote references",
	"dependencies-compatibility.json": "dependencies (draft 7) is not supported: Compile refuses it",
	"dynamicRef.json":                 "$dynamicRef is not supported",
	"ecmascript-regex.json":           "patterns are Go RE2: \\c escapes are refused at compile and \\s is ASCII-only",
	"format-assertion.json":           "custom meta-schemas are not supported",
	"refOfUnknownKeyword.json":        "unknown keywords are refused at compile, never treated as data",
	"unknownKeyword.json":             "unknown keywords are refused at compile, never treated as data",
}

type suiteGroup struct {
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema"`
	Tests       []struct {
		Description string          `json:"description"`
		Data        json.RawMessage `json:"data"`
		Valid       bool            `json:"valid"`
	} `json:"tests"`
}

// suiteDir finds the draft 2020-12 directory of the test suite in the
// shared directory beside the repository, walking up from the package.
func suiteDir(t *testing.T) string { return suiteDirTB(t) }

func suiteDirTB(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		p := filepath.Join(dir, "shared", "testdata", "JSON-Schema-Test-Suite", "tests", "draft2020-12")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("find JSON Schema Test Suite: no shared/testdata/JSON-Schema-Test-Suite/tests/draft2020-12 above the package")
		}
		dir = parent
	}
}

func readSuiteFile(t *testing.T, path string) []suiteGroup {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return readSuiteBytes(t, path, b)
}

func readSuiteBytes(t testing.TB, path string, b []byte) []suiteGroup {
	t.Helper()
	var groups []suiteGroup
	if err := json.Unmarshal(b, &groups); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return groups
}

func TestSuite(t *testing.T) {
	dir := suiteDir(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		name := e.Name()
		seen[name] = true
		supported := slices.Contains(supportedFiles, name)
		reason, unsupported := unsupportedFiles[name]
		switch {
		case supported && unsupported:
			t.Errorf("%s is listed both as supported and as unsupported (%s)", name, reason)
		case !supported && !unsupported:
			t.Errorf("%s is in neither supportedFiles nor unsupportedFiles: decide and list it", name)
		case supported:
			t.Run(name, func(t *testing.T) { runSuiteFile(t, filepath.Join(dir, name), name) })
		}
	}
	for _, name := range supportedFiles {
		if !seen[name] {
			t.Errorf("supported file %s is missing from %s", name, dir)
		}
	}
	for key := range groupExceptions {
		if !usedExceptions[key] {
			t.Errorf("group exception %q matched no group", key)
		}
	}
}

var usedExceptions = map[string]bool{}

func runSuiteFile(t *testing.T, path, name string) {
	for _, g := range readSuiteFile(t, path) {
		t.Run(g.Description, func(t *testing.T) {
			key := name + "|" + g.Description
			s, err := Compile(g.Schema)
			if reason, ok := groupExceptions[key]; ok {
				usedExceptions[key] = true
				if err == nil {
					t.Fatalf("Compile succeeded on a schema excepted for %q", reason)
				}
				if !strings.HasPrefix(err.Error(), "compile schema: ") {
					t.Errorf("error %q does not start with \"compile schema: \"", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Compile(%s): %v", g.Schema, err)
			}
			for _, tc := range g.Tests {
				t.Run(tc.Description, func(t *testing.T) {
					tkey := key + "|" + tc.Description
					got, detail := runSuiteTest(t, s, tc.Data)
					if reason, ok := testExceptions[tkey]; ok {
						if got == tc.Valid {
							t.Errorf("excepted test passes (%s): remove it from testExceptions", reason)
						}
						return
					}
					if got != tc.Valid {
						t.Errorf("schema %s, data %s: valid = %v, want %v%s", g.Schema, tc.Data, got, tc.Valid, detail)
					}
				})
			}
		})
	}
}

// runSuiteTest validates data both ways and checks that they agree.
func runSuiteTest(t *testing.T, s *Schema, data []byte) (bool, string) {
	t.Helper()
	var r jsonbody.Reader
	v, err := r.Read(data, jsonbody.MaxDepthLimit)
	if err != nil {
		t.Fatalf("read data %s: %v", data, err)
	}
	viol := s.Validate(v, nil)
	valid := s.Valid(v)
	if valid != (len(viol) == 0) {
		t.Errorf("Valid = %v but Validate found %v", valid, viol)
	}
	if len(viol) > MaxViolations {
		t.Errorf("Validate returned %d violations, more than %d", len(viol), MaxViolations)
	}
	detail := ""
	if len(viol) > 0 {
		b, _ := json.Marshal(viol)
		detail = " (" + string(b) + ")"
	}
	return valid, detail
}

func TestSuiteOptional(t *testing.T) {
	dir := filepath.Join(suiteDir(t), "optional")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		_, unsupported := unsupportedOptional[name]
		switch {
		case e.IsDir() || unsupported:
		case slices.Contains(supportedOptional, name):
			t.Run(name, func(t *testing.T) { runSuiteFile(t, filepath.Join(dir, name), "optional/"+name) })
		default:
			t.Errorf("optional/%s is in neither supportedOptional nor unsupportedOptional", name)
		}
	}
}

func TestSuiteFormats(t *testing.T) {
	dir := filepath.Join(suiteDir(t), "optional", "format")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if slices.Contains(supportedFormats, name) {
			t.Run(name, func(t *testing.T) { runSuiteFile(t, filepath.Join(dir, name), "optional/format/"+name) })
			continue
		}
		// Every other format is refused at compile, never ignored.
		t.Run(name, func(t *testing.T) {
			for _, g := range readSuiteFile(t, filepath.Join(dir, name)) {
				if _, err := Compile(g.Schema); err == nil || !strings.Contains(err.Error(), "/format: format ") {
					t.Errorf("%s: Compile(%s) = %v; want a format not supported error", g.Description, g.Schema, err)
				}
			}
		})
	}
}
