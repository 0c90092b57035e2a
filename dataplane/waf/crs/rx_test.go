package crs

import (
	"bufio"
	"bytes"
	"html"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/experimental/plugins"
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/waf/rxfilter"
)

// crsRx is one CRS @rx as the gateway's operator compiles it.
type crsRx struct {
	arg    string // the operator's argument, as in the rule
	match  func(string) bool
	find   func(string, int) []string
	filter *rxfilter.Filter
}

var (
	crsRxOnce sync.Once
	crsRxAll  []crsRx
	crsRxN    int // @rx operators compiled (one per rule, repeats included)
	crsRxErr  error
)

// crsRxPatterns returns every @rx of the request files at paranoia 4,
// collected from the operator factory while Coraza compiles them, so each
// is exactly what the rule hands the operator, compiled as the operator
// does (a regexp with Coraza's flags, or a byte regexp).
func crsRxPatterns(t testing.TB) ([]crsRx, int) {
	t.Helper()
	crsRxOnce.Do(func() {
		var mu sync.Mutex
		seen := map[string]bool{}
		const name = "edgeguardRxSeen"
		plugins.RegisterOperator(name, func(o plugintypes.OperatorOptions) (plugintypes.Operator, error) {
			mu.Lock()
			seen[o.Arguments] = true
			crsRxN++
			mu.Unlock()
			return newRx(o)
		})
		cfg := coraza.NewWAFConfig().
			WithRootFS(rulesFS{FS: coreruleset.FS, rx: name}).
			WithDirectives(directives(Config{Paranoia: 4, NoAPIExclusions: true}.withDefaults(), true))
		if _, crsRxErr = coraza.NewWAF(cfg); crsRxErr != nil {
			return
		}
		args := make([]string, 0, len(seen))
		for a := range seen {
			args = append(args, a)
		}
		sort.Strings(args)
		for _, a := range args {
			op, err := newRx(plugintypes.OperatorOptions{Arguments: a})
			if err != nil {
				crsRxErr = err
				return
			}
			r := op.(*rx)
			c := crsRx{arg: a, filter: r.filter}
			if r.bin != nil {
				c.match, c.find = r.bin.MatchString, r.bin.FindAllString
			} else {
				c.match, c.find = r.re.MatchString, r.re.FindAllString
			}
			crsRxAll = append(crsRxAll, c)
		}
	})
	if crsRxErr != nil {
		t.Fatalf("collect CRS @rx: %v", crsRxErr)
	}
	return crsRxAll, crsRxN
}

// TestRenameRxReachesEveryRule: every @rx of the request files is the
// gateway's operator once rulesFS renamed them.
func TestRenameRxReachesEveryRule(t *testing.T) {
	_, n := crsRxPatterns(t)
	want := 0
	for _, f := range requestFiles {
		b, err := fs.ReadFile(coreruleset.FS, "@owasp_crs/"+f)
		if err != nil {
			t.Fatal(err)
		}
		want += strings.Count(string(b), `"@rx `) + strings.Count(string(b), `"!@rx `)
	}
	if n != want || n < 200 {
		t.Fatalf("%d @rx compiled by the gateway's operator, the files have %d", n, want)
	}
}

