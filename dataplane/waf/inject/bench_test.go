package inject

import (
	"fmt"
	"math/rand/v2"
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
	{"1KB JSON utf-16le", jsonUTF16POST, false},
}

// jsonUTF16POST is the 1 KB order in UTF-16LE with a BOM: its bytes, then
// its UTF-8 transcoding, are inspected.
func jsonUTF16POST() *fasthttp.Request {
	r := jsonPOST()
	r.SetBodyString(encodeUTF(utf16LE, true, order1K))
	return r
}

func BenchmarkInspect(b *testing.B) {
	d := mustNew(b, Options{})
	noBodyCache := mustNew(b, Options{})
	noBodyCache.cleanBody.off = true
	cases := append(benchCases, benchCase{"1KB JSON raw no body cache", jsonPOST, false})
	for _, bc := range cases {
		d := d
		if strings.HasSuffix(bc.name, "no body cache") {
			d = noBodyCache
		}
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
				m := classMask(in)
				sqliMaybeMask(in, m)
				xssMaybeMask(in, m)
			}
		})
	}
}

// BenchmarkPrefilterCold runs the pre-filters on every string value of
// 256 varied orders (names, notes, emails, URLs, ids, dates): the cost per
// value of ruling libinjection out on typical API values.
func BenchmarkPrefilterCold(b *testing.B) {
	var values [][]byte
	for _, body := range variedOrders(256) {
		var walk func(v *fastjson.Value)
		walk = func(v *fastjson.Value) {
			switch v.Type() {
			case fastjson.TypeString:
				values = append(values, v.GetStringBytes())
			case fastjson.TypeObject:
				v.GetObject().Visit(func(k []byte, v *fastjson.Value) { walk(v) })
			case fastjson.TypeArray:
				for _, e := range v.GetArray() {
					walk(e)
				}
			}
		}
		walk(fastjson.MustParseBytes(body))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		in := values[i]
		m := classMask(in)
		sqliMaybeMask(in, m)
		xssMaybeMask(in, m)
		i = (i + 1) % len(values)
	}
}

// variedOrders returns n 1 KB JSON orders shaped like order1K whose
// values differ (names, streets, notes, ids, URLs drawn from word lists),
// so that a benchmark cycling through them measures inspection with a cold
// clean cache: n times the distinct values of a body exceed its slots.
func variedOrders(n int) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	first := []string{"Jane", "John", "Amélie", "Chen", "Fatima", "Olu", "Siobhan", "Mateo", "Priya", "Lars", "Noor", "Kenji"}
	last := []string{"Doe", "Smith", "O'Neil", "Dubois", "Okafor", "García", "Nakamura", "Andersen", "Haddad", "Kowalski"}
	words := []string{"blue", "widget", "large", "red", "gadget", "small", "green", "doohickey", "yellow", "thing",
		"please", "deliver", "to", "the", "back", "door", "ring", "twice", "fragile", "items", "inside", "leave",
		"with", "neighbour", "at", "number", "before", "arrival", "gift", "wrap", "and", "not",
		"your", "size", "phone", "account", "in", "stock", "soon"}
	streets := []string{"Baker Street", "Rue de Rivoli", "Main St", "Königsallee", "Calle Mayor", "Elm Avenue"}
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	sentence := func(k int) string {
		var b strings.Builder
		for i := range k {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(pick(words))
		}
		if rng.IntN(2) == 0 {
			b.WriteString(", ")
			b.WriteString(pick(words))
		}
		b.WriteByte('.')
		return b.String()
	}
	out := make([][]byte, n)
	for i := range out {
		fn, ln := pick(first), pick(last)
		item := func() string {
			return fmt.Sprintf(`{"sku":"SKU-%04d-%s","name":%q,"qty":%d,"price":%d.%02d,"options":{"color":%q,"size":%q}}`,
				rng.IntN(10000), pick([]string{"S", "M", "L", "XL"}), sentence(2+rng.IntN(2)), 1+rng.IntN(5),
				rng.IntN(100), rng.IntN(100), pick(words), pick([]string{"S", "M", "L", "XL"}))
		}
		out[i] = fmt.Appendf(nil, `{"order_id":"%08x-%04x-%04x-%04x-%012x","currency":%q,"created_at":"2024-%02d-%02dT%02d:%02d:%02dZ",`+
			`"customer":{"name":"%s %s","email":"%s.%s%d@example.com","phone":"+44 20 %04d %04d",`+
			`"address":{"line1":"%dB %s","line2":"Flat %d","city":%q,"postcode":"NW%d %dXE","country":"GB"}},`+
			`"items":[%s,%s,%s,%s],"shipping":{"method":"express","carrier":"DHL","tracking":"JD%018d","eta":"2024-01-%02d"},`+
			`"notes":%q,"tags":["gift","express","priority"],"coupon":"SPRING%d","referrer":"https://shop.example.com/campaigns/%s-%s?utm_source=newsletter&id=%d","locale":"en-GB"}`,
			rng.Uint32(), rng.IntN(1<<16), rng.IntN(1<<16), rng.IntN(1<<16), rng.Uint64()&(1<<48-1), pick([]string{"EUR", "GBP", "USD"}),
			1+rng.IntN(12), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60),
			fn, ln, strings.ToLower(fn), strings.ToLower(strings.ReplaceAll(ln, "'", "")), rng.IntN(100), rng.IntN(10000), rng.IntN(10000),
			1+rng.IntN(300), pick(streets), 1+rng.IntN(20), pick([]string{"London", "Paris", "Lagos", "Tokyo", "Madrid"}), rng.IntN(10), rng.IntN(10),
			item(), item(), item(), item(), rng.Int64N(1e18), 1+rng.IntN(28),
			sentence(8+rng.IntN(8)), rng.IntN(100), pick(words), pick(words), rng.IntN(1e6))
	}
	return out
}

