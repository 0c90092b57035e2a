package openapi_test

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/dataplane/validate"
	"github.com/edgeguard/edgeguard/dataplane/validate/openapi"
)

// The control plane reads the document, compiles it once per route, and
// hands it to the route's validation stage as its body checker.
func Example() {
	doc := []byte(`
openapi: 3.0.3
info: {title: orders, version: '1'}
paths:
  /orders/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer, minimum: 1}}
    get:
      parameters:
        - {name: expand, in: query, schema: {type: boolean}}
`)
	check, err := openapi.New(doc, openapi.Options{Route: "orders", BasePath: "/api/v1"})
	if err != nil {
		fmt.Println(err)
		return
	}
	stage, err := validate.New(validate.Rules{Route: "orders", RefuseEncoded: true, Body: check})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, uri := range []string{"/api/v1/orders/7?expand=true", "/api/v1/orders/0?expand=yes", "/api/v1/customers"} {
		ctx := &fasthttp.RequestCtx{}
		raw := "GET " + uri + " HTTP/1.1\r\nHost: api.example\r\n\r\n"
		if err := ctx.Request.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
			fmt.Println(err)
			return
		}
		r := &pipeline.Request{Path: ctx.Request.URI().Path()} // the server normalizes it
		if stage.Handle(ctx, r) == pipeline.Continue {
			fmt.Println(uri, "passes")
			continue
		}
		fmt.Println(uri, ctx.Response.StatusCode(), r.Detail, strings.TrimSpace(string(ctx.Response.Body())))
	}
	// Output:
	// /api/v1/orders/7?expand=true passes
	// /api/v1/orders/0?expand=yes 400 openapi_parameter_invalid {"status":400,"error":"Bad Request","reason":"body_invalid","request_id":"","violations":[{"pointer":"/path/id","reason":"minimum: less than 1"},{"pointer":"/query/expand","reason":"type: expected boolean"}]}
	// /api/v1/customers 404 openapi_no_operation {"status":404,"error":"Not Found","reason":"no_route","request_id":""}
}
