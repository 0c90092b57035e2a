// Command replay sends libinjection's SQLi and XSS sample files, and its
// false-positive file, through a running gatewayd and counts what the
// gateway refused. It is the second half of bench/waf/run.sh.
//
// Every sample line (comments and blank lines skipped, decoded as
// libinjection's own test reader decodes it) becomes one request,
//
//	GET /?q=<the sample, URL-encoded again>
//
// The benchmark's upstream answers every request 200, so any 4xx is the
// gateway's refusal: a 403 is what the WAF answers, other 4xx codes come from
// the gateway's request hygiene (path, header and size rules) and are shown
// apart with the reason code of the gateway's JSON error body. A 5xx or a
// transport error counts as neither blocked nor passed and is reported.
//
// The samples come from a checkout of github.com/libinjection/libinjection
// (its data/ directory); they are read in place, never copied:
//
//	sqli    data/sqli-*.txt
//	xss     data/xss*.txt
//	benign  data/false_*.txt
//
//	replay -url http://127.0.0.1:18480/ -data /tmp/libinjection/data [-label LABEL] [-misses DIR]
//
// Exit status: 0 when every sample got an HTTP answer, 1 when some did not
// (or the deadline cut the run short), 2 on a usage or input error.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// sampleSet is one group of sample files, counted separately.
type sampleSet struct {
	name   string
	glob   string
	attack bool // true: a 4xx is a hit; false (benign): a 4xx is a false positive
}

var sets = []sampleSet{
	{name: "sqli", glob: "sqli-*.txt", attack: true},
	{name: "xss", glob: "xss*.txt", attack: true},
	{name: "benign", glob: "false_*.txt", attack: false},
}

// sample is one line of a sample file, decoded.
type sample struct {
	set   int
	file  string
	line  int
	raw   string // the line as it is in the file, for the misses files
	value []byte
}

// result is the gateway's answer to one sample.
type result struct {
	status int    // 0: no HTTP answer
	reason string // the gateway's reason code, for its refusals
	err    error
}

func main() {
	os.Exit(run())
}

func run() int {
	base := flag.String("url", "http://127.0.0.1:18480/", "gateway URL the samples are sent to (loopback)")
	data := flag.String("data", "/tmp/libinjection/data", "libinjection's data/ directory")
	param := flag.String("param", "q", "query parameter that carries each sample")
	label := flag.String("label", "", "name of the configuration under test, printed in the summary")
	workers := flag.Int("workers", 4, "requests in flight")
	timeout := flag.Duration("timeout", 5*time.Second, "time limit of one request")
	deadline := flag.Duration("deadline", 10*time.Minute, "time limit of the whole replay")
	misses := flag.String("misses", "", "directory to write the attack samples that passed and the benign ones refused")
	flag.Parse()

	if *workers < 1 {
		fmt.Fprintln(os.Stderr, "replay: -workers must be >= 1")
		return 2
	}
	target, err := url.Parse(*base)
	if err != nil || target.Scheme != "http" || target.Host == "" {
		fmt.Fprintf(os.Stderr, "replay: parse -url %q: want http://host:port/\n", *base)
		return 2
	}
	samples, files, err := load(*data)
	if err != nil {
		fmt.Fprintf(os.Stderr, "replay: %v\n", err)
		return 2
	}

	ctx, cancel := context.WithTimeout(context.Background(), *deadline)
	defer cancel()
	client := &http.Client{
		Timeout: *timeout,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: *workers,
			MaxConnsPerHost:     *workers,
			DisableCompression:  true,
		},
		// A redirect would be the upstream's or the gateway's answer, not
		// something to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	prefix := strings.TrimSuffix(target.String(), "?") + "?" + url.QueryEscape(*param) + "="
	start := time.Now()
	results := send(ctx, client, prefix, samples, *workers)
	elapsed := time.Since(start)

	incomplete := report(os.Stdout, *label, samples, files, results, elapsed)
	if *misses != "" {
		if err := writeMisses(*misses, samples, results); err != nil {
			fmt.Fprintf(os.Stderr, "replay: %v\n", err)
			return 2
		}
	}
	if incomplete {
		return 1
	}
	return 0
}

// load reads every set's files under dir. It fails when a set has no file,
// so that a wrong -data is not reported as 0 of 0 samples.
func load(dir string) ([]sample, [][]string, error) {
	var samples []sample
	files := make([][]string, len(sets))
	for si, set := range sets {
		names, err := filepath.Glob(filepath.Join(dir, set.glob))
		if err != nil {
			return nil, nil, fmt.Errorf("load samples: %s: %w", set.glob, err)
		}
		if len(names) == 0 {
			return nil, nil, fmt.Errorf("load samples: no file matches %s", filepath.Join(dir, set.glob))
		}
		sort.Strings(names)
		for _, name := range names {
			got, err := readFile(name, si)
			if err != nil {
				return nil, nil, err
			}
			samples = append(samples, got...)
			files[si] = append(files[si], filepath.Base(name))
		}
	}
	return samples, files, nil
}

// readFile returns the samples of one file, skipping what libinjection's
// reader skips: lines that are empty after trimming trailing white space,
// and lines starting with '#'.
func readFile(name string, set int) ([]sample, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("load samples: %w", err)
	}
	defer f.Close()
	var out []sample
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimRight(sc.Bytes(), " \t\r\n")
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		out = append(out, sample{
			set: set, file: filepath.Base(name), line: n,
			raw: string(line), value: urlDecode(line),
		})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("load samples: %s: %w", name, err)
	}
	return out, nil
}

