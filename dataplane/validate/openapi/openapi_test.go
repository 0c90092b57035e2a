package openapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pathnorm"
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/dataplane/validate"
)

func load(tb testing.TB, file string, opts Options) *Check {
	tb.Helper()
	doc, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := New(doc, opts)
	if err != nil {
		tb.Fatalf("New(%s): %v", file, err)
	}
	return c
}

// request builds what the server hands a stage: the parsed request and
// the normalized path (RoutePath when ';' parameters were cut).
func request(tb testing.TB, method, uri, contentType, body string, headers ...string) (*fasthttp.RequestCtx, *pipeline.Request) {
	tb.Helper()
	raw := method + " " + uri + " HTTP/1.1\r\nHost: api.test\r\n"
	if contentType != "" {
		raw += "Content-Type: " + contentType + "\r\n"
	}
	for _, h := range headers {
		raw += h + "\r\n"
	}
	if body != "" {
		raw += "Content-Length: " + strconv.Itoa(len(body)) + "\r\n"
	}
	raw += "\r\n" + body
	ctx := &fasthttp.RequestCtx{}
	if err := ctx.Request.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		tb.Fatalf("parse %q: %v", raw, err)
	}
	r := &pipeline.Request{}
	path, err := pathnorm.NormalizeMode(nil, ctx.Request.URI().PathOriginal(), pathnorm.AllowParams)
	if err != nil {
		tb.Fatalf("normalize %q: %v", uri, err)
	}
	r.Path = path
	if bytes.IndexByte(path, ';') >= 0 {
		r.RoutePath = pathnorm.CutParams(nil, path)
	}
	return ctx, r
}

// answer is a refusal's body.
type answer struct {
	Status     int    `json:"status"`
	Reason     string `json:"reason"`
	Violations []struct {
		Pointer string `json:"pointer"`
		Reason  string `json:"reason"`
	} `json:"violations"`
}

// reqCase is one request and what must come of it.
type reqCase struct {
	name        string
	method, uri string
	ct, body    string
	headers     []string
	status      int      // 0: passes
	detail      string   // the refusal's detail, when it matters
	pointers    []string // the violations' pointers, sorted
	mustNotSay  string   // request data the answer must not echo
}

func runCases(t *testing.T, c *Check, cases []reqCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, r := request(t, tc.method, tc.uri, tc.ct, tc.body, tc.headers...)
			v := c.Check(ctx, r)
			if tc.status == 0 {
				if v != pipeline.Continue {
					t.Fatalf("refused %d %s: %s", ctx.Response.StatusCode(), r.Detail, ctx.Response.Body())
				}
				return
			}
			if v != pipeline.Done || ctx.Response.StatusCode() != tc.status {
				t.Fatalf("got verdict %v status %d (%s), want %d: %s", v, ctx.Response.StatusCode(), r.Detail, tc.status, ctx.Response.Body())
			}
			if tc.detail != "" && r.Detail != tc.detail {
				t.Errorf("detail %q, want %q", r.Detail, tc.detail)
			}
			var a answer
			if err := json.Unmarshal(ctx.Response.Body(), &a); err != nil {
				t.Fatalf("answer %q is not JSON: %v", ctx.Response.Body(), err)
			}
			if a.Status != tc.status || a.Reason != r.Reason.String() {
				t.Errorf("answer %+v, want status %d reason %s", a, tc.status, r.Reason)
			}
			if tc.pointers != nil {
				var got []string
				for _, v := range a.Violations {
					got = append(got, v.Pointer)
					if v.Reason == "" {
						t.Errorf("violation at %q without a reason", v.Pointer)
					}
				}
				slices.Sort(got)
				if strings.Join(got, " ") != strings.Join(tc.pointers, " ") {
					t.Errorf("violations at %q, want %q: %s", got, tc.pointers, ctx.Response.Body())
				}
			}
			if tc.mustNotSay != "" && bytes.Contains(ctx.Response.Body(), []byte(tc.mustNotSay)) {
				t.Errorf("the answer echoes request data %q: %s", tc.mustNotSay, ctx.Response.Body())
			}
		})
	}
}

const (
	newPet     = `{"name":"Rex","petType":"dog","tag":null,"example":"short","birthday":"2020-02-29","weight":12.5,"status":"available","microchip":"AAEC"}`
	validOrder = `{"customer":{"id":42,"email":"ada@example.com","name":"Ada","phone":null},` +
		`"items":[{"sku":"ABC-1234","qty":2,"unit_price":19.99,"description":"Blue widget, large"},{"sku":"XYZ-0001","qty":1,"unit_price":5}],` +
		`"currency":"EUR","coupon":null,"note":"leave at the door","shipping":{"line1":"1 Main St","line2":null,"city":"Springfield","postcode":"12345","country":"US"},` +
		`"billing":{"line1":"1 Main St","city":"Springfield","country":"US"},"placed_at":"2026-01-02T03:04:05Z","gift":false,"tags":["a","b"]}`
	orderURI = "/v1/stores/eu-001/customers/42/orders?priority=3&dry_run=true&channel=web"
)