// rxCorpus is the inputs the soundness test checks every CRS regular
// expression on: every value of CRS's regression requests (raw, URL-decoded,
// lower-cased, HTML-unescaped), tier 1's attack and benign payloads, the
// look-alikes, the benign API corpus, and random strings spliced from
// them.
func rxCorpus(t testing.TB) []string {
	t.Helper()
	set := map[string]bool{}
	add := func(s string) {
		for _, v := range []string{s, strings.ToLower(s), html.UnescapeString(s)} {
			set[v] = true
			if d, err := url.QueryUnescape(v); err == nil {
				set[d] = true
			}
			if d, err := url.PathUnescape(v); err == nil {
				set[d] = true
			}
		}
	}
	for _, r := range loadFTW(t) {
		req := string(r.raw)
		head, body, _ := strings.Cut(req, "\r\n\r\n")
		add(body)
		for _, line := range strings.Split(head, "\r\n") {
			add(line)
			if _, v, ok := strings.Cut(line, ": "); ok {
				add(v)
			}
		}
		for _, part := range strings.FieldsFunc(head+"&"+body, func(r rune) bool { return r == '&' || r == '?' || r == ' ' || r == '\n' }) {
			add(part)
			if _, v, ok := strings.Cut(part, "="); ok {
				add(v)
			}
		}
	}
	for _, name := range []string{"../inject/testdata/attacks.txt", "../inject/testdata/benign.txt", "testdata/lookalikes.txt"} {
		f, err := os.Open(filepath.FromSlash(name))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			l := sc.Text()
			if _, v, ok := strings.Cut(l, "\t"); ok {
				l = v
			}
			add(l)
		}
		f.Close()
	}
	for _, s := range loadSpecs(t, "benign.json") {
		add(string(s.raw(t)))
		add(s.URI)
		add(string(s.JSON))
	}
	base := make([]string, 0, len(set))
	for s := range set {
		base = append(base, s)
	}
	sort.Strings(base)
	// Splices and random bytes: pieces of two inputs around random text.
	rng := rand.New(rand.NewPCG(17, 42))
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \t\n\r'\"`<>()[]{};:,./\\|!?@#$%^&*-_=+~\x00\xc5\xbf\xe2\x84\xaa\xff"
	for range 4000 {
		a, b := base[rng.IntN(len(base))], base[rng.IntN(len(base))]
		a = a[rng.IntN(len(a)+1):]
		b = b[:rng.IntN(len(b)+1)]
		var mid strings.Builder
		for range rng.IntN(6) {
			mid.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		set[a+mid.String()+b] = true
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// corpusStride is how sparsely the corpus tests sample their inputs: all
// of them normally, one in ten with -short, one in two hundred under the
// race detector (which needs them least: they share no state between
// goroutines, and it slows regexp tenfold).
func corpusStride() int {
	switch {
	case raceEnabled:
		return 200
	case testing.Short():
		return 10
	}
	return 1
}

// TestCRSRxFiltersAreSound checks every CRS @rx on the corpus: its filter
// never says "cannot match" when the regular expression matches, on the
// input or on any match found in it. It also checks that the corpus is
// not vacuous (most regular expressions match something in it) and
// reports how much the filters skip.
func TestCRSRxFiltersAreSound(t *testing.T) {
	rxs, _ := crsRxPatterns(t)
	var corpus []string
	for i, s := range rxCorpus(t) {
		if i%corpusStride() == 0 {
			corpus = append(corpus, s)
		}
	}
	matched, skipped, pairs, filtered := 0, 0, 0, 0
	for _, r := range rxs {
		if r.filter == nil {
			continue
		}
		filtered++
		hit := false
		for _, s := range corpus {
			pairs++
			if r.filter.MayMatch(s) {
				if !hit && r.match(s) {
					hit = true
					for _, m := range r.find(s, 8) {
						if !r.filter.MayMatch(m) {
							t.Fatalf("filter %s of %q says no for %q, a match", r.filter, r.arg, m)
						}
					}
				}
				continue
			}
			skipped++
			if r.match(s) {
				t.Fatalf("filter %s of %q says no for %q, which matches", r.filter, r.arg, s)
			}
		}
		if hit {
			matched++
		}
	}
	t.Logf("%d regular expressions (%d with a filter), %d inputs: %d of %d filtered pairs skipped (%.1f%%); %d filtered expressions match some input",
		len(rxs), filtered, len(corpus), skipped, pairs, 100*float64(skipped)/float64(max(pairs, 1)), matched)
	if filtered < len(rxs)*3/4 {
		t.Errorf("only %d of %d CRS regular expressions have a filter", filtered, len(rxs))
	}
	if corpusStride() == 1 && matched < filtered*3/4 {
		t.Errorf("corpus too weak: only %d of %d filtered expressions match any input", matched, filtered)
	}
}

// FuzzCRSRxFilters: for any input, no CRS @rx filter says "cannot match"
// when its regular expression matches. Seeds: testdata/fuzz/FuzzCRSRxFilters
// and tier 1's attack payloads.
func FuzzCRSRxFilters(f *testing.F) {
	rxs, _ := crsRxPatterns(f)
	b, err := os.ReadFile(filepath.FromSlash("../inject/testdata/attacks.txt"))
	if err != nil {
		f.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if _, v, ok := strings.Cut(l, "\t"); ok {
			f.Add(v)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range rxs {
			if r.filter != nil && !r.filter.MayMatch(s) && r.match(s) {
				t.Fatalf("filter %s of %q says no for %q, which matches", r.filter, r.arg, s)
			}
		}
	})
}

// TestRxOperatorSameVerdicts runs CRS's regression requests, the attacks,
// the benign API corpus and the look-alikes through CRS with the
// gateway's @rx and with Coraza's (without its pre-filter): every result
// (decision, score, rules, category) and every error must be the same.
func TestRxOperatorSameVerdicts(t *testing.T) {
	// Every CRS regression request at paranoia 4 (every rule runs), one in
	// five at 1 and 2 (with the shipped exclusions); fewer with -short or
	// the race detector (corpusStride).
	var all, some []ftwRequest
	stride := corpusStride()
	for i, r := range loadFTW(t) {
		if i%stride == 0 {
			all = append(all, r)
		}
		if i%max(5, stride) == 0 {
			some = append(some, r)
		}
	}
	var reqs []ftwRequest
	for _, tc := range attacks {
		reqs = append(reqs, ftwRequest{name: tc.name, raw: tc.spec.raw(t)})
	}
	for _, s := range loadSpecs(t, "benign.json") {
		reqs = append(reqs, ftwRequest{name: s.Name, raw: s.raw(t)})
	}
	for _, v := range loadLookalikes(t) {
		reqs = append(reqs, ftwRequest{name: v, raw: reqSpec{Method: "GET", URI: "/api/v1/search?q=" + url.QueryEscape(v)}.raw(t)})
	}
	for _, cfg := range []Config{{Paranoia: 1}, {Paranoia: 2}, {Paranoia: 4, NoAPIExclusions: true}} {
		reqs := append(slices.Clip(reqs), some...)
		if cfg.Paranoia == 4 {
			reqs = append(slices.Clip(reqs), all...)
		}
		ours := testWAF(t, cfg)
		cfg.corazaRx = true
		theirs := testWAF(t, cfg)
		parsed, blocked := 0, 0
		for _, r := range reqs {
			req := new(fasthttp.Request)
			if err := req.Read(bufio.NewReader(bytes.NewReader(r.raw))); err != nil {
				continue // the server would have refused it
			}
			parsed++
			a, errA := ours.InspectRequest(req, Peer{}, false)
			b, errB := theirs.InspectRequest(req, Peer{}, false)
			if a != b || !sameError(errA, errB) {
				t.Errorf("paranoia %d, %s: gateway's @rx %+v, %v; Coraza's %+v, %v", cfg.Paranoia, r.name, a, errA, b, errB)
			}
			if a.Blocked {
				blocked++
			}
		}
		t.Logf("paranoia %d: %d requests, %d blocked by both", cfg.Paranoia, parsed, blocked)
		if stride <= 10 && blocked < parsed/4 {
			t.Errorf("paranoia %d: only %d of %d requests blocked: the corpus does not exercise the rules", cfg.Paranoia, blocked, parsed)
		}
	}
}

// TestCorazaPrefilterMisses documents why SecRxPreFilter stays off: CRS's
// own regression request for rule 942220 (a PHP strtod denial of service)
// fires without Coraza's pre-filter and with the gateway's @rx; Coraza
// v3.8.1 with SecRxPreFilter On lets it through (logged, not asserted, so
// that a fixed Coraza does not fail the test).
func TestCorazaPrefilterMisses(t *testing.T) {
	s := reqSpec{Method: "GET", URI: "/get?i=2.2250738585072011e-308"}
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"gateway rx", Config{}},
		{"coraza rx", Config{corazaRx: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := testWAF(t, tc.cfg).InspectRequest(parseRaw(t, s.raw(t)), Peer{}, false)
			if err != nil || !res.Blocked || res.RuleID != 942220 {
				t.Fatalf("got %+v, %v; want blocked by 942220", res, err)
			}
		})
	}
	res, err := testWAF(t, Config{corazaRx: true, corazaPrefilter: true}).InspectRequest(parseRaw(t, s.raw(t)), Peer{}, false)
	t.Logf("Coraza's @rx with SecRxPreFilter On: blocked %v by %v, %v", res.Blocked, res.Rules(), err)
}
