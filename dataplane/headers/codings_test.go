package headers

import (
	"testing"

	"github.com/valyala/fasthttp"
)

func TestContentCodings(t *testing.T) {
	tests := []struct {
		name   string
		fields [][2]string
		first  string
		n      int
	}{
		{"none", nil, "", 0},
		{"identity", [][2]string{{"Content-Encoding", "identity"}}, "", 0},
		{"gzip", [][2]string{{"Content-Encoding", "gzip"}}, "gzip", 1},
		{"list", [][2]string{{"Content-Encoding", "Identity, , gzip ,br"}}, "gzip", 2},
		{"second field", [][2]string{{"Content-Encoding", "identity"}, {"Content-Encoding", "gzip"}}, "gzip", 1},
		{"empty first field", [][2]string{{"Content-Encoding", ""}, {"content-encoding", "deflate"}}, "deflate", 1},
		{"underscore spelling", [][2]string{{"Content_Encoding", "gzip"}}, "gzip", 1},
		{"other header", [][2]string{{"Content-Encodings", "gzip"}}, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h fasthttp.RequestHeader
			h.DisableNormalizing()
			for _, f := range tc.fields {
				h.Add(f[0], f[1])
			}
			first, n := ContentCodings(&h)
			if string(first) != tc.first || n != tc.n {
				t.Fatalf("got %q, %d; want %q, %d", first, n, tc.first, tc.n)
			}
		})
	}
}

func TestFoldedEqual(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"Content-Encoding", "content-encoding", true},
		{"CONTENT_ENCODING", "content-encoding", true},
		{"content-encodin", "content-encoding", false},
		{"content+encoding", "content-encoding", false},
	} {
		if got := FoldedEqual([]byte(tc.a), []byte(tc.b)); got != tc.want {
			t.Errorf("FoldedEqual(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}
