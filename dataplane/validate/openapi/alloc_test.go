//go:build !race

package openapi

import (
	"testing"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// TestCheckAllocs: a valid request costs no allocation once the pooled
// scratch space and the request's JSON reader have grown, and neither do
// the refusals that need no violation list (404, 405).
func TestCheckAllocs(t *testing.T) {
	pets := load(t, "testdata/petstore-3.0.yaml", Options{Route: "pets"})
	orders := load(t, "testdata/orders-3.1.json", Options{Route: "orders", RejectUnknownQuery: true})
	cases := []struct {
		name                  string
		c                     *Check
		method, uri, ct, body string
		headers               []string
		want                  pipeline.Verdict
	}{
		{name: "GET with query, array and header", c: pets, method: "GET",
			uri: "/v1/pets?limit=10&status=sold&tag=a&tag=b&born_after=2024-01-31", headers: []string{"X-Request-ID: 2eb8aa08-aa98-11ea-b4aa-73b441d16380"}},
		{name: "POST 1 KB order, 2 path and 3 query parameters", c: pets, method: "POST", uri: orderURI, ct: "application/json", body: benchOrder},
		{name: "DELETE with header and cookie", c: pets, method: "DELETE", uri: "/v1/pets/7", headers: []string{"X-Confirm: true", "Cookie: session=abcdefgh1"}},
		{name: "suffix template", c: pets, method: "GET", uri: "/v1/pets/7/photos/front-1.json"},
		{name: "discriminator", c: pets, method: "POST", uri: "/v1/adoptions", ct: "application/json", body: `{"petType":"cat","name":"Tom","indoor":true}`},
		{name: "3.1 list with enum array", c: orders, method: "GET", uri: "/api/v2/orders?limit=5&cursor=abc_1&sort=-created&status=open&status=paid"},
		{name: "3.1 PUT with uuid and integer path", c: orders, method: "PUT", uri: "/api/v2/orders/2eb8aa08-aa98-11ea-b4aa-73b441d16380/lines/3",
			ct: "application/json", body: `{"sku":"ABC-1234","qty":1,"price":{"amount":"1.50","currency":"EUR"}}`},
		{name: "undeclared query names, folded", c: pets, method: "GET",
			uri: "/v1/pets?limit=10&utm_source=mail&caf%C3%A9=1&x%2541=2&filter[a]=b"},
		{name: "404", c: pets, method: "GET", uri: "/v1/owners/7", want: pipeline.Done},
		{name: "405", c: pets, method: "PATCH", uri: "/v1/pets/7", want: pipeline.Done},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, r := request(t, tc.method, tc.uri, tc.ct, tc.body, tc.headers...)
			if v := tc.c.Check(ctx, r); v != tc.want {
				t.Fatalf("verdict %v, want %v: %s", v, tc.want, ctx.Response.Body())
			}
			if n := testing.AllocsPerRun(200, func() {
				if tc.c.Check(ctx, r) != tc.want {
					t.Fatal("verdict changed")
				}
			}); n != 0 {
				t.Errorf("Check allocates %.1f times per request", n)
			}
		})
	}
}
