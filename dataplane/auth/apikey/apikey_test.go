package apikey

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func hashOf(key string) [32]byte { return sha256.Sum256([]byte(key)) }

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		key, hash, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(key, Prefix) || len(key) != len(Prefix)+43 {
			t.Fatalf("key %q: want %s + 43 base64url characters", key, Prefix)
		}
		h, err := ParseHash(hash)
		if err != nil || h != hashOf(key) {
			t.Fatalf("hash %q does not match key: %v", hash, err)
		}
		if seen[key] {
			t.Fatal("duplicate key generated")
		}
		seen[key] = true
	}
}

func TestParseHash(t *testing.T) {
	good := strings.Repeat("ab", 32)
	cases := []struct {
		name string
		in   string
		ok   bool
	}{
		{"valid", good, true},
		{"upper case hex", strings.ToUpper(good), true},
		{"short", good[:62], false},
		{"not hex", strings.Repeat("zz", 32), false},
		{"a raw key instead of a hash", "egk_" + good[:60], false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseHash(tc.in); (err == nil) != tc.ok {
				t.Errorf("err = %v", err)
			}
		})
	}
}

// TestRotationGrace: a client rotating keys has both valid until the old
// one's not_after, then only the new one.
func TestRotationGrace(t *testing.T) {
	c := metrics.GetOrCreateCounter(`edgeguard_auth_api_key_uses_total{key_id="acme-2029",client="acme"}`)
	usesBefore := c.Get() // the registry is global: count what this run adds
	oldKey, newKey := "egk_old-key-0123456789", "egk_new-key-0123456789"
	tab, err := NewTable([]KeyConfig{
		{ID: "acme-2029", Client: "acme", Tier: "gold", Hash: hashOf(oldKey), NotAfter: t0.Add(24 * time.Hour)},
		{ID: "acme-2030", Client: "acme", Tier: "gold", Hash: hashOf(newKey), Scopes: []string{"orders:read"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		key  string
		at   time.Time
		id   string
		err  error
	}{
		{"old key during grace", oldKey, t0, "acme-2029", nil},
		{"new key during grace", newKey, t0, "acme-2030", nil},
		{"old key one ns before not_after", oldKey, t0.Add(24*time.Hour - 1), "acme-2029", nil},
		{"old key at not_after", oldKey, t0.Add(24 * time.Hour), "", ErrExpired},
		{"new key after grace", newKey, t0.Add(48 * time.Hour), "acme-2030", nil},
		{"unknown key", "egk_guess", t0, "", ErrUnknown},
		{"key differing in one byte", newKey[:len(newKey)-1] + "X", t0, "", ErrUnknown},
		{"empty", "", t0, "", ErrMalformed},
		{"oversized", strings.Repeat("k", MaxKeyBytes+1), t0, "", ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, err := tab.Lookup([]byte(tc.key), tc.at)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if tc.err == nil && (k.ID != tc.id || k.Identity.Principal.KeyID != tc.id || k.Identity.Principal.RateKey != "api_key:acme") {
				t.Errorf("key %+v", k.Identity.Principal)
			}
		})
	}
	// Every use is counted per key id (the id, never the key).
	if got := c.Get() - usesBefore; got != 2 {
		t.Errorf("uses of acme-2029 rose by %d, want 2", got)
	}
}

func TestNewTableRejects(t *testing.T) {
	h := hashOf("x")
	cases := []struct {
		name string
		keys []KeyConfig
	}{
		{"duplicate id", []KeyConfig{{ID: "a", Client: "c", Hash: h}, {ID: "a", Client: "c", Hash: hashOf("y")}}},
		{"duplicate hash", []KeyConfig{{ID: "a", Client: "c", Hash: h}, {ID: "b", Client: "c", Hash: h}}},
		{"missing client", []KeyConfig{{ID: "a", Hash: h}}},
		{"client with a newline", []KeyConfig{{ID: "a", Client: "c\nX-Evil: 1", Hash: h}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewTable(tc.keys); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestAllowsRoute(t *testing.T) {
	tab, _ := NewTable([]KeyConfig{
		{ID: "any", Client: "c", Hash: hashOf("a")},
		{ID: "orders", Client: "c", Hash: hashOf("b"), Routes: []string{"orders", "invoices"}},
	})
	a, _ := tab.Lookup([]byte("a"), t0)
	b, _ := tab.Lookup([]byte("b"), t0)
	if !a.AllowsRoute("admin") || !b.AllowsRoute("invoices") || b.AllowsRoute("admin") {
		t.Error("route restrictions wrong")
	}
}

var leakNames = [][]byte{[]byte("api_key"), []byte("apikey"), []byte("api-key"), []byte("x-api-key")}

func TestQueryLeak(t *testing.T) {
	cases := []struct {
		name  string
		query string
		leak  bool
	}{
		{"empty", "", false},
		{"ordinary", "page=2&sort=name", false},
		{"api_key param", "page=2&api_key=abc", true},
		{"upper case name", "API_KEY=abc", true},
		{"percent-encoded name", "api%5Fkey=abc", true},
		{"percent-encoded name upper hex", "API%5fKEY=abc", true},
		{"name without value", "apikey", true},
		{"x-api-key", "x-api-key=1", true},
		{"generated key under any name", "token=egk_abcdef", true},
		{"generated key percent-encoded", "t=egk%5Fabcdef", true},
		{"generated key upper case", "t=EGK_abc", true},
		// Names PHP and Rails file under api_key.
		{"dot for underscore", "api.key=abc", true},
		{"space for underscore", "api%20key=abc", true},
		{"plus for underscore", "api+key=abc", true},
		{"unclosed bracket for underscore", "api[key=abc", true},
		{"array subscript", "api_key[]=abc", true},
		{"index subscript", "API_KEY[0]=abc", true},
		{"spaces around", "+api_key+=abc", true},
		{"many spaces before", strings.Repeat("+", 100) + "api_key=abc", true},
		{"NUL after", "api_key%00x=abc", true},
		{"another name with a subscript", "filter[api_key]=abc", false},
		{"name that only contains api_key", "my_api_key_count=3", false},
		{"value that only contains the prefix", "q=x_egk_", false},
		{"truncated escape", "api%5", false},
		{"long name", strings.Repeat("a", 200) + "=1", false},
		{"empty pairs", "&&&=&", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := QueryLeak([]byte(tc.query), leakNames); got != tc.leak {
				t.Errorf("QueryLeak(%q) = %v", tc.query, got)
			}
		})
	}
}

func FuzzQueryLeak(f *testing.F) {
	for _, s := range []string{"api_key=1", "a=egk_x", "api%5Fkey", "%%%", "a=b&c=d"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, q []byte) {
		got := QueryLeak(q, leakNames)
		// Reference without percent-decoding: a pair whose plain name is
		// listed, or whose plain value starts with the prefix, must be found.
		for _, pair := range strings.Split(string(q), "&") {
			name, value, _ := strings.Cut(pair, "=")
			name, value = strings.ToLower(name), strings.ToLower(value)
			listed := false
			for _, n := range leakNames {
				listed = listed || name == string(n)
			}
			if (listed || strings.HasPrefix(value, Prefix)) && !strings.ContainsAny(pair, "%+") && !got {
				t.Fatalf("missed %q in %q", pair, q)
			}
		}
	})
}

var sinkKey *Key

func BenchmarkLookup(b *testing.B) {
	key, hash, _ := Generate()
	h, _ := ParseHash(hash)
	cfgs := []KeyConfig{{ID: "k", Client: "c", Hash: h}}
	for i := range 10000 {
		cfgs = append(cfgs, KeyConfig{ID: "k" + hex.EncodeToString([]byte{byte(i), byte(i >> 8)}), Client: "c", Hash: hashOf(string(rune(i)) + "x")})
	}
	tab, err := NewTable(cfgs)
	if err != nil {
		b.Fatal(err)
	}
	kb := []byte(key)
	b.ReportAllocs()
	for b.Loop() {
		sinkKey, _ = tab.Lookup(kb, t0)
	}
}

func BenchmarkQueryLeak(b *testing.B) {
	q := []byte("page=2&sort=name&filter=active&limit=50")
	b.ReportAllocs()
	for b.Loop() {
		if QueryLeak(q, leakNames) {
			b.Fatal("leak")
		}
	}
}
