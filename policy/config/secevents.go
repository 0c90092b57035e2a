package config

import "time"

// SecurityEvents configures the security event stream (dataplane/secevent):
// JSON lines separate from the access log.
type SecurityEvents struct {
	Path     string        `mapstructure:"path"`      // "stdout", "stderr", "off" or a file path
	MaxSize  int64         `mapstructure:"max_size"`  // bytes; a file is rotated before it grows past it
	MaxAge   time.Duration `mapstructure:"max_age"`   // a file is rotated once this old
	MaxFiles int           `mapstructure:"max_files"` // rotated files kept
	Buffer   int           `mapstructure:"buffer"`    // events queued; when full, events are dropped and counted
	// AggregateWindow is how long identical request events (type, client,
	// route, reason) are counted into one line.
	AggregateWindow time.Duration `mapstructure:"aggregate_window"`
}

// Security event defaults; deploy/examples/gatewayd.yaml documents them.
const (
	DefaultSecurityEventsPath     = "off"
	DefaultSecurityEventsMaxSize  = 100 << 20
	DefaultSecurityEventsMaxAge   = 24 * time.Hour
	DefaultSecurityEventsMaxFiles = 10
	DefaultSecurityEventsBuffer   = 8192
	DefaultSecurityEventsWindow   = time.Second
)

func (s *SecurityEvents) applyDefaults() {
	setString(&s.Path, DefaultSecurityEventsPath)
	if s.MaxSize == 0 {
		s.MaxSize = DefaultSecurityEventsMaxSize
	}
	setDuration(&s.MaxAge, DefaultSecurityEventsMaxAge)
	setInt(&s.MaxFiles, DefaultSecurityEventsMaxFiles)
	setInt(&s.Buffer, DefaultSecurityEventsBuffer)
	setDuration(&s.AggregateWindow, DefaultSecurityEventsWindow)
}

func (s *SecurityEvents) validate(v *validator) {
	if s.MaxSize < 4096 {
		v.add("security_events.max_size", "must be >= 4096 bytes, got %d", s.MaxSize)
	}
	if s.MaxAge < time.Minute {
		v.add("security_events.max_age", "must be >= 1m, got %s", s.MaxAge)
	}
	v.logPath("security_events.path", s.Path)
	v.between("security_events.max_files", s.MaxFiles, 1, 10000)
	v.between("security_events.buffer", s.Buffer, 16, 1<<20)
	if s.AggregateWindow < 10*time.Millisecond || s.AggregateWindow > time.Minute {
		v.add("security_events.aggregate_window", "must be 10ms-1m, got %s", s.AggregateWindow)
	}
}
