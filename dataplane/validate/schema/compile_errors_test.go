package schema

import (
	"strings"
	"testing"
)

// TestMalformedDocumentSaysWhere: a schema file that is not JSON is
// refused with where and how it goes wrong.
func TestMalformedDocumentSaysWhere(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"truncated", "{\n  \"type\":", "line 2, column 9"},
		{"bad token", "{\"type\": \"object\",\n \"properties\": {\"a\": nope}}", "line 2, column 23"},
		{"byte order mark", "\xef\xbb\xbf{\"type\":\"object\"}", "byte order mark"},
		{"YAML", "type: object\nproperties:\n  a: {type: string}\n", "YAML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Compile: %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
