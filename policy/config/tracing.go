package config

import (
	"net/url"
	"time"
)

// Tracing configures the export of the gateway's spans over OTLP/HTTP
// (dataplane/tracing). Propagation of W3C trace context is always on.
type Tracing struct {
	// OTLPEndpoint is the collector's OTLP/HTTP traces URL
	// (http://collector:4318/v1/traces); empty: no export.
	OTLPEndpoint string `mapstructure:"otlp_endpoint"`
	// SampleRatio is the share of new traces the gateway samples (and marks
	// sampled for its upstreams). Traces whose caller sampled them are
	// exported too, and every 5xx. A pointer: 0 is a valid ratio.
	SampleRatio *float64      `mapstructure:"sample_ratio"`
	ServiceName string        `mapstructure:"service_name"`
	Queue       int           `mapstructure:"queue"`    // spans waiting for export; when full, dropped and counted
	Batch       int           `mapstructure:"batch"`    // spans per export request
	Interval    time.Duration `mapstructure:"interval"` // longest wait before a partial batch is sent
	Timeout     time.Duration `mapstructure:"timeout"`  // of one export request
}

// Tracing defaults; deploy/examples/gatewayd.yaml documents them.
const (
	DefaultTraceSampleRatio = 0.01
	DefaultTraceServiceName = "edgeguard"
	DefaultTraceQueue       = 4096
	DefaultTraceBatch       = 512
	DefaultTraceInterval    = time.Second
	DefaultTraceTimeout     = 5 * time.Second
)

func (t *Tracing) applyDefaults() {
	if t.SampleRatio == nil {
		r := DefaultTraceSampleRatio
		t.SampleRatio = &r
	}
	setString(&t.ServiceName, DefaultTraceServiceName)
	setInt(&t.Queue, DefaultTraceQueue)
	setInt(&t.Batch, DefaultTraceBatch)
	setDuration(&t.Interval, DefaultTraceInterval)
	setDuration(&t.Timeout, DefaultTraceTimeout)
}

func (t *Tracing) validate(v *validator) {
	if e := t.OTLPEndpoint; e != "" {
		u, err := url.Parse(e)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
			v.add("tracing.otlp_endpoint", "must be an http or https URL, got %q", e)
		case u.User != nil:
			v.add("tracing.otlp_endpoint", "must not carry credentials: %q", e)
		}
	}
	if r := *t.SampleRatio; !(r >= 0 && r <= 1) {
		v.add("tracing.sample_ratio", "must be 0-1, got %v", r)
	}
	v.between("tracing.queue", t.Queue, 16, 1<<20)
	v.between("tracing.batch", t.Batch, 1, 1<<16)
	if t.Batch > t.Queue {
		v.add("tracing.batch", "must be <= tracing.queue (%d), got %d", t.Queue, t.Batch)
	}
	v.positive("tracing.interval", t.Interval)
	v.positive("tracing.timeout", t.Timeout)
}
