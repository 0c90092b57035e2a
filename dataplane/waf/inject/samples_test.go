package inject

import (
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// libinjectionData finds the data/ directory of the libinjection project
// (github.com/libinjection/libinjection, BSD-3-Clause): its sample attacks
// and false positives, URL-encoded, one per line. They are not copied into
// this repository; point EDGEGUARD_LIBINJECTION_DATA at a checkout's data/
// directory, or place it under shared/testdata/libinjection/.
func libinjectionData(t *testing.T) string {
	for _, dir := range []string{
		os.Getenv("EDGEGUARD_LIBINJECTION_DATA"),
		"../../../../shared/testdata/libinjection/data",
		"../../../../shared/testdata/libinjection",
	} {
		if dir == "" {
			continue
		}
		if m, _ := filepath.Glob(filepath.Join(dir, "sqli-*.txt")); len(m) > 0 {
			return dir
		}
	}
	t.Skip("libinjection sample files not found: set EDGEGUARD_LIBINJECTION_DATA to libinjection's data/ directory")
	return ""
}

// queryEscapeRaw makes a sample line usable as a query value without
// changing what a server decodes from it: existing %XX escapes and '+' are
// kept, bytes that cannot appear in a query are escaped.
func queryEscapeRaw(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '#' || c == '&' || c == '"' || c == '<' || c == '>' || c == '`' || c == '{' || c == '}' || c == '|' || c == '\\' || c == '^' {
			b.WriteString("%" + string(hexUpper[c>>4]) + string(hexUpper[c&15]))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// TestLibinjectionSamples replays the libinjection project's sample files
// as the query string ?q=<sample> and reports the share blocked per file
// and per class. Targets (issue 17): >= 99% of SQLi and XSS samples
// blocked, <= 1% of the false-positive samples. It also checks the
// pre-filters' promise on every sample.
func TestLibinjectionSamples(t *testing.T) {
	dir := libinjectionData(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
	sort.Strings(files)
	d := mustNew(t, Options{})
	var sc Scratch
	type tally struct{ n, blocked int }
	benignFromDecoding := 0
	classes := map[string]*tally{"sqli": {}, "xss": {}, "benign": {}}
	for _, f := range files {
		base := filepath.Base(f)
		class := ""
		switch {
		case strings.HasPrefix(base, "sqli-"):
			class = "sqli"
		case strings.HasPrefix(base, "xss-"):
			class = "xss"
		case base == "false_positives.txt":
			class = "benign"
		default:
			continue
		}
		var ft tally
		for _, line := range readLines(t, f) {
			if strings.HasPrefix(line, "#") {
				continue
			}
			var req fasthttp.Request
			req.SetRequestURI("/?q=" + queryEscapeRaw(line))
			r := d.Inspect(&sc, &req, nil)
			ft.n++
			if r.Detected() {
				ft.blocked++
				if class == "benign" {
					t.Logf("%s: blocked %q: %v %s (%v decoding)", base, line, r.Kind, r.Fingerprint, r.Decoding)
					if r.Decoding != DecodingNone {
						benignFromDecoding++
					}
				}
			} else if class != "benign" && testing.Verbose() {
				t.Logf("%s: passed %q", base, line)
			}
			if v, err := url.QueryUnescape(line); err == nil {
				checkPrefilter(t, v)
			}
		}
		c := classes[class]
		c.n += ft.n
		c.blocked += ft.blocked
		t.Logf("%-45s %5d samples, %5d blocked (%.1f%%)", base, ft.n, ft.blocked, pct(ft.blocked, ft.n))
	}
	for _, name := range []string{"sqli", "xss", "benign"} {
		c := classes[name]
		t.Logf("%-6s %5d samples, %5d blocked (%.2f%%)", name, c.n, c.blocked, pct(c.blocked, c.n))
	}
	if c := classes["sqli"]; pct(c.blocked, c.n) < 99 {
		t.Errorf("SQLi samples: %.2f%% blocked; want >= 99%%", pct(c.blocked, c.n))
	}
	if c := classes["xss"]; pct(c.blocked, c.n) < 99 {
		t.Errorf("XSS samples: %.2f%% blocked; want >= 99%%", pct(c.blocked, c.n))
	}
	// The target for benign samples is <= 1%. libinjection-go
	// v0.3.6 flags 21 of the 421 lines of false_positives.txt (5%);
	// sqlitune.go clears 17 with second signals. The 4 left (0.95%) read
	// like the attacks they are kept for:
	//   /SEARCH?...Q=36"+X+48+"+FRAME  sos: a '"' after a digit, as in 1"OR!"0
	//   MISTERGLAS.DK'*'''...         sos with single quotes, as in A' * 'B
	//   'countdown calendar" and "disney:  s&s, as in A" AND "B
	//   select 'and'                  s&s, as in 'AND'
	if c := classes["benign"]; c.n > 0 && pct(c.blocked, c.n) > 1 {
		t.Errorf("false-positive samples: %.2f%% blocked; want <= 1%%", pct(c.blocked, c.n))
	}
	if benignFromDecoding > 0 {
		t.Errorf("%d false-positive samples blocked only in a decoded form", benignFromDecoding)
	}
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}
