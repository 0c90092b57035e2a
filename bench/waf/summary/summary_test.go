package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestRun checks the counting rules on a synthetic GoTestWAF report: any 4xx
// is blocked (403 apart), 5xx is unresolved, a request without an answer is
// failed, and both stay in the denominators.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, "testdata/gotestwaf.json", "testdata/gotestwaf.csv", "testdata/access.log", "synthetic"); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"SUMMARY gotestwaf [synthetic]: attacks blocked 2/6 33.33% (403 1, other 4xx 1; without Base64Flat 2/5 40.00%), " +
			"benign passed 1/2 50.00% (blocked 403 1, other 4xx 0); " +
			"sets: community 0/3 0.00% (403 0), owasp 2/3 66.67% (403 1); unresolved 1, failed 1\n",
		"failed requests (no HTTP answer): 1\n  1  community/community-xss URL: connection reset\n",
		"400 path_ambiguous: 1;",
		"WARNING: 1 4xx answers carry no edgeguard reason code",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q; got:\n%s", want, got)
		}
	}
}

func TestReadCSVRefusesOtherColumns(t *testing.T) {
	if _, err := readCSV("testdata/access.log"); err == nil {
		t.Fatal("readCSV accepted a file that is not GoTestWAF's CSV")
	}
}
