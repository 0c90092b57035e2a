package crs

import (
	"bufio"
	"bytes"
	"errors"
	"testing"

	"github.com/valyala/fasthttp"
)

// FuzzInspect feeds raw request bytes, parsed by fasthttp as the server
// parses them, to Inspect. Whatever the bytes: nothing panics (a panic
// recovered inside Coraza is reported as a finding too), an error never
// comes with a pass or a block, every error is one of the documented ones,
// the result is consistent, and inspecting the same request again gives
// the same answer (no state leaks through Coraza's transaction pool).
// Seeds: testdata/fuzz/FuzzInspect.
func FuzzInspect(f *testing.F) {
	for _, tc := range attacks {
		f.Add(tc.spec.raw(f), false)
	}
	f.Add(reqSpec{Method: "POST", URI: "/x", ContentType: "text/plain", Raw: `{"a":[1,"b"]}`}.raw(f), true)
	w := testWAF(f, Config{Paranoia: 2, MaxBodyBytes: 64 << 10, ExcludeRules: []int{920420}})
	f.Fuzz(func(t *testing.T, raw []byte, jsonBody bool) {
		req := new(fasthttp.Request)
		if err := req.Read(bufio.NewReader(bytes.NewReader(raw))); err != nil {
			return // the server would have refused it
		}
		res, err := w.InspectRequest(req, Peer{}, jsonBody)
		check(t, raw, res, err)
		res2, err2 := w.InspectRequest(req, Peer{}, jsonBody)
		check(t, raw, res2, err2)
		if res != res2 || !sameError(err, err2) {
			t.Fatalf("request %q: first %+v, %v; then %+v, %v", raw, res, err, res2, err2)
		}
	})
}

func check(t *testing.T, raw []byte, res Result, err error) {
	t.Helper()
	if err != nil {
		if pe := (*panicError)(nil); errors.As(err, &pe) {
			t.Fatalf("request %q: Coraza panicked (recovered, failed closed): %v", raw, err)
		}
		if !errors.Is(err, ErrInternal) && !errors.Is(err, ErrBody) && !errors.Is(err, ErrBodyTooLarge) &&
			!errors.Is(err, ErrBodyEncoded) && !errors.Is(err, ErrTooManyArgs) {
			t.Fatalf("request %q: undocumented error %v", raw, err)
		}
		if res.Blocked || res.Matched || res.Score != 0 || len(res.Rules()) != 0 {
			t.Fatalf("request %q: error %v with a verdict %+v", raw, err, res)
		}
		return
	}
	if res.Blocked != res.Matched || (res.Matched && (res.Decision == 0 || res.RuleID == 0)) || res.Score < 0 ||
		(res.Matched && res.Category == CategoryNone) || (res.Score > 0 && len(res.Rules()) == 0) {
		t.Fatalf("request %q: inconsistent result %+v", raw, res)
	}
}

func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}
