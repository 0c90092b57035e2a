package openapi

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pathnorm"
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// probes are requests every document that loads must answer without
// panicking, with one of the statuses Check can give.
var probes = []struct{ method, uri, ct, body string }{
	{"GET", "/", "", ""},
	{"GET", "/o", "", ""},
	{"GET", "/o/1?a=1&a=2&b=", "", ""},
	{"POST", "/o", "application/json", `{"a":[1,{"b":null}]}`},
	{"POST", "/o/x.json", "application/merge-patch+json", `[]`},
	{"PUT", "/v1/pets/7", "text/plain", "x"},
	{"DELETE", "/api/v2/orders/2eb8aa08-aa98-11ea-b4aa-73b441d16380", "", ""},
}

// FuzzNew: New never panics, every error line names a location, and a
// document that loads answers arbitrary requests with a status Check can
// give and a well-formed refusal.
func FuzzNew(f *testing.F) {
	for _, file := range []string{"testdata/petstore-3.0.yaml", "testdata/orders-3.1.json"} {
		doc, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(doc)
	}
	f.Add([]byte(doc30("  /o/{id}:\n    get:\n      parameters:\n        - {name: id, in: path, required: true, schema: {type: integer}}\n")))
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, err := New(doc, Options{Route: "fuzz"})
		if err != nil {
			checkErrorLines(t, err)
			return
		}
		for _, p := range probes {
			ctx := &fasthttp.RequestCtx{}
			ctx.Request.Header.SetMethod(p.method)
			ctx.Request.SetRequestURI(p.uri)
			if p.ct != "" {
				ctx.Request.Header.SetContentType(p.ct)
				ctx.Request.SetBodyString(p.body)
			}
			r := &pipeline.Request{Path: []byte(strings.SplitN(p.uri, "?", 2)[0])}
			checkAnswer(t, c, ctx, r)
		}
	})
}

// FuzzCheck sends arbitrary methods, paths, queries, headers and bodies to
// the two test documents: Check never panics, answers the same twice,
// refuses only with the statuses it documents, and a refusal's
// violations point into the request by the document's names only.
func FuzzCheck(f *testing.F) {
	pets := load(f, "testdata/petstore-3.0.yaml", Options{Route: "pets"})
	orders := load(f, "testdata/orders-3.1.json", Options{Route: "orders", RejectUnknownQuery: true})
	f.Add("POST", orderURI, "application/json", "X-Confirm: true", []byte(validOrder))
	f.Add("GET", "/v1/pets?limit=10&status=sold&tag=a&tag=b&born_after=2024-01-31", "", "X-Request-ID: 2eb8aa08-aa98-11ea-b4aa-73b441d16380", []byte(nil))
	f.Add("DELETE", "/v1/pets/7", "", "Cookie: session=abcdefgh1", []byte(nil))
	f.Add("GET", "/v1/pets/7/photos/a%20b.json", "", "", []byte(nil))
	f.Add("POST", "/v1/adoptions", "application/json", "", []byte(`{"petType":"cat","name":"Tom","indoor":1}`))
	f.Add("GET", "/api/v2/orders?status=open&status=lost&limit=1.5&x=%FF", "", "", []byte(nil))
	f.Add("PATCH", "/api/v2/orders/2eb8aa08-aa98-11ea-b4aa-73b441d16380", "application/merge-patch+json; charset=utf-8", "", []byte(`{"note":"\u0000"}`))
	f.Add("PUT", "/api/v2/orders/x/lines/-0", "application/json", "", []byte(`{"sku":"ABC-1234","qty":1e400}`))
	f.Fuzz(func(t *testing.T, method, uri, ct, header string, body []byte) {
		for _, c := range []*Check{pets, orders} {
			var answers [2][]byte
			for i := range answers {
				ctx := &fasthttp.RequestCtx{}
				ctx.Request.Header.SetMethod(method)
				ctx.Request.SetRequestURI(uri)
				if ct != "" {
					ctx.Request.Header.SetContentType(ct)
				}
				if name, val, ok := strings.Cut(header, ": "); ok {
					ctx.Request.Header.Set(name, val)
				}
				ctx.Request.SetBody(body)
				r := &pipeline.Request{}
				path, err := pathnorm.NormalizeMode(nil, ctx.Request.URI().PathOriginal(), pathnorm.AllowParams)
				if err != nil {
					return // the server refuses it before any stage
				}
				r.Path = path
				if bytes.IndexByte(path, ';') >= 0 {
					r.RoutePath = pathnorm.CutParams(nil, path)
				}
				checkAnswer(t, c, ctx, r)
				answers[i] = append([]byte(nil), ctx.Response.Body()...)
				answers[i] = append(answers[i], byte(ctx.Response.StatusCode()>>8), byte(ctx.Response.StatusCode()))
			}
			if !bytes.Equal(answers[0], answers[1]) {
				t.Fatalf("two answers to the same request:\n%q\n%q", answers[0], answers[1])
			}
		}
	})
}

// checkAnswer runs Check and checks its verdict and refusal.
func checkAnswer(t *testing.T, c *Check, ctx *fasthttp.RequestCtx, r *pipeline.Request) {
	t.Helper()
	switch c.Check(ctx, r) {
	case pipeline.Continue:
		return
	case pipeline.Done:
	default:
		t.Fatal("verdict is neither Continue nor Done")
	}
	switch ctx.Response.StatusCode() {
	case 400, 404, 405, 415:
	default:
		t.Fatalf("status %d", ctx.Response.StatusCode())
	}
	var a answer
	if err := json.Unmarshal(ctx.Response.Body(), &a); err != nil {
		t.Fatalf("refusal %q is not JSON: %v", ctx.Response.Body(), err)
	}
	if len(a.Violations) > maxViolations {
		t.Fatalf("%d violations", len(a.Violations))
	}
	for _, v := range a.Violations {
		if !c.knownPointer(v.Pointer) || v.Reason == "" {
			t.Fatalf("violation %+v does not point at a declared place", v)
		}
	}
}

// knownPointer reports whether p starts at the body, the query, or a
// parameter the document declares.
func (c *Check) knownPointer(p string) bool {
	if p == "/query" || p == "/body" || strings.HasPrefix(p, "/body/") {
		return true
	}
	found := false
	var walk func(n *node)
	walk = func(n *node) {
		if n == nil || found {
			return
		}
		if n.entry != nil {
			for _, op := range n.entry.ops {
				if op == nil {
					continue
				}
				for _, ps := range [][]param{op.path, op.query, op.header, op.cookie} {
					for _, q := range ps {
						if p == q.pointer || strings.HasPrefix(p, q.pointer+"/") {
							found = true
						}
					}
				}
			}
		}
		for _, next := range n.literal {
			walk(next)
		}
		for _, t := range n.templates {
			walk(t.next)
		}
	}
	walk(c.root)
	return found
}
