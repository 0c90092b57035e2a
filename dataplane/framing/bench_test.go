package framing

import (
	"strings"
	"testing"
)

// getHead is a realistic 300-byte browser-style API request head.
const getHead = "GET /api/v1/customers/8c3f2a1e/orders HTTP/1.1\r\n" +
	"Host: api.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: application/json\r\n" +
	"Accept-Encoding: gzip, br\r\n" +
	"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2ln\r\n" +
	"Connection: keep-alive\r\n" +
	"\r\n"

// postHead is the head of a JSON POST with a Content-Length body.
const postHead = "POST /api/v1/orders HTTP/1.1\r\n" +
	"Host: api.example.com\r\n" +
	"Content-Type: application/json\r\n" +
	"Content-Length: "

// postRequest is a JSON POST with a 64-byte body.
const postRequest = postHead + "64\r\n\r\n" +
	`{"customer":"8c3f2a1e","items":[{"sku":"A-1","qty":2}],"n":"x"}` + "\n"

// chunkedRequest is an upload with a chunked body and a trailer.
var chunkedRequest = "POST /upload HTTP/1.1\r\n" +
	"Host: api.example.com\r\n" +
	"Transfer-Encoding: chunked\r\n" +
	"\r\n" +
	"400\r\n" + strings.Repeat("x", 1024) + "\r\n" +
	"400;ext=1\r\n" + strings.Repeat("y", 1024) + "\r\n" +
	"0\r\nX-Checksum: 1234\r\n\r\n"

var benchStreams = []struct {
	name   string
	stream string
}{
	{"get_head_300B", getHead},
	{"keepalive_10_gets", strings.Repeat(getHead, 10)},
	{"keepalive_get_post_mix", strings.Repeat(getHead+postRequest, 5)},
	{"post_64KiB_body", postHead + "65536\r\n\r\n" + strings.Repeat("z", 65536)},
	{"chunked_2KiB", chunkedRequest},
}

func BenchmarkFeed(b *testing.B) {
	for _, bs := range benchStreams {
		b.Run(bs.name, func(b *testing.B) {
			p := []byte(bs.stream)
			if ok, viol := new(Validator).Feed(p); ok != len(p) || viol != None {
				b.Fatalf("Feed = %d, %v", ok, viol)
			}
			var v Validator
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				v.Reset()
				v.Feed(p)
			}
		})
	}
}

// BenchmarkFeedSegments feeds the keep-alive stream in 1460-byte pieces,
// as a socket read of one TCP segment would return it.
func BenchmarkFeedSegments(b *testing.B) {
	p := []byte(strings.Repeat(getHead+postRequest, 20))
	var v Validator
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		v.Reset()
		for off := 0; off < len(p); off += 1460 {
			v.Feed(p[off:min(off+1460, len(p))])
		}
	}
}

func TestBenchStreams(t *testing.T) {
	if len(getHead) != 300 {
		t.Errorf("getHead is %d bytes; the benchmark name says 300", len(getHead))
	}
	for _, bs := range benchStreams {
		var v Validator
		if ok, viol := v.Feed([]byte(bs.stream)); ok != len(bs.stream) || viol != None || v.Messages() == 0 {
			t.Errorf("%s: Feed = %d, %v, %d requests", bs.name, ok, viol, v.Messages())
		}
		checkFasthttp(t, []byte(bs.stream))
	}
}
