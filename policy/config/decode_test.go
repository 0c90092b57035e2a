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
