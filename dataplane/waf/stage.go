// Package waf is a route's attack-filtering stage. Tier 1 (waf/inject:
// libinjection's SQL injection and XSS detection over every value of the
// request) is cheap enough for every request; tier 2 (waf/crs: Coraza with
// the OWASP Core Rule Set) runs where a route asks for it. The stage runs
// after authentication, rate limiting and validation, so a request those
// refuse never costs an inspection.
//
// The package must never forward a request a blocking tier flagged, never
// pass a request because a tier failed (tier 2 fails closed), never put the
// matched value in a response, and never allocate per clean request in
// tier 1.
package waf

import (
	"fmt"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/dataplane/waf/crs"
	"github.com/edgeguard/edgeguard/dataplane/waf/inject"
)

// Mode is what a tier does with a detection.
type Mode uint8

const (
	// Off does not inspect.
	Off Mode = iota
	// Detect inspects, counts and logs, and lets the request pass.
	Detect
	// Block refuses a request with a detection (403).
	Block
)

// ParseMode maps "off", "detect" and "block" to a Mode.
func ParseMode(s string) (Mode, bool) {
	switch s {
	case "off":
		return Off, true
	case "detect":
		return Detect, true
	case "block":
		return Block, true
	}
	return Off, false
}

func (m Mode) String() string {
	return [...]string{"off", "detect", "block"}[m]
}

// Tier2 is the rule-engine tier (waf/crs) as this stage uses it.
type Tier2 interface {
	// Inspect evaluates the request; jsonBody says an earlier stage read
	// the body as JSON. An error means the engine failed or could not read
	// the request: the stage answers it with the configured status, never
	// as a pass.
	Inspect(ctx *fasthttp.RequestCtx, jsonBody bool) (Tier2Result, error)
}

// CRS adapts a waf/crs engine to Tier2.
func CRS(w *crs.WAF) Tier2 { return crsTier{w} }

type crsTier struct{ w *crs.WAF }

func (c crsTier) Inspect(ctx *fasthttp.RequestCtx, jsonBody bool) (Tier2Result, error) {
	res, err := c.w.Inspect(ctx, jsonBody)
	t := Tier2Result{Matched: res.Matched, RuleID: res.RuleID, Detail: string(res.Category)}
	t.nWhere = uint8(copy(t.where[:], res.Location()))
	return t, err
}

// Tier2Result is a tier-2 verdict.
type Tier2Result struct {
	Matched bool   // the request crossed the anomaly threshold or hit a blocking rule
	RuleID  int    // the rule that decided, for the access log
	Detail  string // a static category ("sqli", "rce", "protocol", ...)
	where   [crs.MaxLocation]byte
	nWhere  uint8
}

// Where is where RuleID matched ("query.q"; empty when unknown).
func (t *Tier2Result) Where() []byte { return t.where[:t.nWhere] }

// SetWhere records where RuleID matched, for engines other than CRS.
func (t *Tier2Result) SetWhere(w string) { t.nWhere = uint8(copy(t.where[:], w)) }

// Config is one route's WAF.
type Config struct {
	Route string
	Tier1 *inject.Detector
	Mode1 Mode
	Tier2 Tier2
	Mode2 Mode
	// OnError is the status a failed tier-2 inspection answers: 403 or 500.
	OnError int
	// BlockTruncated refuses a request tier 1 could not inspect whole (too
	// many values, an encoded body, a charset it cannot decode) in block
	// mode; else it passes, counted.
	BlockTruncated bool
}

// Stage filters attacks for one route. Immutable once built.
type Stage struct {
	cfg       Config
	t1        [inject.NumKinds][inject.NumSources]*metrics.Counter
	t2        *metrics.Counter
	t2Runs    *metrics.Counter
	t2Err     *metrics.Counter
	truncated *metrics.Counter
}

var _ pipeline.Stage = (*Stage)(nil)

// DetailTruncated is the detail of a request refused because tier 1 could
// not inspect it whole.
const DetailTruncated = "inspection_truncated"

// DetailUndecodable is the detail of a request refused because its body,
// or a part of it, declares a charset tier 1 cannot decode (UTF-7, EBCDIC,
// unknown labels), where ASCII syntax can hide in other bytes.
const DetailUndecodable = "inspection_undecodable"

