package config

import (
	"strings"
	"testing"
)

// TestStrictNumbers: a bare number is no duration (it would be
// nanoseconds), and an int key takes only an integer that fits.
func TestStrictNumbers(t *testing.T) {
	cases := []struct {
		name, append, want string
	}{
		{"duration without unit", "server:\n  request_head_timeout: 10\n", "server.request_head_timeout: 10 has no unit; write 10s, 500ms, 1m"},
		{"duration without unit in a list", "", "upstreams[0].health_check.interval: 2 has no unit"},
		{"fractional duration without unit", "server:\n  read_timeout: 1.5\n", "server.read_timeout: 1.5 has no unit"},
		{"fraction for an int", "server:\n  max_header_bytes: 8192.5\n", "server.max_header_bytes: 8192.5 is not an integer"},
		{"int overflow", "server:\n  max_header_bytes: 99999999999999999999999\n", "server.max_header_bytes: 99999999999999999999999 is out of range"},
		// YAML reads a number just over int64 as a uint64, which would wrap.
		{"int64 overflow by one", limited("second: 9223372036854775808"), "rate_limit.limits[api].second: 9223372036854775808 is out of range"},
		{"negative overflow", limited("second: -99999999999999999999"), "rate_limit.limits[api].second: -99999999999999999999 is out of range"},
		// The limit stays defined: no "unknown limit" or "sets no window" after it.
		{"fraction for a window", limited("second: 1.5"), "rate_limit.limits[api].second: 1.5 is not an integer"},
		{"bare number for a duration", "server:\n  read_timeout: 2\n  write_timeout: 1s\n", "server.read_timeout: 2 has no unit"},
		{"fraction in a tier", limited("second: 10, tiers: {gold: {minute: 0.5}}"), "rate_limit.limits[api].tiers[gold].minute: 0.5 is not an integer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := validBase + tc.append
			if tc.append == "" {
				doc = strings.Replace(validBase, "interval: 1s", "interval: 2", 1)
			}
			_, err := Parse([]byte(doc), "yaml", "test")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error containing %q, got %v", tc.want, err)
			}
			if n := strings.Count(err.Error(), "\n"); n != 1 && tc.append != "" { // a bad interval also fails the timeout check
				t.Errorf("want the one problem, got %d:\n%v", n, err)
			}
			if strings.Contains(err.Error(), "-9223372036854775808") {
				t.Errorf("error reports the wrapped value: %v", err)
			}
		})
	}
	for _, ok := range []string{
		"server:\n  request_head_timeout: 10s\n",
		"server:\n  read_timeout: 0s\n  max_header_bytes: 8192\n",
		"server:\n  max_header_bytes: 8192.0\n",
	} {
		if _, err := Parse([]byte(validBase+ok), "yaml", "test"); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
}

// TestLargestIntFits: 2^63-1 fits an int64 (as a float64 it would round up
// to 2^63 and be called out of range); the window's own bound refuses it.
func TestLargestIntFits(t *testing.T) {
	_, err := Parse([]byte(validBase+limited("second: 9223372036854775807")), "yaml", "test")
	if err == nil || strings.Contains(err.Error(), "out of range") || !strings.Contains(err.Error(), "must be 0-1000000000, got 9223372036854775807") {
		t.Fatalf("got %v", err)
	}
}

// limited is a route limit named api with the given windows.
func limited(windows string) string {
	return "rate_limit:\n  limits:\n    api: {" + windows + "}\n"
}

// TestEmptySectionsInMapsAreValidated: viper forgets a map entry whose value
// is {}, which must be refused like any other entry without a window.
func TestEmptySectionsInMapsAreValidated(t *testing.T) {
	for _, tc := range []struct{ append, want string }{
		{limited("second: 10, tiers: {gold: {}}"), "rate_limit.limits.api.tiers.gold: sets no window"},
		{limited("second: 10, identity_kinds: {api_key: {}}"), "rate_limit.limits.api.identity_kinds.api_key: sets no window"},
		{limited(""), "rate_limit.limits.api: sets no window"},
	} {
		_, err := Parse([]byte(validBase+tc.append), "yaml", "test")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: want error containing %q, got %v", tc.append, tc.want, err)
		}
	}
	if _, err := Parse([]byte(validBase+limited("second: 10, tiers: {Gold: {minute: 5}}")), "yaml", "test"); err != nil {
		t.Errorf("a tier with a window refused: %v", err)
	}
}

// TestUnknownKeyReportedOnce: the key walk and mapstructure both find an
// unknown key; mapstructure names top-level ones config.Config.<key>.
func TestUnknownKeyReportedOnce(t *testing.T) {
	cases := []struct{ name, append, key string }{
		{"top level", "managment:\n  address: x\n", "managment"},
		{"top level scalar", "bogus: 1\n", "bogus"},
		{"nested", "server:\n  bogu: 2\n", "server.bogu"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(validBase+tc.append), "yaml", "test")
			if err == nil {
				t.Fatal("accepted")
			}
			if n := strings.Count(err.Error(), tc.key+": unknown key"); n != 1 || strings.Contains(err.Error(), "config.Config") {
				t.Fatalf("%q reported %d times:\n%v", tc.key, n, err)
			}
		})
	}
}

// TestFailedEntryNotReportedEmpty: an entry that fails to decode is
// reported for that, not also as an entry without windows.
func TestFailedEntryNotReportedEmpty(t *testing.T) {
	_, err := Parse([]byte(validBase+limited("second: 10, tiers: {gold: fast}")), "yaml", "test")
	if err == nil || strings.Contains(err.Error(), "sets no window") {
		t.Fatalf("got %v", err)
	}
}

// TestEmptyTOMLTable: TOML's empty table is an entry like YAML's {}.
func TestEmptyTOMLTable(t *testing.T) {
	doc := `
[[listeners]]
name = "public"
address = "127.0.0.1:18080"
[[upstreams]]
name = "api"
targets = ["127.0.0.1:9000"]
[[routes]]
name = "api"
path = "/api/"
upstream = "api"
[rate_limit.limits.api]
second = 10
[rate_limit.limits.api.tiers.gold]
`
	_, err := Parse([]byte(doc), "toml", "test")
	if err == nil || !strings.Contains(err.Error(), "rate_limit.limits.api.tiers.gold: sets no window") {
		t.Fatalf("got %v", err)
	}
}

// TestPassiveEjectionOff: consecutive_failures: 0 turns passive ejection
// off, as documented; unset is the default.
func TestPassiveEjectionOff(t *testing.T) {
	for _, tc := range []struct {
		extra string
		want  int
	}{
		{"", DefaultPassiveFailures},
		{"    passive: {consecutive_failures: 0}\n", 0},
		{"    passive: {consecutive_failures: 3}\n", 3},
	} {
		doc := strings.Replace(validBase, "    balance: least_conn\n", "    balance: least_conn\n"+tc.extra, 1)
		l, err := Parse([]byte(doc), "yaml", "test")
		if err != nil {
			t.Fatal(err)
		}
		if got := l.Config.Upstreams[0].Passive.Failures(); got != tc.want {
			t.Errorf("%q: %d failures, want %d", tc.extra, got, tc.want)
		}
	}
}
