package crs

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Mode says what a route does with a request CRS finds an attack in.
type Mode uint8

const (
	// ModeBlock: the caller answers 403 (Result.Blocked is set).
	ModeBlock Mode = iota + 1
	// ModeDetect: the caller only counts and logs; Result.Blocked is never
	// set, Result.Matched says what block mode would have done.
	ModeDetect
)

// ParseMode reads "block" or "detect".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "block":
		return ModeBlock, nil
	case "detect":
		return ModeDetect, nil
	}
	return 0, fmt.Errorf("parse mode: want block or detect, got %q", s)
}

// String returns "block" or "detect".
func (m Mode) String() string {
	switch m {
	case ModeBlock:
		return "block"
	case ModeDetect:
		return "detect"
	}
	return "unknown"
}

// Defaults of a route's CRS settings. They are CRS's own defaults except
// the body limit, which a route normally sets to its own.
const (
	DefaultParanoia         = 1
	DefaultAnomalyThreshold = 5 // one critical rule (5 points) blocks
	DefaultOnErrorStatus    = 403
	DefaultMaxBodyBytes     = 1 << 20
	// DefaultMaxArgs is how many query, path and body arguments (JSON
	// leaves included) a request may have. CRS inspects none past it, so
	// a request over it is an error (fail closed), never a pass.
	DefaultMaxArgs = 1000
	// MaxBodyBytesLimit is Coraza's hard request body limit (1 GiB) less
	// the one byte its limit check needs.
	MaxBodyBytesLimit = 1<<30 - 1
)

// Config is one route's CRS settings, as decoded from the route's
// `crs: {mode, paranoia, anomaly_threshold, exclude_rules, on_error}` plus
// the route's body limit. Zero fields take the defaults above.
type Config struct {
	// Mode is ModeBlock or ModeDetect; zero means ModeBlock.
	Mode Mode
	// Paranoia is CRS's paranoia level, 1 (fewest false positives) to 4.
	// It sets both the blocking and the detection paranoia level.
	Paranoia int
	// AnomalyThreshold is the inbound anomaly score at which CRS blocks
	// (critical rules add 5, error 4, warning 3, notice 2).
	AnomalyThreshold int
	// ExcludeRules are CRS detection rules removed for this route
	// (SecRuleRemoveById), on top of the shipped API exclusions. Ids
	// outside the detection files (setup 901, scoring 949) are refused.
	ExcludeRules []int
	// OnErrorStatus is what the caller answers when Inspect fails: 403 or
	// 500. The WAF fails closed; this only picks the status.
	OnErrorStatus int
	// MaxBodyBytes is the route's body limit. Coraza's body buffer is
	// sized to it so that a body up to it is inspected whole, in memory,
	// never truncated nor buffered in a temporary file; a longer body is
	// an error.
	MaxBodyBytes int
	// MaxArgs bounds the arguments Coraza collects (see DefaultMaxArgs).
	MaxArgs int
	// NoAPIExclusions turns off the shipped exclusions for JSON APIs
	// (APIExclusions). Only for routes that serve HTML forms.
	NoAPIExclusions bool

	// Test-only knobs: extra SecLang appended after CRS (to inject faults),
	// the load-time optimizations turned off (to measure them and to
	// compare verdicts: the msg/logdata rewrite, the gateway's @rx),
	// Coraza's SecRxPreFilter turned on (off by default: see directives),
	// and another operator for CRS's @rx (rxName, registered by the test).
	extra           string
	keepMessages    bool
	corazaRx        bool
	corazaPrefilter bool
	rxName          string
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Mode == 0 {
		c.Mode = ModeBlock
	}
	if c.Paranoia == 0 {
		c.Paranoia = DefaultParanoia
	}
	if c.AnomalyThreshold == 0 {
		c.AnomalyThreshold = DefaultAnomalyThreshold
	}
	if c.OnErrorStatus == 0 {
		c.OnErrorStatus = DefaultOnErrorStatus
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxArgs == 0 {
		c.MaxArgs = DefaultMaxArgs
	}
	return c
}

// Validate reports every problem in c (after defaults), with the key
// names of the route's crs block.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Mode != ModeBlock && c.Mode != ModeDetect {
		errs = append(errs, fmt.Errorf("mode: want block or detect, got %d", c.Mode))
	}
	if c.Paranoia < 1 || c.Paranoia > 4 {
		errs = append(errs, fmt.Errorf("paranoia: want 1 to 4, got %d", c.Paranoia))
	}
	if c.AnomalyThreshold < 1 || c.AnomalyThreshold > 10000 {
		errs = append(errs, fmt.Errorf("anomaly_threshold: want 1 to 10000, got %d", c.AnomalyThreshold))
	}
	for i, id := range c.ExcludeRules {
		if !isDetectionRule(id) {
			errs = append(errs, fmt.Errorf("exclude_rules[%d]: want the id of a CRS detection rule (911000-944999), got %d", i, id))
		}
	}
	if c.OnErrorStatus != 403 && c.OnErrorStatus != 500 {
		errs = append(errs, fmt.Errorf("on_error: want 403 or 500, got %d", c.OnErrorStatus))
	}
	if c.MaxBodyBytes < 0 || c.MaxBodyBytes > MaxBodyBytesLimit {
		errs = append(errs, fmt.Errorf("max_body_bytes: want 0 to %d, got %d", MaxBodyBytesLimit, c.MaxBodyBytes))
	}
	if c.MaxArgs < 0 {
		errs = append(errs, fmt.Errorf("max_args: must be >= 0, got %d", c.MaxArgs))
	}
	return errors.Join(errs...)
}

// isDetectionRule reports whether id is in one of CRS's request detection
// files. The others are CRS's setup (901), exceptions (905) and scoring
// (949): removing one would silently stop blocking.
func isDetectionRule(id int) bool {
	switch id / 1000 {
	case 911, 913, 920, 921, 922, 930, 931, 932, 933, 934, 941, 942, 943, 944:
		return true
	}
	return false
}

// engineKey is the part of a Config that changes the compiled rules. Routes
// whose keys are equal share one compiled engine; Mode and OnErrorStatus
// are applied per route on top of it.
type engineKey struct {
	paranoia, threshold, maxBody, maxArgs   int
	noAPIExclusions                         bool
	exclude                                 string // sorted ids, comma-separated
	extra                                   string // test-only directives
	keepMessages, corazaRx, corazaPrefilter bool
	rxName                                  string
}

func (c Config) key() engineKey {
	var b strings.Builder
	for i, id := range slices.Compact(slices.Sorted(slices.Values(c.ExcludeRules))) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(id))
	}
	return engineKey{
		paranoia: c.Paranoia, threshold: c.AnomalyThreshold,
		maxBody: c.MaxBodyBytes, maxArgs: c.MaxArgs,
		noAPIExclusions: c.NoAPIExclusions, exclude: b.String(), extra: c.extra,
		keepMessages: c.keepMessages, corazaRx: c.corazaRx, corazaPrefilter: c.corazaPrefilter, rxName: c.rxName,
	}
}
