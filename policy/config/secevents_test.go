package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestExampleSecurityEventsIsDefault: the example config documents the
// security_events defaults, and they are the code's.
func TestExampleSecurityEventsIsDefault(t *testing.T) {
	ex, err := Load("../../deploy/examples/gatewayd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	def, err := Parse([]byte(validBase), "yaml", "test")
	if err != nil {
		t.Fatal(err)
	}
	want := SecurityEvents{Path: "off", MaxSize: 100 << 20, MaxAge: 24 * time.Hour, MaxFiles: 10, Buffer: 8192,
		AggregateWindow: time.Second}
	if got := def.Config.SecurityEvents; got != want {
		t.Errorf("defaults %+v, want %+v", got, want)
	}
	if got := ex.Config.SecurityEvents; !reflect.DeepEqual(got, want) {
		t.Errorf("example security_events %+v differs from the defaults %+v", got, want)
	}
}

func TestSecurityEventsValidation(t *testing.T) {
	cases := []struct {
		name    string
		section string
		wantKey string // "" means valid
	}{
		{"stdout", "security_events: {path: stdout}", ""},
		{"file with limits", "security_events: {path: /var/log/edgeguard/events.jsonl, max_size: 4096, max_age: 1m, max_files: 1, buffer: 16, aggregate_window: 10ms}", ""},
		{"max_size too small", "security_events: {max_size: 100}", "security_events.max_size"},
		{"max_size negative", "security_events: {max_size: -1}", "security_events.max_size"},
		{"max_age too short", "security_events: {max_age: 1s}", "security_events.max_age"},
		{"max_files negative", "security_events: {max_files: -1}", "security_events.max_files"},
		{"buffer too small", "security_events: {buffer: 4}", "security_events.buffer"},
		{"buffer too large", "security_events: {buffer: 10000000}", "security_events.buffer"},
		{"window too long", "security_events: {aggregate_window: 2m}", "security_events.aggregate_window"},
		{"window negative", "security_events: {aggregate_window: -1s}", "security_events.aggregate_window"},
		{"misspelt key", "security_events: {max_sise: 4096}", "max_sise"},
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

// TestSecurityEventsPathRelative: a relative file path follows the config
// file, like access_log.path; stdout and off stay as they are.
func TestSecurityEventsPathRelative(t *testing.T) {
	dir := t.TempDir()
	for path, want := range map[string]string{
		"log/events.jsonl": filepath.Join(dir, "log", "events.jsonl"),
		"stdout":           "stdout",
		"off":              "off",
	} {
		f := filepath.Join(dir, "gw.yaml")
		if err := os.WriteFile(f, []byte(validBase+"\nsecurity_events: {path: "+path+"}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.Config.SecurityEvents.Path; got != want {
			t.Errorf("path %q resolved to %q, want %q", path, got, want)
		}
	}
}

// TestExampleTracingIsDefault: the example config documents the tracing
// defaults, and they are the code's.
func TestExampleTracingIsDefault(t *testing.T) {
	ex, err := Load("../../deploy/examples/gatewayd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	def, err := Parse([]byte(validBase), "yaml", "test")
	if err != nil {
		t.Fatal(err)
	}
	ratio := 0.01
	want := Tracing{SampleRatio: &ratio, ServiceName: "edgeguard", Queue: 4096, Batch: 512, Interval: time.Second,
		Timeout: 5 * time.Second}
	for name, got := range map[string]Tracing{"defaults": def.Config.Tracing, "example": ex.Config.Tracing} {
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: tracing %+v (ratio %v), want %+v", name, got, *got.SampleRatio, want)
		}
	}
}

func TestTracingValidation(t *testing.T) {
	cases := []struct {
		name    string
		section string
		wantKey string // "" means valid
	}{
		{"endpoint", "tracing: {otlp_endpoint: http://127.0.0.1:4318/v1/traces}", ""},
		{"ratio 0 kept", "tracing: {sample_ratio: 0}", ""},
		{"ratio 1", "tracing: {sample_ratio: 1}", ""},
		{"ratio over 1", "tracing: {sample_ratio: 1.5}", "tracing.sample_ratio"},
		{"ratio negative", "tracing: {sample_ratio: -0.1}", "tracing.sample_ratio"},
		{"endpoint not a URL", "tracing: {otlp_endpoint: collector:4318}", "tracing.otlp_endpoint"},
		{"endpoint grpc scheme", "tracing: {otlp_endpoint: grpc://collector:4317}", "tracing.otlp_endpoint"},
		{"endpoint with credentials", "tracing: {otlp_endpoint: https://u:p@collector/v1/traces}", "tracing.otlp_endpoint"},
		{"queue too small", "tracing: {queue: 4}", "tracing.queue"},
		{"batch over queue", "tracing: {queue: 64, batch: 128}", "tracing.batch"},
		{"interval negative", "tracing: {interval: -1s}", "tracing.interval"},
		{"timeout negative", "tracing: {timeout: -1s}", "tracing.timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Parse([]byte(validBase+"\n"+tc.section+"\n"), "yaml", "test")
			if tc.wantKey == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if tc.name == "ratio 0 kept" && *l.Config.Tracing.SampleRatio != 0 {
					t.Errorf("sample_ratio 0 became %v", *l.Config.Tracing.SampleRatio)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantKey) {
				t.Fatalf("error %v, want one naming %s", err, tc.wantKey)
			}
		})
	}
}
