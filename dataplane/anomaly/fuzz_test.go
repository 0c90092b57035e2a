package anomaly

import (
	"strings"
	"testing"
)

// FuzzInfer: the pattern infer hashes on the request path (without
// building a string) is the one the event names, and a path has a
// pattern exactly when some segment is an ID; a declared pattern matches
// a path exactly when its literals do and its IDs are non-empty segments.
func FuzzInfer(f *testing.F) {
	for _, s := range []string{"/customers/123", "/v1/docs/0b1f7a60-4c1e-4d55-9d2a-5a1e2c3d4e5f/raw", "/a//1/", "/", "",
		"/shop/acme/orders/o1", "/shop//orders/1", "/customers/12/orders/34"} {
		f.Add(s)
	}
	decl, err := parsePattern("/shop/{shop}/orders/{order}")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, path string) {
		pat, _, ok := infer([]byte(path))
		text := inferredText([]byte(path))
		if ok != (text != path) && !strings.Contains(path, "{id}") {
			t.Fatalf("%q: infer ok %v, pattern %q", path, ok, text)
		}
		if ok && pat != hashString(text) {
			t.Fatalf("%q: hashed pattern is not %q", path, text)
		}
		segs := strings.Split(path, "/")
		want := len(segs) == 5 && segs[0] == "" && segs[1] == "shop" && segs[2] != "" && segs[3] == "orders" && segs[4] != ""
		if _, got := decl.match([]byte(path)); got != want {
			t.Fatalf("%q: declared pattern matched %v, want %v", path, got, want)
		}
	})
}