// New builds the stage.
func New(cfg Config) (*Stage, error) {
	if cfg.Mode1 != Off && cfg.Tier1 == nil {
		return nil, fmt.Errorf("build waf stage %q: tier 1 on without a detector", cfg.Route)
	}
	if cfg.Mode2 != Off && cfg.Tier2 == nil {
		return nil, fmt.Errorf("build waf stage %q: tier 2 on without an engine", cfg.Route)
	}
	if cfg.OnError == 0 {
		cfg.OnError = fasthttp.StatusForbidden
	}
	if cfg.OnError != fasthttp.StatusForbidden && cfg.OnError != fasthttp.StatusInternalServerError {
		return nil, fmt.Errorf("build waf stage %q: on_error must be 403 or 500, got %d", cfg.Route, cfg.OnError)
	}
	s := &Stage{cfg: cfg}
	for k := inject.KindNone + 1; int(k) < inject.NumKinds; k++ {
		for src := inject.SourceNone + 1; int(src) < inject.NumSources; src++ {
			s.t1[k][src] = metrics.GetOrCreateCounter(fmt.Sprintf(
				`edgeguard_waf_detections_total{route=%q,tier="1",kind=%q,location_kind=%q,mode=%q}`,
				cfg.Route, k, src, cfg.Mode1))
		}
	}
	s.t2 = metrics.GetOrCreateCounter(fmt.Sprintf(`edgeguard_waf_detections_total{route=%q,tier="2",kind="crs",location_kind="request",mode=%q}`, cfg.Route, cfg.Mode2))
	s.t2Runs = metrics.GetOrCreateCounter(fmt.Sprintf(`edgeguard_waf_evaluations_total{route=%q,tier="2"}`, cfg.Route))
	s.t2Err = metrics.GetOrCreateCounter(fmt.Sprintf(`edgeguard_waf_errors_total{route=%q,tier="2"}`, cfg.Route))
	s.truncated = metrics.GetOrCreateCounter(fmt.Sprintf(`edgeguard_waf_truncated_total{route=%q}`, cfg.Route))
	return s, nil
}

// Name returns "waf".
func (s *Stage) Name() string { return "waf" }

// Handle implements pipeline.Stage.
func (s *Stage) Handle(ctx *fasthttp.RequestCtx, r *pipeline.Request) pipeline.Verdict {
	if s.cfg.Mode1 != Off {
		if v := s.tier1(ctx, r); v != pipeline.Continue {
			return v
		}
	}
	if s.cfg.Mode2 != Off {
		return s.tier2(ctx, r)
	}
	return pipeline.Continue
}

func (s *Stage) tier1(ctx *fasthttp.RequestCtx, r *pipeline.Request) pipeline.Verdict {
	sc := inject.AcquireScratch()
	defer inject.ReleaseScratch(sc)
	res := s.cfg.Tier1.Inspect(sc, &ctx.Request, r.JSON)
	if res.Kind == inject.KindNone {
		if res.Truncated {
			s.truncated.Inc()
			if s.cfg.Mode1 == Block && s.cfg.BlockTruncated {
				detail := DetailTruncated
				if res.Undecodable {
					detail = DetailUndecodable
				}
				return refuse(ctx, r, fasthttp.StatusForbidden, detail)
			}
		}
		return pipeline.Continue
	}
	if int(res.Kind) < inject.NumKinds && int(res.Source) < inject.NumSources {
		if c := s.t1[res.Kind][res.Source]; c != nil {
			c.Inc()
		}
	}
	// The location aliases the scratch: the access log gets a copy.
	r.Location = append(r.Location[:0], res.Location...)
	r.Detail = res.Kind.String() // a static name per kind
	if s.cfg.Mode1 != Block {
		return pipeline.Continue
	}
	return refuse(ctx, r, fasthttp.StatusForbidden, r.Detail)
}

func (s *Stage) tier2(ctx *fasthttp.RequestCtx, r *pipeline.Request) pipeline.Verdict {
	s.t2Runs.Inc()
	res, err := s.cfg.Tier2.Inspect(ctx, r.JSON != nil)
	if err != nil {
		s.t2Err.Inc()
		v := pipeline.Deny(ctx, r, s.cfg.OnError, pipeline.ReasonWAFError)
		r.Detail = "crs_error"
		r.Location = r.Location[:0] // a tier 1 finding in detect mode is not where the error is
		return v
	}
	if !res.Matched {
		return pipeline.Continue
	}
	s.t2.Inc()
	// The log line names one finding, detail and location together: tier
	// 1's, when it found one in detect mode and CRS only detects too.
	if s.cfg.Mode2 == Block || len(r.Location) == 0 {
		r.Location = appendRule(r.Location[:0], res.RuleID)
		if w := res.Where(); len(w) > 0 {
			r.Location = append(append(r.Location, ':'), w...)
		}
		r.Detail = res.Detail
	}
	if s.cfg.Mode2 != Block {
		return pipeline.Continue
	}
	return refuse(ctx, r, fasthttp.StatusForbidden, res.Detail)
}

func appendRule(b []byte, id int) []byte {
	b = append(b, "crs."...)
	return fmt.Appendf(b, "%d", id) // a detection: formatting once is fine
}

// refuse writes the generic 403: the body names the reason code only,
// never what matched or where.
func refuse(ctx *fasthttp.RequestCtx, r *pipeline.Request, status int, detail string) pipeline.Verdict {
	v := pipeline.Deny(ctx, r, status, pipeline.ReasonWAFBlocked)
	r.Detail = detail
	return v
}
