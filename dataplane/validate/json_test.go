package validate

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/dataplane/validate/schema"
)

const orderSchema = `{
  "type": "object",
  "required": ["sku", "qty"],
  "additionalProperties": false,
  "properties": {
    "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
    "qty": {"type": "integer", "minimum": 1, "maximum": 100},
    "note": {"type": "string", "maxLength": 20},
    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3}
  }
}`

func jsonStage(t testing.TB) *Stage {
	t.Helper()
	sc, err := schema.Compile([]byte(orderSchema))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Rules{Route: "orders", MediaTypes: []string{"application/json"}, RefuseEncoded: true,
		Body: NewJSONCheck("orders", 16, sc)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJSONBodies(t *testing.T) {
	s := jsonStage(t)
	cases := []struct {
		name       string
		body       string
		detail     string   // "" passes
		pointers   []string // schema violations expected, in order
		mustNotSay string   // request data that must not appear in the answer
	}{
		{name: "valid order", body: `{"sku":"ABC-1234","qty":2,"tags":["a"]}`},
		{name: "malformed", body: `{"sku":"ABC-1234",}`, detail: "json_malformed"},
		{name: "trailing data", body: `{"sku":"ABC-1234","qty":1} {}`, detail: "json_trailing_data"},
		{name: "duplicate key", body: `{"sku":"ABC-1234","qty":1,"qty":100}`, detail: "json_duplicate_key"},
		{name: "duplicate key through an escape", body: `{"sku":"ABC-1234","qty":1,"\u0071ty":100}`, detail: "json_duplicate_key"},
		{name: "too deep", body: strings.Repeat("[", 10000) + strings.Repeat("]", 10000), detail: "json_too_deep"},
		{name: "invalid UTF-8", body: "{\"sku\":\"\xff\",\"qty\":1}", detail: "json_invalid_utf8"},
		{name: "lone surrogate", body: `{"sku":"\ud800","qty":1}`, detail: "json_invalid_utf8"},
		{name: "out of range", body: `{"sku":"ABC-1234","qty":1000}`, detail: DetailSchema, pointers: []string{"/qty"}},
		{name: "wrong type and pattern", body: `{"sku":"nope-secret","qty":"2"}`, detail: DetailSchema,
			pointers: []string{"/qty", "/sku"}, mustNotSay: "nope-secret"},
		{name: "missing required", body: `{"qty":2}`, detail: DetailSchema, pointers: []string{""}},
		{name: "extra property is not named", body: `{"sku":"ABC-1234","qty":2,"secretKey":1}`, detail: DetailSchema,
			pointers: []string{""}, mustNotSay: "secretKey"},
		{name: "array item", body: `{"sku":"ABC-1234","qty":2,"tags":["a",5]}`, detail: DetailSchema, pointers: []string{"/tags/1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := request(t, post("application/json", tc.body))
			r := &pipeline.Request{}
			v := s.Handle(ctx, r)
			if tc.detail == "" {
				if v != pipeline.Continue || r.JSON == nil {
					t.Fatalf("refused: %s %s", r.Detail, ctx.Response.Body())
				}
				return
			}
			if v != pipeline.Done || ctx.Response.StatusCode() != 400 || r.Reason != pipeline.ReasonBodyInvalid || r.Detail != tc.detail {
				t.Fatalf("got %v %d %s (%s), want 400 body_invalid (%s)", v, ctx.Response.StatusCode(), r.Reason, r.Detail, tc.detail)
			}
			var answer struct {
				Reason     string `json:"reason"`
				Violations []struct{ Pointer, Reason string }
			}
			if err := json.Unmarshal(ctx.Response.Body(), &answer); err != nil {
				t.Fatalf("answer %q is not JSON: %v", ctx.Response.Body(), err)
			}
			if answer.Reason != "body_invalid" {
				t.Errorf("answer reason %q", answer.Reason)
			}
			var got []string
			for _, v := range answer.Violations {
				got = append(got, v.Pointer)
				if v.Reason == "" {
					t.Errorf("violation at %q without a reason", v.Pointer)
				}
			}
			slices.Sort(got)
			if strings.Join(got, ",") != strings.Join(tc.pointers, ",") {
				t.Errorf("violations at %q, want %q (%s)", got, tc.pointers, ctx.Response.Body())
			}
			if tc.mustNotSay != "" && strings.Contains(string(ctx.Response.Body()), tc.mustNotSay) {
				t.Errorf("the answer echoes request data: %s", ctx.Response.Body())
			}
		})
	}
}

// TestJSONCheckWithoutBody: a request that sends no body passes a JSON
// check only when it owes none (a GET, a DELETE); a POST, PUT or PATCH
// without one, or a request that declares a Content-Type, is refused: an
// empty body is no JSON value, and the schema's required members are
// missing.
func TestJSONCheckWithoutBody(t *testing.T) {
	cases := []struct {
		name string
		raw  string
		want int // 0: passes
	}{
		{"get", "GET /orders/1 HTTP/1.1\r\nHost: a\r\n\r\n", 0},
		{"delete", "DELETE /orders/1 HTTP/1.1\r\nHost: a\r\n\r\n", 0},
		{"post typed, length 0", "POST /orders HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n", 400},
		{"post with nothing", "POST /orders HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"put", "PUT /orders/1 HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", 400},
		{"patch chunked empty", "PATCH /orders/1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"delete typed", "DELETE /orders/1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n", 400},
	}
	s := jsonStage(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := request(t, tc.raw)
			r := &pipeline.Request{}
			v := s.Handle(ctx, r)
			if tc.want == 0 {
				if v != pipeline.Continue {
					t.Fatalf("refused: %d %s", ctx.Response.StatusCode(), r.Detail)
				}
				return
			}
			if v != pipeline.Done || ctx.Response.StatusCode() != tc.want || r.Detail != DetailBodyMissing {
				t.Fatalf("got %v %d %q, want %d %s", v, ctx.Response.StatusCode(), r.Detail, tc.want, DetailBodyMissing)
			}
		})
	}
}

// TestJSONEncodings: a JSON-validated route reads bodies as UTF-8 only.
// A charset other than UTF-8 is refused (415) before the body is read:
// the schema would check one document and an upstream that honours the
// label decode another. A byte order mark, or a UTF-16/32 body, is not
// UTF-8 JSON (RFC 8259 §8.1) and is refused as malformed (400), so a
// sniffing upstream never gets a document that was not checked.
func TestJSONEncodings(t *testing.T) {
	s := jsonStage(t)
	valid := `{"sku":"ABC-1234","qty":2}`
	utf16le := func(s string) string {
		b := []byte{0xff, 0xfe}
		for _, c := range []byte(s) {
			b = append(b, c, 0)
		}
		return string(b)
	}
	for _, tc := range []struct {
		name, ct, body string
		status         int // 0: passes
		detail         string
	}{
		{"no charset", "application/json", valid, 0, ""},
		{"utf-8", "application/json; charset=UTF-8", valid, 0, ""},
		{"utf-8 quoted", `application/json; charset="utf-8"`, valid, 0, ""},
		{"utf-16 declared", "application/json; charset=utf-16", valid, 415, DetailCharset},
		{"utf-16 declared and encoded", "application/json; charset=utf-16", utf16le(valid), 415, DetailCharset},
		{"utf-7 declared, +ADw- for '<'", "application/json; charset=utf-7", `{"sku":"ABC-1234","qty":2,"note":"+ADw-b+AD4-"}`, 415, DetailCharset},
		{"latin-1 declared", "application/json; charset=iso-8859-1", valid, 415, DetailCharset},
		{"charset twice", "application/json; charset=utf-8; charset=utf-7", valid, 415, DetailCharset},
		{"utf-8 bom", "application/json", "\xef\xbb\xbf" + valid, 400, "json_malformed"},
		{"utf-16le bom", "application/json", utf16le(valid), 400, "json_malformed"},
		{"utf-16le without bom", "application/json", utf16le(valid)[2:], 400, "json_malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := request(t, post(tc.ct, tc.body))
			r := &pipeline.Request{}
			v := s.Handle(ctx, r)
			if tc.status == 0 {
				if v != pipeline.Continue {
					t.Fatalf("refused %d %s", ctx.Response.StatusCode(), r.Detail)
				}
				return
			}
			if v != pipeline.Done || ctx.Response.StatusCode() != tc.status || r.Detail != tc.detail {
				t.Fatalf("got %v %d %q, want %d %q", v, ctx.Response.StatusCode(), r.Detail, tc.status, tc.detail)
			}
		})
	}
}