func TestPetstore30(t *testing.T) {
	c := load(t, "testdata/petstore-3.0.yaml", Options{Route: "pets"})
	if c.BasePath() != "/v1" {
		t.Fatalf("base path %q from servers[0], want /v1", c.BasePath())
	}
	if c.Operations() != 13 {
		t.Errorf("%d operations, want 13", c.Operations())
	}
	runCases(t, c, []reqCase{
		// Operations.
		{name: "list", method: "GET", uri: "/v1/pets"},
		{name: "root", method: "GET", uri: "/v1/"},
		{name: "base path alone is the root", method: "GET", uri: "/v1"},
		{name: "outside the base path", method: "GET", uri: "/v2/pets", status: 404, detail: DetailNoOperation},
		{name: "base path prefix of a segment", method: "GET", uri: "/v1x/pets", status: 404},
		{name: "unknown path", method: "GET", uri: "/v1/owners", status: 404, detail: DetailNoOperation},
		{name: "trailing slash is another path", method: "GET", uri: "/v1/pets/", status: 404},
		{name: "method not allowed", method: "PATCH", uri: "/v1/pets/7", status: 405, detail: DetailMethodNotAllowed},
		{name: "unknown method", method: "PROPFIND", uri: "/v1/pets", status: 405},
		{name: "HEAD falls back to GET", method: "HEAD", uri: "/v1/pets/7"},
		{name: "literal wins over template", method: "GET", uri: "/v1/pets/mine"},
		{name: "template", method: "GET", uri: "/v1/pets/7"},
		{name: "suffix template", method: "GET", uri: "/v1/pets/7/photos/front-1.json"},
		{name: "suffix template value checked", method: "GET", uri: "/v1/pets/7/photos/Front.json", status: 400,
			pointers: []string{"/path/name"}},
		{name: "suffix template needs a value", method: "GET", uri: "/v1/pets/7/photos/.json", status: 404},
		{name: "matrix parameters cut", method: "GET", uri: "/v1/pets;v=1/7"},

		// Path parameters.
		{name: "path integer below minimum", method: "GET", uri: "/v1/pets/0", status: 400, detail: DetailParameter,
			pointers: []string{"/path/petId"}},
		{name: "path not an integer", method: "GET", uri: "/v1/pets/rex", status: 400, pointers: []string{"/path/petId"}, mustNotSay: "rex"},
		{name: "path integer with leading zero", method: "GET", uri: "/v1/pets/07", status: 400, pointers: []string{"/path/petId"}},
		{name: "path integer with exponent", method: "GET", uri: "/v1/pets/1e3", status: 400, pointers: []string{"/path/petId"}},
		{name: "path integer over int64", method: "GET", uri: "/v1/pets/9223372036854775808", status: 400, pointers: []string{"/path/petId"}},
		{name: "path integer at int64 max", method: "GET", uri: "/v1/pets/9223372036854775807"},
		{name: "path percent-encoded", method: "GET", uri: "/v1/pets/%37", status: 0},
		{name: "path value decoded", method: "GET", uri: "/v1/pets/7/photos/a%20b.json", status: 400, pointers: []string{"/path/name"}},
		{name: "two path parameters", method: "POST", uri: "/v1/stores/EU-001/customers/x/orders?priority=1", ct: "application/json", body: validOrder,
			status: 400, pointers: []string{"/path/customerId", "/path/storeId"}},

		// Query parameters.
		{name: "query ok", method: "GET", uri: "/v1/pets?limit=10&status=sold&tag=a&tag=b&born_after=2024-01-31"},
		{name: "query over maximum", method: "GET", uri: "/v1/pets?limit=101", status: 400, pointers: []string{"/query/limit"}},
		{name: "query over int32", method: "GET", uri: "/v1/pets?limit=2147483648", status: 400,
			pointers: []string{"/query/limit"}},
		{name: "query wrong type", method: "GET", uri: "/v1/pets?limit=ten", status: 400, pointers: []string{"/query/limit"}, mustNotSay: "ten"},
		{name: "query empty for integer", method: "GET", uri: "/v1/pets?limit=", status: 400, pointers: []string{"/query/limit"}},
		{name: "query repeated scalar", method: "GET", uri: "/v1/pets?limit=1&limit=2", status: 400, pointers: []string{"/query/limit"}},
		{name: "query enum through $ref", method: "GET", uri: "/v1/pets?status=lost", status: 400, pointers: []string{"/query/status"}},
		{name: "query array too long", method: "GET", uri: "/v1/pets?tag=a&tag=b&tag=c&tag=d", status: 400, pointers: []string{"/query/tag"}},
		{name: "query array item too long", method: "GET", uri: "/v1/pets?tag=a&tag=" + strings.Repeat("x", 21), status: 400, pointers: []string{"/query/tag/1"}},
		{name: "query format date", method: "GET", uri: "/v1/pets?born_after=2024-02-30", status: 400, pointers: []string{"/query/born_after"}},
		{name: "query decoded", method: "GET", uri: "/v1/search?q=hello+world%21"},
		{name: "query not UTF-8", method: "GET", uri: "/v1/search?q=%FF", status: 400, pointers: []string{"/query/q"}},
		{name: "query required missing", method: "GET", uri: "/v1/search", status: 400, pointers: []string{"/query/q"}},
		{name: "query required empty", method: "GET", uri: "/v1/search?q=", status: 400, pointers: []string{"/query/q"}},
		{name: "required string without minLength, empty", method: "GET", uri: "/v1/lookup?key=", status: 400, pointers: []string{"/query/key"}},
		{name: "required string without minLength, no value", method: "GET", uri: "/v1/lookup?key", status: 400, pointers: []string{"/query/key"}},
		{name: "required string without minLength", method: "GET", uri: "/v1/lookup?key=a"},
		{name: "allowEmptyValue", method: "GET", uri: "/v1/search?q=x&filter="},
		{name: "allowEmptyValue still checks values", method: "GET", uri: "/v1/search?q=x&filter=old", status: 400, pointers: []string{"/query/filter"}},
		{name: "exclusiveMinimum boolean form", method: "GET", uri: "/v1/search?q=x&min_price=0", status: 400, pointers: []string{"/query/min_price"}},
		{name: "number query", method: "GET", uri: "/v1/search?q=x&min_price=0.5"},
		{name: "unknown query allowed", method: "GET", uri: "/v1/search?q=x&utm_source=mail"},
		{name: "several violations", method: "GET", uri: "/v1/pets?limit=0&status=lost&born_after=x", status: 400,
			pointers: []string{"/query/born_after", "/query/limit", "/query/status"}},

		// Headers and cookies.
		{name: "header format", method: "GET", uri: "/v1/pets", headers: []string{"X-Request-ID: not-a-uuid"}, status: 400,
			pointers: []string{"/header/X-Request-ID"}, mustNotSay: "not-a-uuid"},
		{name: "header ok", method: "GET", uri: "/v1/pets", headers: []string{"X-Request-ID: 2eb8aa08-aa98-11ea-b4aa-73b441d16380"}},
		{name: "required header and cookie", method: "DELETE", uri: "/v1/pets/7", headers: []string{"X-Confirm: true", "Cookie: session=abcdefgh1"}},
		{name: "required header missing", method: "DELETE", uri: "/v1/pets/7", headers: []string{"Cookie: session=abcdefgh1"}, status: 400,
			pointers: []string{"/header/X-Confirm"}},
		{name: "header boolean enum", method: "DELETE", uri: "/v1/pets/7", headers: []string{"X-Confirm: false", "Cookie: session=abcdefgh1"}, status: 400,
			pointers: []string{"/header/X-Confirm"}},
		{name: "cookie too short", method: "DELETE", uri: "/v1/pets/7", headers: []string{"X-Confirm: true", "Cookie: session=abc"}, status: 400,
			pointers: []string{"/cookie/session"}},
		// The check reads one value; an upstream given two may act on the
		// other (the last, or both joined), so a repeated parameter is
		// refused, in every spelling lenient servers read as its name.
		{name: "header repeated", method: "DELETE", uri: "/v1/pets/7", headers: []string{"X-Confirm: true", "X-Confirm: false", "Cookie: session=abcdefgh1"}, status: 400,
			pointers: []string{"/header/X-Confirm"}},
		{name: "header repeated in another case", method: "DELETE", uri: "/v1/pets/7", headers: []string{"X-Confirm: true", "x-confirm: false", "Cookie: session=abcdefgh1"}, status: 400,
			pointers: []string{"/header/X-Confirm"}},
		{name: "header repeated with an underscore", method: "DELETE", uri: "/v1/pets/7", headers: []string{"X-Confirm: true", "X_Confirm: false", "Cookie: session=abcdefgh1"}, status: 400,
			pointers: []string{"/header/X-Confirm"}},
		{name: "header only with an underscore", method: "DELETE", uri: "/v1/pets/7", headers: []string{"X_Confirm: false", "Cookie: session=abcdefgh1"}, status: 400,
			pointers: []string{"/header/X-Confirm"}},
		{name: "cookie repeated", method: "DELETE", uri: "/v1/pets/7", headers: []string{"X-Confirm: true", "Cookie: session=abcdefgh1; session=abc"}, status: 400,
			pointers: []string{"/cookie/session"}},
		{name: "cookie hidden after a comma", method: "DELETE", uri: "/v1/pets/7", headers: []string{"X-Confirm: true", "Cookie: session=abcdefgh1; a=1, Session=../x"}, status: 400,
			pointers: []string{"/cookie/session"}},
		{name: "cookie repeated after a comma", method: "DELETE", uri: "/v1/pets/7", headers: []string{"X-Confirm: true", "Cookie: session=abcdefgh1, session=abc"}, status: 400,
			pointers: []string{"/cookie/session"}},
		{name: "comma inside another cookie's value", method: "DELETE", uri: "/v1/pets/7", headers: []string{"X-Confirm: true", "Cookie: prefs=a,b; session=abcdefgh1"}},
		{name: "cookie repeated across headers", method: "DELETE", uri: "/v1/pets/7", headers: []string{"X-Confirm: true", "Cookie: session=abcdefgh1", "Cookie: session=abc"}, status: 400,
			pointers: []string{"/cookie/session"}},
		{name: "cookie in another case", method: "DELETE", uri: "/v1/pets/7", headers: []string{"X-Confirm: true", "Cookie: session=abcdefgh1; SESSION=abc"}, status: 400,
			pointers: []string{"/cookie/session"}},
		{name: "cookie only in another case", method: "DELETE", uri: "/v1/pets/7", headers: []string{"X-Confirm: true", "Cookie: Session=abcdefgh1"}, status: 400,
			pointers: []string{"/cookie/session"}},
		{name: "cookie with a subscript (PHP)", method: "DELETE", uri: "/v1/pets/7", headers: []string{"X-Confirm: true", "Cookie: session=abcdefgh1; session[0]=abc"}, status: 400,
			pointers: []string{"/cookie/session"}},
		{name: "cookie percent-encoded", method: "DELETE", uri: "/v1/pets/7", headers: []string{"X-Confirm: true", "Cookie: session=abcdefgh1; %73ession=abc"}, status: 400,
			pointers: []string{"/cookie/session"}},
		{name: "other cookies pass", method: "DELETE", uri: "/v1/pets/7", headers: []string{"X-Confirm: true", "Cookie: session=abcdefgh1; sessions=x; theme=dark"}},

		// Bodies.
		{name: "create pet", method: "POST", uri: "/v1/pets", ct: "application/json", body: newPet},
		{name: "readOnly id not required", method: "POST", uri: "/v1/pets", ct: "application/json", body: `{"name":"Rex","petType":"cat"}`},
		{name: "body required", method: "POST", uri: "/v1/pets", status: 400, detail: DetailBodyMissing, pointers: []string{"/body"}},
		{name: "body missing content type", method: "POST", uri: "/v1/pets", body: newPet, status: 415, detail: DetailContentTypeMissing},
		{name: "body other media type", method: "POST", uri: "/v1/pets", ct: "text/plain", body: newPet, status: 415, detail: DetailMediaType},
		{name: "body malformed", method: "POST", uri: "/v1/pets", ct: "application/json", body: `{"name":`, status: 400, detail: "json_malformed"},
		{name: "body duplicate key", method: "POST", uri: "/v1/pets", ct: "application/json", body: `{"name":"a","petType":"cat","name":"b"}`,
			status: 400, detail: "json_duplicate_key"},
		{name: "body too deep", method: "POST", uri: "/v1/pets", ct: "application/json", body: strings.Repeat("[", 100) + strings.Repeat("]", 100),
			status: 400, detail: "json_too_deep"},
		{name: "nullable", method: "POST", uri: "/v1/pets", ct: "application/json", body: `{"name":"Rex","petType":"cat","tag":null}`},
		{name: "not nullable", method: "POST", uri: "/v1/pets", ct: "application/json", body: `{"name":null,"petType":"cat"}`,
			status: 400, detail: "schema_violation", pointers: []string{"/body/name"}},
		{name: "property named example is checked", method: "POST", uri: "/v1/pets", ct: "application/json",
			body: `{"name":"Rex","petType":"cat","example":"far too long"}`, status: 400, pointers: []string{"/body/example"}},
		{name: "exclusive minimum", method: "POST", uri: "/v1/pets", ct: "application/json", body: `{"name":"Rex","petType":"cat","weight":0}`,
			status: 400, pointers: []string{"/body/weight"}},
		{name: "byte format", method: "POST", uri: "/v1/pets", ct: "application/json", body: `{"name":"Rex","petType":"cat","microchip":"AAE"}`,
			status: 400, pointers: []string{"/body/microchip"}},
		{name: "enum through $ref", method: "POST", uri: "/v1/pets", ct: "application/json", body: `{"name":"Rex","petType":"cat","status":"gone"}`,
			status: 400, pointers: []string{"/body/status"}},
		{name: "required body by $ref, allOf", method: "PUT", uri: "/v1/pets/7", ct: "application/json",
			body: `{"name":"Rex","petType":"dog","owner":"ada@example.com"}`},
		{name: "allOf member checked", method: "PUT", uri: "/v1/pets/7", ct: "application/json",
			body: `{"name":"Rex","petType":"dog","owner":"nobody"}`, status: 400, pointers: []string{"/body/owner"}},
		{name: "body on an operation without one", method: "GET", uri: "/v1/pets/7", ct: "application/json", body: `{}`,
			status: 400, detail: DetailBodyNotAllowed, pointers: []string{"/body"}},
		{name: "non-JSON media type: type only", method: "POST", uri: "/v1/pets/7/photos", ct: "image/png", body: "\x89PNG\r\n"},
		{name: "non-JSON media type refused", method: "POST", uri: "/v1/pets/7/photos", ct: "image/gif", body: "GIF89a", status: 415},
		{name: "order", method: "POST", uri: orderURI, ct: "application/json", body: validOrder},
		{name: "order as +json", method: "POST", uri: orderURI, ct: "application/vnd.shop.order+json", body: validOrder},
		{name: "order with charset", method: "POST", uri: orderURI, ct: "Application/JSON; charset=UTF-8", body: validOrder},
		{name: "order item qty", method: "POST", uri: orderURI, ct: "application/json",
			body: strings.Replace(validOrder, `"qty":2`, `"qty":0`, 1), status: 400, pointers: []string{"/body/items/0/qty"}},
		{name: "order unit price multipleOf", method: "POST", uri: orderURI, ct: "application/json",
			body: strings.Replace(validOrder, `19.99`, `19.999`, 1), status: 400, pointers: []string{"/body/items/0/unit_price"}},
		{name: "order nested $ref", method: "POST", uri: orderURI, ct: "application/json",
			body: strings.Replace(validOrder, `"country":"US"}`, `"country":"usa"}`, 1), status: 400, pointers: []string{"/body/shipping/country"}},
		{name: "order allOf-wrapped $ref", method: "POST", uri: orderURI, ct: "application/json",
			body: strings.Replace(validOrder, `"billing":{"line1":"1 Main St",`, `"billing":{`, 1), status: 400, pointers: []string{"/body/billing"}},
		{name: "order readOnly id accepted", method: "POST", uri: orderURI, ct: "application/json",
			body: `{"id":"2eb8aa08-aa98-11ea-b4aa-73b441d16380",` + validOrder[1:]},
		{name: "order query required", method: "POST", uri: "/v1/stores/eu-001/customers/42/orders", ct: "application/json", body: validOrder,
			status: 400, pointers: []string{"/query/priority"}},
		{name: "order query boolean", method: "POST", uri: "/v1/stores/eu-001/customers/42/orders?priority=1&dry_run=yes", ct: "application/json",
			body: validOrder, status: 400, pointers: []string{"/query/dry_run"}},
		{name: "discriminator selects", method: "POST", uri: "/v1/adoptions", ct: "application/json", body: `{"petType":"cat","name":"Tom","indoor":true}`},
		{name: "discriminator implicit mapping", method: "POST", uri: "/v1/adoptions", ct: "application/json", body: `{"petType":"Dog","name":"Rex","breed":"lab"}`},
		{name: "discriminator checks the selected schema", method: "POST", uri: "/v1/adoptions", ct: "application/json",
			body: `{"petType":"cat","name":"Tom","indoor":"yes"}`, status: 400, pointers: []string{"/body/indoor"}},
		{name: "discriminator unknown value", method: "POST", uri: "/v1/adoptions", ct: "application/json",
			body: `{"petType":"bird","name":"Tweety"}`, status: 400, pointers: []string{"/body/petType"}},
		{name: "discriminator missing", method: "POST", uri: "/v1/adoptions", ct: "application/json", body: `{"name":"Tweety"}`,
			status: 400, pointers: []string{"/body"}},
		{name: "optional body absent", method: "POST", uri: "/v1/adoptions"},
	})
}

