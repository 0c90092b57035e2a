package inject

import (
	"net/url"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

const chromeUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"

// order1K is a realistic 1 KB JSON order: ids, names, an email, a phone
// number, an address, dates, prices and a free-text note.
const order1K = `{"order_id":"550e8400-e29b-41d4-a716-446655440000","currency":"EUR","created_at":"2024-01-15T10:20:30Z",` +
	`"customer":{"name":"Jane Doe","email":"jane.doe@example.com","phone":"+44 20 7946 0958",` +
	`"address":{"line1":"221B Baker Street","line2":"Flat 2","city":"London","postcode":"NW1 6XE","country":"GB"}},` +
	`"items":[{"sku":"SKU-1234-XL","name":"Blue widget, large","qty":2,"price":19.99,"options":{"color":"blue","size":"XL"}},` +
	`{"sku":"SKU-5678-S","name":"Red gadget, small","qty":1,"price":5.5,"options":{"color":"red","size":"S"}},` +
	`{"sku":"SKU-9012-M","name":"Green doohickey","qty":3,"price":7.25,"options":{"color":"green","size":"M"}},` +
	`{"sku":"SKU-3456-L","name":"Yellow thingamajig","qty":1,"price":12,"options":{"color":"yellow","size":"L"}}],` +
	`"shipping":{"method":"express","carrier":"DHL","tracking":"JD014600006281230704","eta":"2024-01-18"},` +
	`"notes":"Please deliver to the back door, ring twice. Fragile items inside.","tags":["gift","express","priority"],` +
	`"coupon":"SPRING24","referrer":"https://shop.example.com/campaigns/spring-sale?utm_source=newsletter","locale":"en-GB"}`

func cleanGET() *fasthttp.Request {
	var r fasthttp.Request
	r.SetRequestURI("/api/v1/products/42/reviews?page=2&per_page=20&sort=created_at&order=desc&lang=en-GB")
	r.Header.Set("User-Agent", chromeUA)
	r.Header.Set("Referer", "https://shop.example.com/products/42")
	r.Header.Set("Accept", "application/json")
	r.Header.Set("Cookie", "session=3f2a9c1e7b6d4a58; theme=dark")
	return &r
}

func jsonPOST() *fasthttp.Request {
	var r fasthttp.Request
	jsonBody(&r, order1K)
	r.Header.Set("User-Agent", chromeUA)
	return &r
}

func formPOST() *fasthttp.Request {
	v := url.Values{}
	for i, s := range []string{"Jane Doe", "jane.doe@example.com", "+44 20 7946 0958", "221B Baker Street", "London",
		"NW1 6XE", "GB", "Blue widget, large", "SKU-1234-XL", "2", "express", "2024-01-15",
		"Please deliver to the back door, ring twice. Fragile items inside.", "SPRING24", "en-GB"} {
		v.Set("field"+strings.Repeat("x", i%3)+string(rune('a'+i)), s)
	}
	body := v.Encode()
	for len(body) < 1000 {
		body += "&more=" + url.QueryEscape("Another ordinary value, nothing to see")
	}
	var r fasthttp.Request
	r.Header.SetMethod("POST")
	r.SetRequestURI("/checkout")
	r.Header.SetContentType("application/x-www-form-urlencoded")
	r.SetBodyString(body)
	r.Header.Set("User-Agent", chromeUA)
	return &r
}

func attackGET() *fasthttp.Request {
	var r fasthttp.Request
	r.SetRequestURI("/search?q=" + url.QueryEscape("1' UNION SELECT username, password FROM users--"))
	return &r
}

type benchCase struct {
	name   string
	req    func() *fasthttp.Request
	parsed bool
}

var benchCases = []benchCase{
	{"clean GET 5 args", cleanGET, false},
	{"1KB JSON raw", jsonPOST, false},
	{"1KB JSON pre-parsed", jsonPOST, true},
	{"1KB form", formPOST, false},
	{"SQLi GET", attackGET, false},
}

func BenchmarkInspect(b *testing.B) {
	d := mustNew(b, Options{})
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			req := bc.req()
			var body *fastjson.Value
			if bc.parsed {
				body = fastjson.MustParseBytes(req.Body())
			}
			var sc Scratch
			d.Inspect(&sc, req, body)
			b.ReportAllocs()
			for b.Loop() {
				d.Inspect(&sc, req, body)
			}
		})
	}
}

func BenchmarkPrefilter(b *testing.B) {
	for _, v := range []string{"widget", "Please deliver to the back door, ring twice. Fragile items inside.", chromeUA,
		"jane.doe@example.com", "550e8400-e29b-41d4-a716-446655440000"} {
		b.Run(v[:min(len(v), 20)], func(b *testing.B) {
			in := []byte(v)
			b.ReportAllocs()
			for b.Loop() {
				sqliMaybe(in)
				xssMaybe(in)
			}
		})
	}
}
