package waf

import (
	"bufio"
	"errors"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/dataplane/waf/inject"
)

func request(t testing.TB, raw string) *fasthttp.RequestCtx {
	t.Helper()
	ctx := &fasthttp.RequestCtx{}
	if err := ctx.Request.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatal(err)
	}
	return ctx
}

func detector(t testing.TB) *inject.Detector {
	t.Helper()
	d, err := inject.New(inject.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// fakeEngine is a tier-2 engine with a fixed answer: the stage's handling
// of verdicts and failures is what is tested here (waf/crs tests the
// engine itself).
type fakeEngine struct {
	res Tier2Result
	err error
}

func (f fakeEngine) Inspect(*fasthttp.RequestCtx, bool) (Tier2Result, error) { return f.res, f.err }

// utf7Form is "1' OR '1'='1" in UTF-7, which an upstream that honours the
// charset decodes, and tier 1 cannot.
const utf7Form = "POST /f HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded; charset=utf-7\r\n" +
	"Content-Length: 35\r\n\r\nc=1%2BACc- OR %2BACc-1%2BACcAPQAn-1"

func TestStage(t *testing.T) {
	d := detector(t)
	sqli := "GET /items?q=1'%20OR%20'1'='1 HTTP/1.1\r\nHost: a\r\n\r\n"
	clean := "GET /items?q=D%27Angelo HTTP/1.1\r\nHost: a\r\n\r\n"
	cases := []struct {
		name     string
		cfg      Config
		raw      string
		status   int // 0: passes
		reason   pipeline.Reason
		detail   string
		location string
	}{
		{"tier 1 blocks", Config{Tier1: d, Mode1: Block}, sqli, 403, pipeline.ReasonWAFBlocked, "sqli", "query.q"},
		{"tier 1 detects", Config{Tier1: d, Mode1: Detect}, sqli, 0, 0, "sqli", "query.q"},
		{"tier 1 passes a look-alike", Config{Tier1: d, Mode1: Block}, clean, 0, 0, "", ""},
		{"xss in a header", Config{Tier1: d, Mode1: Block}, "GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: <script>alert(1)</script>\r\n\r\n",
			403, pipeline.ReasonWAFBlocked, "xss", "header.user-agent"},
		{"tier 2 blocks", Config{Tier2: fakeEngine{res: Tier2Result{Matched: true, RuleID: 942100, Detail: "sqli"}}, Mode2: Block}, clean,
			403, pipeline.ReasonWAFBlocked, "sqli", "crs.942100"},
		{"tier 2 detects", Config{Tier2: fakeEngine{res: Tier2Result{Matched: true, RuleID: 942100, Detail: "sqli"}}, Mode2: Detect}, clean,
			0, 0, "sqli", "crs.942100"},
		{"tier 2 names where its rule matched", Config{Tier2: fakeEngine{res: matchedAt(942100, "sqli", "query.q")}, Mode2: Block}, clean,
			403, pipeline.ReasonWAFBlocked, "sqli", "crs.942100:query.q"},
		{"tier 2 fails closed with 403", Config{Tier2: fakeEngine{err: errors.New("boom")}, Mode2: Detect}, clean,
			403, pipeline.ReasonWAFError, "crs_error", ""},
		{"tier 2 fails closed with 500", Config{Tier2: fakeEngine{err: errors.New("boom")}, Mode2: Block, OnError: 500}, clean,
			500, pipeline.ReasonWAFError, "crs_error", ""},
		{"truncated: an encoded body", Config{Tier1: d, Mode1: Block, BlockTruncated: true},
			"POST /f HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Encoding: br\r\nContent-Length: 5\r\n\r\nhello",
			403, pipeline.ReasonWAFBlocked, DetailTruncated, ""},
		{"undecodable: a UTF-7 form", Config{Tier1: d, Mode1: Block, BlockTruncated: true}, utf7Form,
			403, pipeline.ReasonWAFBlocked, DetailUndecodable, ""},
		{"undecodable passes without block_truncated", Config{Tier1: d, Mode1: Block}, utf7Form, 0, 0, "", ""},
		{"undecodable passes in detect mode", Config{Tier1: d, Mode1: Detect, BlockTruncated: true}, utf7Form, 0, 0, "", ""},
		// Both tiers find something: the line names one finding whole.
		{"both detect: tier 1's finding is named", Config{Tier1: d, Mode1: Detect,
			Tier2: fakeEngine{res: Tier2Result{Matched: true, RuleID: 941100, Detail: "xss"}}, Mode2: Detect},
			sqli, 0, 0, "sqli", "query.q"},
		{"tier 1 detects, tier 2 blocks: tier 2's finding is named", Config{Tier1: d, Mode1: Detect,
			Tier2: fakeEngine{res: Tier2Result{Matched: true, RuleID: 941100, Detail: "xss"}}, Mode2: Block},
			sqli, 403, pipeline.ReasonWAFBlocked, "xss", "crs.941100"},
		{"tier 1 detects, tier 2 fails: no location for the error", Config{Tier1: d, Mode1: Detect,
			Tier2: fakeEngine{err: errors.New("boom")}, Mode2: Detect},
			sqli, 403, pipeline.ReasonWAFError, "crs_error", ""},
		{"tier 1 blocks before tier 2 runs", Config{Tier1: d, Mode1: Block, Tier2: fakeEngine{err: errors.New("must not run")}, Mode2: Block},
			sqli, 403, pipeline.ReasonWAFBlocked, "sqli", "query.q"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Route = "r"
			s, err := New(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx := request(t, tc.raw)
			r := &pipeline.Request{}
			v := s.Handle(ctx, r)
			if tc.status == 0 {
				if v != pipeline.Continue {
					t.Fatalf("refused: %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
				}
			} else if v != pipeline.Done || ctx.Response.StatusCode() != tc.status || r.Reason != tc.reason {
				t.Fatalf("got %v %d %s, want %d %s", v, ctx.Response.StatusCode(), r.Reason, tc.status, tc.reason)
			}
			if r.Detail != tc.detail || string(r.Location) != tc.location {
				t.Errorf("detail %q location %q, want %q %q", r.Detail, r.Location, tc.detail, tc.location)
			}
			if body := string(ctx.Response.Body()); strings.Contains(body, "OR") || strings.Contains(body, "script") {
				t.Errorf("the answer echoes the attack: %s", body)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	for _, cfg := range []Config{
		{Mode1: Block},
		{Mode2: Detect},
		{Tier2: fakeEngine{}, Mode2: Block, OnError: 404},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

// matchedAt is a tier-2 match of rule id that names where it matched.
func matchedAt(id int, detail, where string) Tier2Result {
	r := Tier2Result{Matched: true, RuleID: id, Detail: detail}
	r.SetWhere(where)
	return r
}