func TestOrders31(t *testing.T) {
	c := load(t, "testdata/orders-3.1.json", Options{Route: "orders"})
	if c.BasePath() != "/api/v2" {
		t.Fatalf("base path %q, want /api/v2", c.BasePath())
	}
	const id = "2eb8aa08-aa98-11ea-b4aa-73b441d16380"
	const order = `{"lines":[{"sku":"ABC-1234","qty":1,"price":{"amount":"12.50","currency":"EUR"},"gift_wrap":null}],` +
		`"contact":{"email":"ada@example.com","phone":"+4412345678"},"delivery":{"kind":"pickup","store":7},"coordinates":[51.5,-0.12],"x-note":"hi"}`
	runCases(t, c, []reqCase{
		{name: "list", method: "GET", uri: "/api/v2/orders?limit=5&cursor=abc_1&sort=-created&status=open&status=paid&since=2026-01-02T03:04:05Z"},
		{name: "enum without type", method: "GET", uri: "/api/v2/orders?sort=price", status: 400, pointers: []string{"/query/sort"}},
		{name: "array items by $ref", method: "GET", uri: "/api/v2/orders?status=open&status=lost", status: 400, pointers: []string{"/query/status/1"}},
		{name: "array uniqueItems", method: "GET", uri: "/api/v2/orders?status=open&status=open", status: 400, pointers: []string{"/query/status"}},
		{name: "pattern", method: "GET", uri: "/api/v2/orders?cursor=a%20b", status: 400, pointers: []string{"/query/cursor"}},
		{name: "limit number not integer", method: "GET", uri: "/api/v2/orders?limit=1.5", status: 400, pointers: []string{"/query/limit"}},
		{name: "uuid path", method: "GET", uri: "/api/v2/orders/" + id},
		{name: "uuid path bad", method: "GET", uri: "/api/v2/orders/123", status: 400, pointers: []string{"/path/orderId"}},
		{name: "two path params", method: "PUT", uri: "/api/v2/orders/" + id + "/lines/500", ct: "application/json", body: `{"sku":"ABC-1234","qty":1}`,
			status: 400, pointers: []string{"/path/line"}},
		{name: "line", method: "PUT", uri: "/api/v2/orders/" + id + "/lines/0", ct: "application/json", body: `{"sku":"ABC-1234","qty":1}`},
		{name: "file suffix", method: "GET", uri: "/api/v2/files/report.json"},
		{name: "file suffix too long", method: "GET", uri: "/api/v2/files/" + strings.Repeat("a", 33) + ".json", status: 400, pointers: []string{"/path/name"}},
		{name: "file without suffix", method: "GET", uri: "/api/v2/files/report", status: 404},
		{name: "create", method: "POST", uri: "/api/v2/orders", ct: "application/json", body: order},
		{name: "type array with null", method: "POST", uri: "/api/v2/orders", ct: "application/json",
			body: strings.Replace(order, `"gift_wrap":null`, `"gift_wrap":"no"`, 1), status: 400, pointers: []string{"/body/lines/0/gift_wrap"}},
		{name: "oneOf", method: "POST", uri: "/api/v2/orders", ct: "application/json",
			body: strings.Replace(order, `"store":7`, `"store":"seven"`, 1), status: 400, pointers: []string{"/body/delivery"}},
		{name: "prefixItems", method: "POST", uri: "/api/v2/orders", ct: "application/json",
			body: strings.Replace(order, `[51.5,-0.12]`, `[91,0]`, 1), status: 400, pointers: []string{"/body/coordinates/0"}},
		{name: "property named x-note is checked", method: "POST", uri: "/api/v2/orders", ct: "application/json",
			body: strings.Replace(order, `"x-note":"hi"`, `"x-note":5`, 1), status: 400, pointers: []string{"/body/x-note"}},
		{name: "money additionalProperties", method: "POST", uri: "/api/v2/orders", ct: "application/json",
			body: strings.Replace(order, `"currency":"EUR"`, `"currency":"EUR","rate":1`, 1), status: 400, pointers: []string{"/body/lines/0/price"},
			mustNotSay: "rate"},
		{name: "form body: media type only", method: "POST", uri: "/api/v2/orders", ct: "application/x-www-form-urlencoded", body: "a=1"},
		{name: "merge patch", method: "PATCH", uri: "/api/v2/orders/" + id, ct: "application/merge-patch+json", body: `{"note":null}`},
		{name: "merge patch as plain JSON", method: "PATCH", uri: "/api/v2/orders/" + id, ct: "application/json", body: `{"note":null}`, status: 415},
		{name: "merge patch empty", method: "PATCH", uri: "/api/v2/orders/" + id, ct: "application/merge-patch+json", body: `{}`,
			status: 400, pointers: []string{"/body"}},
		{name: "delete", method: "DELETE", uri: "/api/v2/orders/" + id},
		{name: "webhooks are not paths", method: "POST", uri: "/api/v2/orderShipped", status: 404},
		{name: "health", method: "GET", uri: "/api/v2/health"},
	})
}

