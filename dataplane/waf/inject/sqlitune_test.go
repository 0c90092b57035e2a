package inject

import (
	"net/url"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestNumericConjunction: math and logic a search box gets ("2 > 1 && 1 <
// 2") is not SQLi, where it cannot select more rows than a number would;
// the same shapes that make a tautology stay detections.
func TestNumericConjunction(t *testing.T) {
	tests := []queryCase{
		{"2 > 1 && 1 < 2", KindNone},
		{"2>1&&1<2", KindNone},
		{"1 > 0 and 2 < 3", KindNone},
		{"1 > 0 AND 2 < 3 && 4 >= 4", KindNone},
		{"3 >= 1.5 && 1 < 2", KindNone},
		// Tautologies where a number is expected ("id = <v>").
		{"2 > 1 || 1 < 2", KindSQLi},
		{"2 > 1 or 1 < 2", KindSQLi},
		{"1 < 2 && 2 < 3", KindSQLi},  // (id = 1) < 2: every row
		{"2 < 1 && 1 < 2", KindSQLi},  // id != 2
		{"2 >= 0 && 1 < 2", KindSQLi}, // always true
		{"2 <= 5 and 1 < 2", KindSQLi},
		{"1 and 1 = 1", KindSQLi},
		{"1 && 1 = 1", KindSQLi},
		{"-1 and 1>1", KindSQLi},
		{"2 > 1 && 1 = 1", KindSQLi},
		{"2 > 1 && 1 < 2 --", KindSQLi},
		{"2 > 1 && 1 < 2) or (1=1", KindSQLi},
		{"2 > 1 && 1 < 2' or '1'='1", KindSQLi},
		{"123) AND 12=12  AND JSON_DEPTH('{}') != 2521", KindSQLi},
	}
	checkQueryCases(t, tests)
}

// TestHarmlessCall: f(1)n is text for an aggregate of one number, an
// attack for a time-based function.
func TestHarmlessCall(t *testing.T) {
	d := mustNew(t, Options{})
	var sc Scratch
	for _, tc := range []struct {
		q    string
		want Kind
	}{
		{"max(3) per order", KindNone},
		{"Count(3) items left", KindNone},
		{"sleep(5) x", KindSQLi},
		{"pg_sleep(10) x", KindSQLi},
		{"benchmark(10000000) a", KindSQLi},
		{"SLEEP(5) waitfor", KindSQLi},
		{"max(1) union select password from users", KindSQLi},
	} {
		if r := d.Inspect(&sc, queryRequest("q="+url.QueryEscape(tc.q)), nil); r.Kind != tc.want {
			t.Errorf("%q: %v (%s); want %v", tc.q, r.Kind, r.Fingerprint, tc.want)
		}
	}
}

// TestProseCalls: labels, titles and expressions whose only SQL shape is a
// plain function call ("Date (UTC)", "count(up)") and prose clauses after
// ';' that start with IF or USE pass; calls with an effect, nested calls,
// keywords or quotes after them stay detections.
func TestProseCalls(t *testing.T) {
	tests := []queryCase{
		{"Date (UTC)", KindNone},
		{"Groundhog Day (1993)", KindNone},
		{"Mad Max (1979)", KindNone},
		{"Length (cm)", KindNone},
		{"Space (Gray) 256GB", KindNone},
		{"Total（税込）", KindNone},
		{"count(up)", KindNone},
		{"sum(up) / count(up)", KindNone},
		{"year(BirthDate) eq 1990", KindNone},
		{"sqrt(2)", KindNone},
		{"the sqrt(2) is irrational", KindNone},
		{"avg(latency)", KindNone},
		{"COUNT(id)", KindNone},
		{"length(Name) gt 3", KindNone},
		{"var(--brand)", KindNone},
		{"Thanks; if you need anything else let me know", KindNone},
		{"Fragile; use the side entrance", KindNone},
		{"Sure; use code SAVE10", KindNone},
		{"sleep(5)", KindSQLi},
		{"pg_sleep(5)", KindSQLi},
		{"benchmark(10000000,md5(1))", KindSQLi},
		{"count(select 1)", KindSQLi},
		{"length(user())", KindSQLi},
		{"extractvalue(1,0x7e)", KindSQLi},
		{"count(x) and 1=1", KindSQLi},
		{"count(x)--", KindSQLi},
		{"count(x)#", KindSQLi},
		{"count(x) union select 1", KindSQLi},
		{"var(--x)\n) or (1", KindSQLi},
		{"x; if (1=1) waitfor delay '0:0:5'--", KindSQLi},
	}
	checkQueryCases(t, tests)
}

// queryCase is a query value and the kind tier 1 must find in it.
type queryCase struct {
	q    string
	want Kind
}

// checkQueryCases inspects each value as the query argument q; a value
// that must pass is also inspected in a form, a multipart part, a JSON
// value, a cookie and the path.
func checkQueryCases(t *testing.T, tests []queryCase) {
	t.Helper()
	d := mustNew(t, Options{})
	var sc Scratch
	for _, tc := range tests {
		t.Run(tc.q, func(t *testing.T) {
			var req fasthttp.Request
			req.SetRequestURI("/search?q=" + url.QueryEscape(tc.q))
			r := d.Inspect(&sc, &req, nil)
			if r.Kind != tc.want {
				t.Fatalf("%v (%s, %q); want %v", r.Kind, r.Rule, r.Fingerprint, tc.want)
			}
			if tc.want != KindNone && string(r.Location) != "query.q" {
				t.Errorf("at %q; want query.q", r.Location)
			}
			if tc.want != KindNone {
				return
			}
			for _, pl := range placements {
				switch pl.name {
				case "form value", "multipart", "json value", "cookie", "path":
					if r := inspectPlaced(d, &sc, pl, tc.q); r.Detected() {
						t.Errorf("%s: %v (%s, %q)", pl.name, r.Kind, r.Rule, r.Fingerprint)
					}
				}
			}
		})
	}
}