// send sends every sample with workers requests in flight and returns the
// answers in the samples' order. Samples not sent before ctx ends get the
// context's error.
func send(ctx context.Context, client *http.Client, prefix string, samples []sample, workers int) []result {
	results := make([]result, len(samples))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = sendOne(ctx, client, prefix+url.QueryEscape(string(samples[i].value)))
			}
		}()
	}
	for i := range samples {
		if ctx.Err() != nil {
			results[i] = result{err: ctx.Err()}
			continue
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}

// maxBody bounds what is read of an answer: the gateway's error bodies and
// the upstream's answer are a few hundred bytes.
const maxBody = 64 << 10

func sendOne(ctx context.Context, client *http.Client, target string) result {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return result{err: err}
	}
	resp, err := client.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	r := result{status: resp.StatusCode}
	if err != nil {
		// The status line arrived: the verdict is known even if the body
		// was cut.
		r.reason = "(body unreadable)"
		return r
	}
	if resp.StatusCode != http.StatusOK {
		var deny struct {
			Reason string `json:"reason"`
		}
		if json.Unmarshal(body, &deny) == nil && deny.Reason != "" {
			r.reason = deny.Reason
		} else {
			r.reason = "(no edgeguard reason)"
		}
	}
	return r
}

// tally counts one set's answers.
type tally struct {
	samples, blocked, blocked403, passed, other, errs int
	refusals                                          map[string]int // "400 path_ambiguous" -> count
	others                                            map[string]int // 5xx, 3xx, transport errors
}

func blocked(status int) bool { return status >= 400 && status < 500 }

func count(samples []sample, results []result) []tally {
	t := make([]tally, len(sets))
	for i := range t {
		t[i].refusals = map[string]int{}
		t[i].others = map[string]int{}
	}
	for i, s := range samples {
		r, c := results[i], &t[s.set]
		c.samples++
		switch {
		case r.status == 0:
			c.errs++
			msg := "no answer"
			if errors.Is(r.err, context.DeadlineExceeded) || errors.Is(r.err, context.Canceled) {
				msg = "not sent: deadline"
			}
			c.others[msg]++
		case r.status == http.StatusOK:
			c.passed++
		case blocked(r.status):
			c.blocked++
			if r.status == http.StatusForbidden {
				c.blocked403++
			}
			c.refusals[fmt.Sprintf("%d %s", r.status, r.reason)]++
		default:
			c.other++
			c.others[fmt.Sprintf("%d %s", r.status, r.reason)]++
		}
	}
	return t
}

// report prints one SUMMARY line per set, each followed by the split of the
// refusals, and says whether some samples got no HTTP answer.
func report(w io.Writer, label string, samples []sample, files [][]string, results []result, elapsed time.Duration) (incomplete bool) {
	if label == "" {
		label = "-"
	}
	total := 0
	for si, c := range count(samples, results) {
		set := sets[si]
		total += c.samples
		if set.attack {
			fmt.Fprintf(w, "SUMMARY replay [%s] %s: blocked %d/%d (%s; 403 %d, other 4xx %d), passed %d, other %d, no answer %d; %d files\n",
				label, set.name, c.blocked, c.samples, pct(c.blocked, c.samples),
				c.blocked403, c.blocked-c.blocked403, c.passed, c.other, c.errs, len(files[si]))
		} else {
			fmt.Fprintf(w, "SUMMARY replay [%s] %s: passed %d/%d (%s), blocked %d (%s; 403 %d, other 4xx %d), other %d, no answer %d; %d files\n",
				label, set.name, c.passed, c.samples, pct(c.passed, c.samples), c.blocked, pct(c.blocked, c.samples),
				c.blocked403, c.blocked-c.blocked403, c.other, c.errs, len(files[si]))
		}
		if len(c.refusals) > 0 {
			fmt.Fprintf(w, "  %s refusals: %s\n", set.name, split(c.refusals))
		}
		if len(c.others) > 0 {
			fmt.Fprintf(w, "  %s neither blocked nor passed: %s\n", set.name, split(c.others))
		}
		if c.errs > 0 {
			incomplete = true
		}
	}
	fmt.Fprintf(w, "  replay: %d requests in %s (%.0f/s)\n", total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds())
	return incomplete
}

func pct(n, of int) string {
	if of == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f%%", 100*float64(n)/float64(of))
}

// split renders counts as "400 path_ambiguous 3, 431 headers_too_many 1",
// largest first.
func split(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// writeMisses writes, per set, the samples the gateway got wrong: attack
// samples it passed, benign samples it refused. Each line is
// "file:line<TAB>status<TAB>sample as in the file".
func writeMisses(dir string, samples []sample, results []result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write misses: %w", err)
	}
	bufs := make([]bytes.Buffer, len(sets))
	for i, s := range samples {
		r := results[i]
		miss := (sets[s.set].attack && !blocked(r.status)) || (!sets[s.set].attack && blocked(r.status))
		if miss {
			fmt.Fprintf(&bufs[s.set], "%s:%d\t%d\t%s\n", s.file, s.line, r.status, s.raw)
		}
	}
	for si, set := range sets {
		name := "passed-attacks"
		if !set.attack {
			name = "blocked-benign"
		}
		path := filepath.Join(dir, fmt.Sprintf("replay-%s-%s.txt", set.name, name))
		if err := os.WriteFile(path, bufs[si].Bytes(), 0o644); err != nil {
			return fmt.Errorf("write misses: %w", err)
		}
	}
	return nil
}