func TestBasePathOption(t *testing.T) {
	for _, tc := range []struct {
		base, uri string
		ok        bool
	}{
		{"/gw/orders-api/", "/gw/orders-api/orders", true},
		{"/gw/orders-api", "/gw/orders-api/orders", true},
		{"/gw/orders-api", "/api/v2/orders", false},
		{"/", "/orders", true},
		{"/", "/api/v2/orders", false},
	} {
		c := load(t, "testdata/orders-3.1.json", Options{BasePath: tc.base})
		ctx, r := request(t, "GET", tc.uri, "", "")
		if got := c.Check(ctx, r) == pipeline.Continue; got != tc.ok {
			t.Errorf("base %q, %s: passed %v, want %v (%s)", tc.base, tc.uri, got, tc.ok, ctx.Response.Body())
		}
	}
}

func TestRejectUnknownQuery(t *testing.T) {
	c := load(t, "testdata/orders-3.1.json", Options{RejectUnknownQuery: true})
	runCases(t, c, []reqCase{
		{name: "declared", method: "GET", uri: "/api/v2/orders?limit=1"},
		{name: "undeclared, not named", method: "GET", uri: "/api/v2/orders?limit=1&secret_probe=1", status: 400,
			pointers: []string{"/query"}, mustNotSay: "secret_probe"},
		{name: "operation without query parameters", method: "GET", uri: "/api/v2/health?x=1", status: 400, pointers: []string{"/query"}},
	})
}

