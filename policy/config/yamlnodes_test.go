package config

import (
	"strings"
	"testing"
)

// TestCaseVariantKeys: viper lower-cases keys, so two spellings of one key
// would merge silently, the later winning; they are refused like exact
// duplicates, naming both spellings and their lines.
func TestCaseVariantKeys(t *testing.T) {
	cases := []struct {
		name, doc, want string
	}{
		{"route path", validBase + "  - name: b\n    path: /\n    Path: /zzz\n    upstream: api\n",
			`routes[1].Path: "path" (line 21) and "Path" (line 22) differ only in case`},
		{"xdp section", validBase + "xdp:\n  mode: \"off\"\nXDP:\n  mode: native\n",
			`XDP: "xdp" (line 20) and "XDP" (line 22) differ only in case`},
		{"second management block", validBase + "Management:\n  address: 127.0.0.1:19902\n",
			`Management: "management" (line 5) and "Management" (line 20) differ only in case`},
		{"map keys", validBase + "rate_limit:\n  limits:\n    api: {minute: 10}\n    API: {minute: 20}\n",
			`rate_limit.limits.API: "api" (line 22) and "API" (line 23) differ only in case`},
		{"json", `{"management": {"address": "127.0.0.1:19901"}, "Management": {}}`,
			`Management: "management" (line 1) and "Management" (line 1) differ only in case`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), "yaml", "test")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error containing %q, got %v", tc.want, err)
			}
		})
	}
	toml := "[[routes]]\nname = \"r\"\npath = \"/\"\nPath = \"/zzz\"\nupstream = \"api\"\n"
	if _, err := Parse([]byte(toml), "toml", "test"); err == nil || !strings.Contains(err.Error(), `routes[0].path: "Path" and "path" differ only in case`) {
		t.Errorf("toml: %v", err)
	}
	// One spelling, however cased, is still fine.
	if _, err := Parse([]byte(strings.Replace(validBase, "path: /api/", "Path: /api/", 1)), "yaml", "test"); err != nil {
		t.Errorf("a single capitalised key refused: %v", err)
	}
}
