package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestExampleAnomalyIsDefault: the example config documents the anomaly
// defaults, and they are the code's.
func TestExampleAnomalyIsDefault(t *testing.T) {
	ex, err := Load("../../deploy/examples/gatewayd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	def, err := Parse([]byte(validBase), "yaml", "test")
	if err != nil {
		t.Fatal(err)
	}
	on := true
	want := Anomaly{
		Interval: 10 * time.Second, Baseline: 15 * time.Minute,
		CredentialStuffing: AnomalyStuffing{Enabled: &on, Window: time.Minute, Warmup: 10 * time.Minute, Factor: 5,
			MinFailures: 30, BanMinFailures: 10, MaxSources: 4096},
		Enumeration:    AnomalyEnumeration{Enabled: &on, Window: time.Minute, Threshold: 100, Infer: &on, MaxKeys: 4096},
		Probing:        AnomalyProbing{Enabled: &on, Window: time.Minute, Threshold: 50, MaxSources: 16384},
		AdminFirstSeen: AnomalyAdmin{Enabled: &on, MaxSources: 4096},
		UnusualMethods: AnomalyMethods{Enabled: &on, Warmup: 10 * time.Minute},
	}
	for name, got := range map[string]Anomaly{"defaults": def.Config.Anomaly, "example": ex.Config.Anomaly} {
		// The example spells empty lists; unset is the same.
		if len(got.Enumeration.Patterns) == 0 {
			got.Enumeration.Patterns = nil
		}
		if len(got.AdminFirstSeen.Routes) == 0 {
			got.AdminFirstSeen.Routes = nil
		}
		if len(got.UnusualMethods.Declared) == 0 {
			got.UnusualMethods.Declared = nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: anomaly %+v, want %+v", name, got, want)
		}
	}
}

func TestAnomalyValidation(t *testing.T) {
	cases := []struct {
		name    string
		section string
		wantKey string // "" means valid
	}{
		{"fast windows for tests", "anomaly: {interval: 100ms, credential_stuffing: {window: 2s, warmup: 1s}, probing: {window: 1s}}", ""},
		{"all detectors configured", `anomaly:
  credential_stuffing: {ban: true, factor: 2.5, min_failures: 5}
  enumeration: {patterns: ["/customers/{id}", "/s/{shop}/o/{order}"], infer: false, threshold: 1000}
  admin_first_seen: {routes: [api], warmup: 1h}
  unusual_methods: {declared: {API: [GET, POST]}}`, ""},
		{"detector off", "anomaly: {probing: {enabled: false}}", ""},
		{"interval too long", "anomaly: {interval: 10m, baseline: 1h, credential_stuffing: {window: 10m}, enumeration: {window: 10m}, probing: {window: 10m}}", "anomaly.interval"},
		{"baseline under interval", "anomaly: {interval: 1m, baseline: 10s, credential_stuffing: {window: 1m}, enumeration: {window: 1m}, probing: {window: 1m}}", "anomaly.baseline"},
		{"ban duration negative", "anomaly: {ban_duration: -1s}", "anomaly.ban_duration"},
		{"stuffing window too many intervals", "anomaly: {interval: 10ms, credential_stuffing: {window: 1h}, enumeration: {window: 1s}, probing: {window: 1s}}", "anomaly.credential_stuffing.window"},
		{"stuffing window under interval", "anomaly: {credential_stuffing: {window: 1s}}", "anomaly.credential_stuffing.window"},
		{"factor 1", "anomaly: {credential_stuffing: {factor: 1}}", "anomaly.credential_stuffing.factor"},
		{"min failures negative", "anomaly: {credential_stuffing: {min_failures: -1}}", "anomaly.credential_stuffing.min_failures"},
		{"warmup negative", "anomaly: {credential_stuffing: {warmup: -1s}}", "anomaly.credential_stuffing.warmup"},
		{"threshold over sketch", "anomaly: {enumeration: {threshold: 5000}}", "anomaly.enumeration.threshold"},
		{"pattern without id", `anomaly: {enumeration: {patterns: ["/customers"]}}`, "anomaly.enumeration.patterns[0]"},
		{"pattern half segment", `anomaly: {enumeration: {patterns: ["/c/{id}", "/c/x{id}"]}}`, "anomaly.enumeration.patterns[1]"},
		{"pattern relative", `anomaly: {enumeration: {patterns: ["c/{id}"]}}`, "anomaly.enumeration.patterns[0]"},
		{"max keys too many", "anomaly: {enumeration: {max_keys: 100000000}}", "anomaly.enumeration.max_keys"},
		{"probing threshold negative", "anomaly: {probing: {threshold: -5}}", "anomaly.probing.threshold"},
		{"admin route unknown", "anomaly: {admin_first_seen: {routes: [api, admn]}}", "anomaly.admin_first_seen.routes[1]"},
		{"declared route unknown", "anomaly: {unusual_methods: {declared: {nope: [GET]}}}", "anomaly.unusual_methods.declared.nope"},
		{"declared method unknown", "anomaly: {unusual_methods: {declared: {api: [GET, FETCH]}}}", "anomaly.unusual_methods.declared.api[1]"},
		{"declared lower case method", "anomaly: {unusual_methods: {declared: {api: [get]}}}", "anomaly.unusual_methods.declared.api[0]"},
		{"misspelt key", "anomaly: {probing: {treshold: 5}}", "treshold"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(validBase+"\n"+tc.section+"\n"), "yaml", "test")
			if tc.wantKey == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantKey) {
				t.Fatalf("error %v, want one naming %s", err, tc.wantKey)
			}
			var es Errors
			if errors.As(err, &es) && len(es) != 1 {
				t.Errorf("%d errors, want 1: %v", len(es), err)
			}
		})
	}
}