func TestMethodNotAllowedSaysAllow(t *testing.T) {
	c := load(t, "testdata/petstore-3.0.yaml", Options{})
	ctx, r := request(t, "PATCH", "/v1/pets/7", "", "")
	c.Check(ctx, r)
	if got := string(ctx.Response.Header.Peek("Allow")); got != "GET, HEAD, PUT, DELETE" {
		t.Errorf("Allow %q", got)
	}
}

func TestBodyLeftForLaterStages(t *testing.T) {
	c := load(t, "testdata/petstore-3.0.yaml", Options{})
	ctx, r := request(t, "POST", "/v1/pets", "application/json", newPet)
	if c.Check(ctx, r) != pipeline.Continue || r.JSON == nil || string(r.JSON.GetStringBytes("name")) != "Rex" {
		t.Fatalf("parsed body not left in r.JSON: %v", r.JSON)
	}
}

func TestViolationsBounded(t *testing.T) {
	c := load(t, "testdata/orders-3.1.json", Options{})
	var lines []string
	for range 50 {
		lines = append(lines, `{"sku":"bad","qty":0}`)
	}
	ctx, r := request(t, "POST", "/api/v2/orders", "application/json", `{"lines":[`+strings.Join(lines, ",")+`],"contact":{"email":"a@b.example"}}`)
	c.Check(ctx, r)
	var a answer
	if err := json.Unmarshal(ctx.Response.Body(), &a); err != nil || len(a.Violations) != maxViolations {
		t.Fatalf("%d violations (%v), want %d", len(a.Violations), err, maxViolations)
	}
}