// BenchmarkInspectCold inspects 4096 different 1 KB JSON bodies in turn:
// with the clean caches on ("unique bodies": the keys, the User-Agent and
// the few values libinjection reads stay cached, the other values are
// new), and off ("no cache": every value is inspected, libinjection runs
// on the User-Agent and on every value its pre-filters let through).
// BenchmarkInspect's repeated body is the other end: a client's steady
// state.
func BenchmarkInspectCold(b *testing.B) {
	bodies := variedOrders(4096)
	reqs := make([]fasthttp.Request, len(bodies))
	parsed := make([]*fastjson.Value, len(bodies))
	for i, body := range bodies {
		jsonBody(&reqs[i], string(body))
		reqs[i].Header.Set("User-Agent", chromeUA)
		parsed[i] = fastjson.MustParseBytes(body)
	}
	for _, cache := range []bool{true, false} {
		d := mustNew(b, Options{})
		d.clean.off, d.cleanLib.off = !cache, !cache
		// 4096 bodies in turn over the body cache's slots hit it now
		// and then; "unique" means none is seen before.
		d.cleanBody.off = true
		for _, pre := range []bool{false, true} {
			name := "unique bodies/"
			if !cache {
				name = "no cache/"
			}
			if pre {
				name += "1KB JSON pre-parsed"
			} else {
				name += "1KB JSON raw"
			}
			b.Run(name, func(b *testing.B) {
				var sc Scratch
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					var body *fastjson.Value
					if pre {
						body = parsed[i]
					}
					if r := d.Inspect(&sc, &reqs[i], body); r.Detected() {
						b.Fatalf("body %d: %v at %s", i, r.Kind, r.Location)
					}
					i = (i + 1) % len(reqs)
				}
			})
		}
	}
}

// BenchmarkAnchorFloods inspects 900 KB text bodies made of one pattern's
// literal anchor repeated ("polygon(", ";create user ", "@@version "...):
// the worst case of the checks that run a regular expression or a scan
// from each anchor. Their windows and budgets keep each linear in the
// body, near the cost of ordinary prose.
func BenchmarkAnchorFloods(b *testing.B) {
	for _, unit := range []string{"polygon(", ";create user ", "@@version ", "waitfor delay '", "1; sleep(", "' || this.a ",
		";{id,", ";env ", "$(wh$", "` ", "iex ", ";$a$b", ";echo a ", "<p style=\"a\">", "x?a=1&b=", "*/(", "polygon/**/(", "1';", "1 union values ", "1/**/union table x y ", "1;select a from b c ", "(select case when 1 ", "x' a glob 'y ", "asc,sleep(x) ", "/proc/1/", "plain prose, nothing to see; "} {
		d := mustNew(b, Options{MaxBytes: 4 << 20})
		d.clean.off, d.cleanLib.off, d.cleanBody.off = true, true, true
		var req fasthttp.Request
		req.Header.SetMethod("POST")
		req.SetRequestURI("/x")
		req.Header.SetContentType("text/plain")
		req.SetBodyString(strings.Repeat(unit, (900<<10)/len(unit)))
		b.Run(strings.TrimSpace(unit), func(b *testing.B) {
			var sc Scratch
			b.SetBytes(int64(len(req.Body())))
			for b.Loop() {
				d.Inspect(&sc, &req, nil)
			}
		})
	}
}
