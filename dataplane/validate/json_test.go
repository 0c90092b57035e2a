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

func TestJSONCheckSkipsRequestsWithoutBody(t *testing.T) {
	s := jsonStage(t)
	ctx := request(t, "DELETE /orders/1 HTTP/1.1\r\nHost: a\r\n\r\n")
	if v := s.Handle(ctx, &pipeline.Request{}); v != pipeline.Continue {
		t.Fatalf("a request without a body was refused: %s", ctx.Response.Body())
	}
}