// TestConcurrentChecks: one Check serves many goroutines (its pooled
// scratch space is per request); run with -race.
func TestConcurrentChecks(t *testing.T) {
	c := load(t, "testdata/petstore-3.0.yaml", Options{})
	reqs := []struct {
		method, uri, ct, body string
		ok                    bool
	}{
		{"POST", orderURI, "application/json", benchOrder, true},
		{"GET", "/v1/pets?limit=10&tag=a&tag=b", "", "", true},
		{"GET", "/v1/pets?limit=1000", "", "", false},
		{"POST", "/v1/pets", "application/json", `{"name":1}`, false},
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				q := reqs[(g+i)%len(reqs)]
				ctx, r := request(t, q.method, q.uri, q.ct, q.body)
				if got := c.Check(ctx, r) == pipeline.Continue; got != q.ok {
					t.Errorf("%s %s: passed %v, want %v: %s", q.method, q.uri, got, q.ok, ctx.Response.Body())
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestQueryNameVariants: query names are case-sensitive in OpenAPI, but
// upstream frameworks fold case (ASP.NET, Java's equalsIgnoreCase), read
// "id[]" and "id[0]" as id (PHP, Rails, qs), "i.d" as i_d (PHP), decode
// names again, or stop at a NUL. A name that folds to a declared one is
// refused under the declared name, so a value cannot reach the upstream
// as the declared parameter without its check; a declared name sent under
// its own spelling or percent-encoded once (fasthttp and upstreams decode
// it alike) is checked as itself, and twice is a repetition.
func TestQueryNameVariants(t *testing.T) {
	orders := load(t, "testdata/orders-3.1.json", Options{})
	runCases(t, orders, []reqCase{
		{name: "declared, valid", method: "GET", uri: "/api/v2/orders?limit=5"},
		{name: "upper case alone", method: "GET", uri: "/api/v2/orders?LIMIT=1000", status: 400,
			detail: DetailParameter, pointers: []string{"/query/limit"}, mustNotSay: "LIMIT"},
		{name: "mixed case beside the declared", method: "GET", uri: "/api/v2/orders?limit=5&Limit=1000", status: 400,
			pointers: []string{"/query/limit"}},
		{name: "duplicate", method: "GET", uri: "/api/v2/orders?limit=5&limit=1000", status: 400, pointers: []string{"/query/limit"}},
		{name: "duplicate, both valid", method: "GET", uri: "/api/v2/orders?limit=5&limit=6", status: 400, pointers: []string{"/query/limit"}},
		{name: "empty duplicate", method: "GET", uri: "/api/v2/orders?limit=5&limit", status: 400, pointers: []string{"/query/limit"}},
		{name: "percent-encoded once is the name, valid", method: "GET", uri: "/api/v2/orders?%6Cimit=5"},
		{name: "percent-encoded once is the name, checked", method: "GET", uri: "/api/v2/orders?%6cimit=1000", status: 400,
			pointers: []string{"/query/limit"}},
		{name: "percent-encoded once beside the declared", method: "GET", uri: "/api/v2/orders?limit=5&%6Cimit=1000", status: 400,
			pointers: []string{"/query/limit"}},
		{name: "percent-encoded twice", method: "GET", uri: "/api/v2/orders?limit=5&%256Cimit=1000", status: 400,
			pointers: []string{"/query/limit"}},
		{name: "percent-encoded three times", method: "GET", uri: "/api/v2/orders?%25256Cimit=1000", status: 400,
			pointers: []string{"/query/limit"}},
		{name: "empty brackets", method: "GET", uri: "/api/v2/orders?limit=5&limit[]=1000", status: 400, pointers: []string{"/query/limit"}},
		{name: "encoded brackets", method: "GET", uri: "/api/v2/orders?limit%5B%5D=1000", status: 400, pointers: []string{"/query/limit"}},
		{name: "index subscript", method: "GET", uri: "/api/v2/orders?limit[0]=1000", status: 400, pointers: []string{"/query/limit"}},
		{name: "key subscript", method: "GET", uri: "/api/v2/orders?LIMIT[x]=1000", status: 400, pointers: []string{"/query/limit"}},
		{name: "array parameter with brackets", method: "GET", uri: "/api/v2/orders?status[]=lost", status: 400, pointers: []string{"/query/status"}},
		{name: "array parameter, exploded", method: "GET", uri: "/api/v2/orders?status=open&status=paid"},
		{name: "NUL after the name", method: "GET", uri: "/api/v2/orders?limit%00x=1000", status: 400, pointers: []string{"/query/limit"}},
		{name: "spaces around the name", method: "GET", uri: "/api/v2/orders?+limit+=1000", status: 400, pointers: []string{"/query/limit"}},
		{name: "dotless i (Java folds it to I)", method: "GET", uri: "/api/v2/orders?l%C4%B1m%C4%B1t=1000", status: 400,
			pointers: []string{"/query/limit"}},
		{name: "long s (Java folds it to S)", method: "GET", uri: "/api/v2/orders?%C5%BFort=price", status: 400, pointers: []string{"/query/sort"}},
		{name: "two variants, one violation each", method: "GET", uri: "/api/v2/orders?Sort=x&CURSOR=a%20b", status: 400,
			pointers: []string{"/query/cursor", "/query/sort"}},
		// Not variants: other names, and undeclared subscripts.
		{name: "longer name", method: "GET", uri: "/api/v2/orders?limits=1000&limit_=1&xlimit=1"},
		{name: "undeclared names pass", method: "GET", uri: "/api/v2/orders?utm_source=mail&UTM_SOURCE=x"},
		{name: "a subscript of another name", method: "GET", uri: "/api/v2/orders?filter[limit]=1000"},
		// Rack 2, old Python and old Go split the query at ';' too.
		{name: "limit hidden after a semicolon", method: "GET", uri: "/api/v2/orders?limit=5&foo=x;limit=1000", status: 400, pointers: []string{"/query/limit"}},
		{name: "declared name after a semicolon, value fine", method: "GET", uri: "/api/v2/orders?x=1;limit=10", status: 400, pointers: []string{"/query/limit"}},
		{name: "a variant after a semicolon", method: "GET", uri: "/api/v2/orders?x=1;LIMIT=1000", status: 400, pointers: []string{"/query/limit"}},
		{name: "semicolon inside a value", method: "GET", uri: "/api/v2/orders?limit=5&x=a;b"},
		{name: "semicolon before a value piece without '='", method: "GET", uri: "/api/v2/orders?limit=5&fields=id;name;total"},
		{name: "undeclared name after a semicolon", method: "GET", uri: "/api/v2/orders?limit=5&x=a;utm_source=mail"},
		{name: "malformed escape in a value", method: "GET", uri: "/api/v2/orders?limit=5&foo=%zz", status: 400, pointers: []string{"/query"}},
		{name: "escape cut at the end", method: "GET", uri: "/api/v2/orders?foo=ab%2", status: 400, pointers: []string{"/query"}},
		{name: "well-formed escapes", method: "GET", uri: "/api/v2/orders?foo=a%20b%2Fc%25"},
		{name: "stray brackets Rack drops", method: "GET", uri: "/api/v2/orders?limit=5&limit]=1000", status: 400, pointers: []string{"/query/limit"}},
		{name: "brackets around the name", method: "GET", uri: "/api/v2/orders?limit=5&[limit]=1000", status: 400, pointers: []string{"/query/limit"}},
		{name: "bracket before the name", method: "GET", uri: "/api/v2/orders?limit=5&]limit=1000", status: 400, pointers: []string{"/query/limit"}},
	})
	pets := load(t, "testdata/petstore-3.0.yaml", Options{Route: "pets"})
	runCases(t, pets, []reqCase{
		{name: "required, only a case variant", method: "GET", uri: "/v1/search?Q=x", status: 400, pointers: []string{"/query/q", "/query/q"}},
		{name: "PHP reads a dot as an underscore", method: "POST", uri: "/v1/stores/eu-001/customers/42/orders?priority=3&dry.run=yes",
			ct: "application/json", body: validOrder, status: 400, pointers: []string{"/query/dry_run"}},
		{name: "PHP reads a space as an underscore", method: "POST", uri: "/v1/stores/eu-001/customers/42/orders?priority=3&dry%20run=yes",
			ct: "application/json", body: validOrder, status: 400, pointers: []string{"/query/dry_run"}},
	})
}

func TestFoldQueryName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"id", "id"}, {"ID", "id"}, {"%69d", "id"}, {"%2569D", "id"}, {"id[]", "id[]"}, {" Id\x00junk", "id"},
		{"user.Name", "user_name"}, {"a[b", "a_b"}, {"a[b]", "a[b]"}, {"a]b[c", "a]b_c"}, {"\u0131d", "id"}, {"\u212aey", "key"}, {"%", "%"}, {"%zz", "%zz"}, {"caf\xc3\xa9", "caf\xc3\xa9"},
	} {
		if got := string(foldQueryName([]byte("prefix"), []byte(tc.in))); got != "prefix"+tc.want {
			t.Errorf("foldQueryName(%q) = %q; want %q", tc.in, got, "prefix"+tc.want)
		}
	}
	for _, tc := range []struct {
		name, declared string
		want           bool
	}{
		{"id", "id", true}, {"id[]", "id", true}, {"id[0]", "id", true}, {"id", "id[]", true}, {"id[][]", "id[]", true},
		{"idx", "id", false}, {"filter[other]", "filter[status]", false}, {"filter[status][]", "filter[status]", true},
		{"filter", "filter[status]", false}, {"a[b", "a_b", true}, {"a.b", "a_b", true},
		// Rack 2 drops brackets around a name: all of these are limit to it.
		{"limit]", "limit", true}, {"[limit]", "limit", true}, {"]limit", "limit", true}, {"[[limit]]", "limit", true},
		{"[limit][]", "limit", true}, {"[limit]x", "limit", false}, {"[]", "limit", false},
	} {
		key := string(queryKey(foldQueryName(nil, []byte(tc.declared))))
		if got := isVariant(foldQueryName(nil, []byte(tc.name)), key); got != tc.want {
			t.Errorf("isVariant(%q of %q) = %v; want %v", tc.name, tc.declared, got, tc.want)
		}
	}
}

