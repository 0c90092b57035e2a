package crs

import (
	"bytes"
	"io/fs"
	"regexp"
	"testing"

	"github.com/corazawaf/coraza-coreruleset/v4"
)

func TestStripMessages(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"msg and logdata lines go", "SecRule ARGS \"@rx a\" \\\n    \"id:1,\\\n    msg:'SQL, \\'quoted\\' %{TX.0}',\\\n    logdata:'Matched Data: %{TX.0}',\\\n    tag:'x'\"\n",
			"SecRule ARGS \"@rx a\" \\\n    \"id:1,\\\n    tag:'x'\"\n"},
		{"a last action stays", "    msg:'end'\"\n", "    msg:'end'\"\n"},
		{"other actions stay", "    setvar:'tx.msg=1',\\\n    tag:'msg:'\n", "    setvar:'tx.msg=1',\\\n    tag:'msg:'\n"},
		{"no final newline", "    tag:'a',\\\n    msg:'m',\\", "    tag:'a',\\\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(stripMessages([]byte(tc.in))); got != tc.want {
				t.Fatalf("stripMessages(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestRulesFSKeepsEveryRule checks the rewrite on the embedded CRS: the
// same rule ids in every file, no msg or logdata left, data files as they
// are.
func TestRulesFSKeepsEveryRule(t *testing.T) {
	ids := regexp.MustCompile(`id:(\d+)`)
	for _, f := range requestFiles {
		name := "@owasp_crs/" + f
		orig, err := fs.ReadFile(coreruleset.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := fs.ReadFile(rulesFS{FS: coreruleset.FS}, name)
		if err != nil {
			t.Fatal(err)
		}
		if a, b := ids.FindAll(orig, -1), ids.FindAll(got, -1); len(a) != len(b) {
			t.Errorf("%s: %d rule ids after the rewrite, %d before", f, len(b), len(a))
		}
		if bytes.Contains(got, []byte("\n    msg:'")) || bytes.Contains(got, []byte("\n    logdata:'")) {
			t.Errorf("%s: msg or logdata left", f)
		}
	}
	orig, _ := fs.ReadFile(coreruleset.FS, "@owasp_crs/unix-shell.data")
	got, err := fs.ReadFile(rulesFS{FS: coreruleset.FS}, "@owasp_crs/unix-shell.data")
	if err != nil || !bytes.Equal(orig, got) || len(got) == 0 {
		t.Fatalf("data file changed: %v", err)
	}
	// Same compiled rules either way.
	a, b := testWAF(t, Config{}), testWAF(t, Config{keepMessages: true})
	if a.RuleCount() != b.RuleCount() {
		t.Fatalf("%d rules with the rewrite, %d without", a.RuleCount(), b.RuleCount())
	}
	for _, tc := range attacks {
		ra, errA := a.InspectRequest(parseRaw(t, tc.spec.raw(t)), Peer{}, false)
		rb, errB := b.InspectRequest(parseRaw(t, tc.spec.raw(t)), Peer{}, false)
		if ra != rb || errA != nil || errB != nil {
			t.Errorf("%s: %+v, %v with the rewrite; %+v, %v without", tc.name, ra, errA, rb, errB)
		}
	}
}
