package crs

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/experimental"
	"github.com/corazawaf/coraza/v3/types"
)

// Errors Inspect returns. Every one means the request was not fully
// inspected: the caller must refuse it (Config.OnErrorStatus), never pass
// it. All but ErrBody and ErrBodyTooLarge, ErrBodyEncoded and
// ErrTooManyArgs (the request's fault) wrap ErrInternal.
var (
	// ErrInternal is Coraza failing: an error from a transaction, a panic
	// (recovered), or a transaction that could not be closed. It is only
	// returned wrapped, with what failed.
	ErrInternal = errors.New("internal WAF error")
	// ErrBody is a body its body processor (JSON, XML, multipart,
	// URL-encoded) refused, so CRS could not see its values.
	ErrBody = errors.New("inspect request: body processor refused the body")
	// ErrBodyTooLarge is a body over Config.MaxBodyBytes (the route's
	// limit should have refused it before).
	ErrBodyTooLarge = errors.New("inspect request: body over the WAF's limit")
	// ErrBodyEncoded is a body with a Content-Encoding: CRS would inspect
	// the compressed bytes, so the request is refused instead.
	ErrBodyEncoded = errors.New("inspect request: body has a content encoding")
	// ErrTooManyArgs is a request with more than Config.MaxArgs arguments:
	// Coraza drops the rest uninspected.
	ErrTooManyArgs = errors.New("inspect request: more arguments than the WAF inspects")

	errTxState = fmt.Errorf("inspect request: transaction has no state: %w", ErrInternal)
)

// panicError is a panic recovered inside Coraza.
type panicError struct{ value any }

func (e *panicError) Error() string {
	return fmt.Sprintf("inspect request: coraza panicked: %v", e.value)
}
func (e *panicError) Unwrap() error { return ErrInternal }

// WAF is one route's CRS: a compiled engine (shared between routes with
// equal settings) plus the route's mode and error status. It is immutable
// and safe for concurrent use; each Inspect runs its own transaction.
type WAF struct {
	eng     *engine
	mode    Mode
	onError int
	closed  atomic.Bool
}

// engine is compiled CRS for one engineKey.
type engine struct {
	waf      coraza.WAF
	key      engineKey
	maxBody  int
	rules    int
	refs     int // guarded by owner.mu; unused when owner is nil
	owner    *Engines
	released bool
}

// New compiles CRS for one route, unshared. Compiling takes hundreds of
// milliseconds and several MB: routes should get their WAF from an
// Engines, which compiles each distinct setting once.
func New(c Config) (*WAF, error) {
	c = c.withDefaults()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("compile crs: %w", err)
	}
	eng, err := compile(c)
	if err != nil {
		return nil, err
	}
	return &WAF{eng: eng, mode: c.Mode, onError: c.OnErrorStatus}, nil
}

// Engines compiles CRS once per distinct engine settings (paranoia,
// threshold, exclusions, body and argument limits) and shares the result
// between the routes that use them. Keep one Engines across policy
// reloads: a reload whose routes keep their settings compiles nothing.
type Engines struct {
	mu sync.Mutex
	m  map[engineKey]*engine
}

// NewEngines returns an empty set of engines.
func NewEngines() *Engines { return &Engines{m: map[engineKey]*engine{}} }

// WAF returns a route's WAF, compiling its engine unless a live WAF
// already uses the same settings. The WAF holds its engine until Close.
func (e *Engines) WAF(c Config) (*WAF, error) {
	c = c.withDefaults()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("compile crs: %w", err)
	}
	k := c.key()
	e.mu.Lock()
	defer e.mu.Unlock()
	eng := e.m[k]
	if eng == nil {
		var err error
		if eng, err = compile(c); err != nil {
			return nil, err
		}
		eng.owner = e
		e.m[k] = eng
	}
	eng.refs++
	return &WAF{eng: eng, mode: c.Mode, onError: c.OnErrorStatus}, nil
}

// Len is the number of compiled engines held.
func (e *Engines) Len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.m)
}

// compile builds the engine for c (defaults applied, validated).
func compile(c Config) (*engine, error) {
	ids := map[int]bool{}
	root := rulesFS{FS: coreruleset.FS, keepMessages: c.keepMessages, rx: rxOperator}
	if c.corazaRx {
		root.rx = ""
	}
	if c.rxName != "" {
		root.rx = c.rxName
	}
	cfg := coraza.NewWAFConfig().WithRootFS(root).WithDirectives(directives(c, c.corazaPrefilter))
	cfg = experimental.WAFConfigWithRuleObserver(cfg, func(r types.RuleMetadata) { ids[r.ID()] = true })
	w, err := coraza.NewWAF(cfg)
	if err != nil {
		return nil, fmt.Errorf("compile crs: %w", err)
	}
	var errs []error
	for i, id := range c.ExcludeRules {
		if !ids[id] {
			errs = append(errs, fmt.Errorf("exclude_rules[%d]: no CRS request rule has id %d", i, id))
		}
	}
	if len(errs) > 0 {
		closeWAF(w)
		return nil, fmt.Errorf("compile crs: %w", errors.Join(errs...))
	}
	n := len(ids)
	if wr, ok := w.(experimental.WAFWithRules); ok {
		n = wr.RulesCount()
	}
	return &engine{waf: w, key: c.key(), maxBody: c.MaxBodyBytes, rules: n}, nil
}

func closeWAF(w coraza.WAF) {
	if c, ok := w.(experimental.WAFCloser); ok {
		_ = c.Close() // only releases memoized regexps; never fails
	}
}

// Close releases the WAF's engine: an unshared one at once, a shared one
// when the last WAF using it closes. Requests still running finish
// normally; Inspect after Close still works but should not happen.
func (w *WAF) Close() error {
	if w.closed.Swap(true) {
		return nil
	}
	eng := w.eng
	if eng.owner == nil {
		closeWAF(eng.waf)
		return nil
	}
	o := eng.owner
	o.mu.Lock()
	defer o.mu.Unlock()
	eng.refs--
	if eng.refs == 0 && !eng.released {
		eng.released = true
		delete(o.m, eng.key)
		closeWAF(eng.waf)
	}
	return nil
}

// Mode is the route's mode.
func (w *WAF) Mode() Mode { return w.mode }

// OnErrorStatus is the status the caller answers when Inspect fails.
func (w *WAF) OnErrorStatus() int { return w.onError }

// RuleCount is the number of rules the engine loaded (CRS request rules, the
// gateway's own setup rules and the body processor selectors).
func (w *WAF) RuleCount() int { return w.eng.rules }