// TestBodyCharset: JSON bodies are read as UTF-8 only (validate.JSONCheck
// does the same): another declared charset is a 415, a BOM a 400.
func TestBodyCharset(t *testing.T) {
	orders := load(t, "testdata/orders-3.1.json", Options{})
	uri := "/api/v2/orders/2eb8aa08-aa98-11ea-b4aa-73b441d16380/lines/3"
	body := `{"sku":"ABC-1234","qty":1,"price":{"amount":"1.50","currency":"EUR"}}`
	runCases(t, orders, []reqCase{
		{name: "utf-8", method: "PUT", uri: uri, ct: "application/json; charset=utf-8", body: body},
		{name: "utf-7", method: "PUT", uri: uri, ct: "application/json; charset=utf-7", body: body, status: 415, detail: validate.DetailCharset},
		{name: "utf-16", method: "PUT", uri: uri, ct: `application/json; charset="UTF-16"`, body: body, status: 415, detail: validate.DetailCharset},
		{name: "utf-8 bom", method: "PUT", uri: uri, ct: "application/json", body: "\xef\xbb\xbf" + body, status: 400, detail: "json_malformed"},
	})
}

// TestQueryNumbersExact: a number in the query is checked as the exact
// decimal it is written as (package schema), never through float64, where
// 1e-400 is 0 (TestPetstore30's "path integer over int64" is the same for
// 2^63, which float64 reads as int64's maximum).
func TestQueryNumbersExact(t *testing.T) {
	pets := load(t, "testdata/petstore-3.0.yaml", Options{Route: "pets"})
	orders := load(t, "testdata/orders-3.1.json", Options{})
	runCases(t, pets, []reqCase{
		{name: "exclusiveMinimum 0, tiny positive", method: "GET", uri: "/v1/search?q=x&min_price=1e-400"},
		{name: "exclusiveMinimum 0, tiny negative", method: "GET", uri: "/v1/search?q=x&min_price=-1e-400", status: 400, pointers: []string{"/query/min_price"}},
		{name: "exclusiveMinimum 0, zero written long", method: "GET", uri: "/v1/search?q=x&min_price=0.000000000000000000000", status: 400,
			pointers: []string{"/query/min_price"}},
	})
	runCases(t, orders, []reqCase{
		{name: "maximum 100", method: "GET", uri: "/api/v2/orders?limit=100"},
		{name: "maximum 100, one above", method: "GET", uri: "/api/v2/orders?limit=101", status: 400, pointers: []string{"/query/limit"}},
	})
}

// TestRangeSchemaOnJSON: a schema under a media range (application/*,
// */*) applies to a JSON body sent under it (an object missing a required
// property reached the upstream); a non-JSON body under the range is
// checked by its type only.
func TestRangeSchemaOnJSON(t *testing.T) {
	doc := []byte(`{"openapi":"3.1.0","paths":{
		"/wild":{"post":{"requestBody":{"content":{"application/*":{"schema":{"type":"object","required":["a"]}}}}}},
		"/any":{"post":{"requestBody":{"content":{"*/*":{"schema":{"type":"object","required":["a"]}}}}}}}}`)
	c, err := New(doc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	runCases(t, c, []reqCase{
		{name: "JSON under application/*", method: "POST", uri: "/wild", ct: "application/json", body: `{"a":1}`},
		{name: "JSON under application/* missing a", method: "POST", uri: "/wild", ct: "application/json", body: `{"b":1}`,
			status: 400, pointers: []string{"/body"}},
		{name: "+json under */* missing a", method: "POST", uri: "/any", ct: "application/problem+JSON", body: `{"b":1}`,
			status: 400, pointers: []string{"/body"}},
		{name: "malformed JSON under */*", method: "POST", uri: "/any", ct: "application/json", body: `{"b":`, status: 400},
		{name: "XML under application/*: type only", method: "POST", uri: "/wild", ct: "application/xml", body: `<b/>`},
		{name: "text under */*: type only", method: "POST", uri: "/any", ct: "text/plain", body: `b`},
	})
}

// TestCheckHead: what the head decides (operation, parameters, media type,
// charset) is refused by CheckHead, before a client that waits for a 100
// Continue sends the body; the body itself is left to Check.
func TestCheckHead(t *testing.T) {
	orders := load(t, "testdata/orders-3.1.json", Options{})
	uri := "/api/v2/orders/2eb8aa08-aa98-11ea-b4aa-73b441d16380/lines/3"
	for _, tc := range []struct {
		name, method, uri, ct string
		length                string // declared, no body sent
		status                int    // 0: passes the head
	}{
		{"a declared JSON body", "PUT", uri, "application/json", "70", 0},
		{"an undeclared media type", "PUT", uri, "application/xml", "70", 415},
		{"another charset", "PUT", uri, "application/json; charset=utf-16", "70", 415},
		{"an undeclared operation", "PUT", "/api/v2/nowhere", "application/json", "70", 404},
		{"a bad path parameter", "PUT", "/api/v2/orders/not-a-uuid/lines/3", "application/json", "70", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.method + " " + tc.uri + " HTTP/1.1\r\nHost: api.test\r\nContent-Type: " + tc.ct + "\r\nContent-Length: " + tc.length + "\r\n\r\n"
			ctx := &fasthttp.RequestCtx{}
			if err := ctx.Request.Header.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
				t.Fatal(err)
			}
			r := &pipeline.Request{}
			r.Path, _ = pathnorm.NormalizeMode(nil, ctx.Request.URI().PathOriginal(), pathnorm.AllowParams)
			v := orders.CheckHead(ctx, r)
			if tc.status == 0 {
				if v != pipeline.Continue {
					t.Fatalf("refused the head: %d %s", ctx.Response.StatusCode(), r.Detail)
				}
				if r.JSON != nil {
					t.Error("the head check read a body")
				}
				return
			}
			if v != pipeline.Done || ctx.Response.StatusCode() != tc.status {
				t.Fatalf("got %v %d (%s), want %d", v, ctx.Response.StatusCode(), r.Detail, tc.status)
			}
		})
	}
}

