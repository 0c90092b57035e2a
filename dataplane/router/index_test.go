package router

import (
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestFoldWord(t *testing.T) {
	// Every byte value in every position, with neighbours that could carry.
	for pos := range 8 {
		for b := range 256 {
			for _, fill := range []byte{0x00, 0x40, 0x5a, 0x7f, 0x80, 0xff} {
				var in [8]byte
				for i := range in {
					in[i] = fill
				}
				in[pos] = byte(b)
				got := foldWord(binary.LittleEndian.Uint64(in[:]))
				var want [8]byte
				for i, c := range in {
					want[i] = lower[c]
				}
				if got != binary.LittleEndian.Uint64(want[:]) {
					t.Fatalf("foldWord(% x) = %#x; want % x", in, got, want)
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		w := r.Uint64()
		var in, want [8]byte
		binary.LittleEndian.PutUint64(in[:], w)
		for i, c := range in {
			want[i] = lower[c]
		}
		if got := foldWord(w); got != binary.LittleEndian.Uint64(want[:]) {
			t.Fatalf("foldWord(%#x) = %#x; want % x", w, got, want)
		}
	}
}

func TestHashFoldIgnoresCase(t *testing.T) {
	for _, s := range []string{"", "/", "/A", "/ApI/V1", "/Static/Svc14/Index.HTML", strings.Repeat("/AbCdEfGh", 40)} {
		if hashFold([]byte(s)) != hashFold([]byte(strings.ToLower(s))) {
			t.Errorf("hashFold(%q) differs from its lower-case form", s)
		}
		ph := newPrefixHasher([]byte(s))
		for j := 0; j <= len(s); j++ {
			if got, want := ph.at(j), hashFold([]byte(s[:j])); got != want {
				t.Fatalf("prefixHasher(%q).at(%d) = %#x; hashFold of the prefix = %#x", s, j, got, want)
			}
		}
	}
}

// TestMatchLongKeys covers keys of 256 bytes and more, whose lengths the
// length sets do not track.
func TestMatchLongKeys(t *testing.T) {
	long := "/" + strings.Repeat("seg/", 80) + "end" // 324 bytes
	tab := mustNew(t, []Spec[string]{
		spec("long-prefix", "", long, Prefix),
		spec("long-exact", "", long+"/x", Exact),
		{Name: "long-fold", Path: strings.ToUpper(long) + "/Y", Kind: Exact, CaseInsensitive: true, Value: "value of long-fold"},
		spec("short", "", "/seg", Prefix, "POST"),
		spec("len255", "", "/"+strings.Repeat("a", 254), Prefix),
		spec("len256", "", "/"+strings.Repeat("b", 255), Prefix),
		spec("len256-exact", "", "/"+strings.Repeat("c", 255), Exact),
	})
	runRequests(t, tab, []request{
		{name: "prefix itself", method: "GET", path: long, wantName: "long-prefix", wantRes: Matched},
		{name: "prefix child", method: "GET", path: long + "/z/w", wantName: "long-prefix", wantRes: Matched},
		{name: "exact", method: "GET", path: long + "/x", wantName: "long-exact", wantRes: Matched},
		{name: "exact folded", method: "GET", path: long + "/y", wantName: "long-fold", wantRes: Matched},
		{name: "prefix not string prefix", method: "GET", path: long + "x", wantRes: MethodNotAllowed}, // falls to /seg
		{name: "shorter path", method: "POST", path: long[:200], wantName: "short", wantRes: Matched},
		{name: "255 byte key", method: "GET", path: "/" + strings.Repeat("a", 254) + "/q", wantName: "len255", wantRes: Matched},
		{name: "256 byte key", method: "GET", path: "/" + strings.Repeat("b", 255) + "/q", wantName: "len256", wantRes: Matched},
		{name: "256 byte key itself", method: "GET", path: "/" + strings.Repeat("b", 255), wantName: "len256", wantRes: Matched},
		{name: "256 byte exact", method: "GET", path: "/" + strings.Repeat("c", 255), wantName: "len256-exact", wantRes: Matched},
		{name: "256 byte not boundary", method: "GET", path: "/" + strings.Repeat("b", 256), wantRes: NoRoute},
	})
}