// TestFormAndTextBodies: a form body with a schema is read into the object
// its properties' types make of it and checked; a text body, as a string.
// Neither loads with a keyword the gateway does not enforce.
func TestFormAndTextBodies(t *testing.T) {
	doc := []byte(`{"openapi":"3.1.0","components":{"schemas":{"Base":{"properties":{"note":{"type":"string","maxLength":5}}}}},
	"paths":{
		"/pay":{"post":{"requestBody":{"required":true,"content":{
			"application/x-www-form-urlencoded":{"schema":{"type":"object","required":["amount"],
				"allOf":[{"$ref":"#/components/schemas/Base"}],
				"properties":{"amount":{"type":"integer","maximum":100},"tags":{"type":"array","items":{"type":"string"},"maxItems":2},
					"gift":{"type":"boolean"}},
				"additionalProperties":{"type":"string","maxLength":8}}},
			"text/plain":{"schema":{"type":"string","maxLength":3}}}}}},
		"/card":{"post":{"requestBody":{"content":{"application/x-www-form-urlencoded":{"schema":{
			"oneOf":[{"properties":{"card":{"type":"integer"}},"required":["card"]},{"properties":{"iban":{"type":"string"}},"required":["iban"]}],
			"additionalProperties":{"type":"integer","maximum":999}}}}}}},
		"/any":{"post":{"requestBody":{"content":{"*/*":{"schema":{"type":"object","properties":{"amount":{"type":"integer","maximum":100}}}}}}}},
		"/ids":{"get":{"parameters":[{"name":"ids","in":"query","required":true,"schema":{"type":"array","items":{"type":"integer"}}}]}}}}`)
	c, err := New(doc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const form = "application/x-www-form-urlencoded"
	runCases(t, c, []reqCase{
		{name: "form ok", method: "POST", uri: "/pay", ct: form, body: "amount=99&tags=a&tags=b&gift=true&note=hi&x=1"},
		{name: "form charset utf-8", method: "POST", uri: "/pay", ct: form + "; charset=UTF-8", body: "amount=1"},
		{name: "form over maximum", method: "POST", uri: "/pay", ct: form, body: "amount=999999&x=1", status: 400, pointers: []string{"/body/amount"}, mustNotSay: "999999"},
		{name: "form not an integer", method: "POST", uri: "/pay", ct: form, body: "amount=ten", status: 400, pointers: []string{"/body/amount"}, mustNotSay: "ten"},
		{name: "form required missing", method: "POST", uri: "/pay", ct: form, body: "foo=bar", status: 400, pointers: []string{"/body"}},
		{name: "form array too long", method: "POST", uri: "/pay", ct: form, body: "amount=1&tags=a&tags=b&tags=c", status: 400, pointers: []string{"/body/tags"}},
		{name: "form scalar repeated", method: "POST", uri: "/pay", ct: form, body: "amount=1&amount=500", status: 400, pointers: []string{"/body/amount"}},
		{name: "form name variant", method: "POST", uri: "/pay", ct: form, body: "amount=1&Amount=500", status: 400, pointers: []string{"/body/amount"}},
		{name: "form name with stray brackets", method: "POST", uri: "/pay", ct: form, body: "amount=1&%5Bamount%5D=500", status: 400, pointers: []string{"/body/amount"}},
		{name: "form property through allOf and $ref", method: "POST", uri: "/pay", ct: form, body: "amount=1&note=toolong", status: 400, pointers: []string{"/body/note"}},
		{name: "form additional property", method: "POST", uri: "/pay", ct: form, body: "amount=1&secretkey=abcdefghij", status: 400, mustNotSay: "secretkey"},
		{name: "form malformed escape", method: "POST", uri: "/pay", ct: form, body: "amount=1&note=%zzab", status: 400, pointers: []string{"/body"}},
		{name: "form not UTF-8", method: "POST", uri: "/pay", ct: form, body: "amount=1&note=%FF", status: 400, pointers: []string{"/body"}},
		{name: "form other charset", method: "POST", uri: "/pay", ct: form + "; charset=latin1", body: "amount=1", status: 415},
		{name: "form field declared in a oneOf branch", method: "POST", uri: "/card", ct: form, body: "card=123"},
		{name: "form undeclared field typed by additionalProperties", method: "POST", uri: "/card", ct: form, body: "card=1&x=5"},
		{name: "form undeclared field over additionalProperties' maximum", method: "POST", uri: "/card", ct: form, body: "card=1&x=5000", status: 400},
		{name: "form under */*", method: "POST", uri: "/any", ct: form, body: "amount=99"},
		{name: "form under */* over maximum", method: "POST", uri: "/any", ct: form, body: "amount=99999", status: 400, pointers: []string{"/body/amount"}},
		{name: "form with too many fields", method: "POST", uri: "/pay", ct: form, body: "amount=1" + strings.Repeat("&b", 1100), status: 400, pointers: []string{"/body"}},
		{name: "required array query param without a value", method: "GET", uri: "/ids?ids=", status: 400, pointers: []string{"/query/ids"}},
		{name: "required array query param", method: "GET", uri: "/ids?ids=1&ids=2"},
		{name: "text ok", method: "POST", uri: "/pay", ct: "text/plain", body: "abc"},
		{name: "text too long", method: "POST", uri: "/pay", ct: "text/plain; charset=utf-8", body: "much too long", status: 400, pointers: []string{"/body"}, mustNotSay: "much"},
		{name: "text not UTF-8", method: "POST", uri: "/pay", ct: "text/plain", body: "a\xffb", status: 400, pointers: []string{"/body"}},
	})
	for _, bad := range []struct{ doc, want string }{
		{`{"openapi":"3.1.0","paths":{"/p":{"post":{"requestBody":{"content":{"application/x-www-form-urlencoded":{"schema":{"type":"object","frobnicate":1}}}}}}}}`,
			"frobnicate: keyword not supported"},
		{`{"openapi":"3.1.0","paths":{"/p":{"post":{"requestBody":{"content":{"text/plain":{"schema":{"type":"string","bogusKeyword":true}}}}}}}}`,
			"bogusKeyword: keyword not supported"},
		{`{"openapi":"3.1.0","paths":{"/p":{"post":{"requestBody":{"content":{"text/plain":{"schema":{"type":"integer"}}}}}}}}`,
			"a text body's schema must allow a string"},
		{`{"openapi":"3.1.0","paths":{"/p":{"post":{"requestBody":{"content":{"application/x-www-form-urlencoded":{"schema":{"properties":{"a":{"type":"object"}}}}}}}}}}`,
			"objects and nested arrays have no form encoding"},
	} {
		if _, err := New([]byte(bad.doc), Options{}); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: got %v, want an error containing %q", bad.doc, err, bad.want)
		}
	}
}
