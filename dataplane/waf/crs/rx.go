package crs

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/corazawaf/coraza/v3/experimental/plugins"
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
	"rsc.io/binaryregexp"
	bsyntax "rsc.io/binaryregexp/syntax"

	"github.com/edgeguard/edgeguard/dataplane/waf/rxfilter"
)

// rxOperator is the gateway's @rx: the same matching as Coraza's (the
// same (?sm) wrapping, the same byte-regexp fallback, the same captures),
// with a sound pre-filter computed by package rxfilter from the regular
// expression at load: when an input lacks the literals every match must
// contain, the regular expression does not run. rulesFS renames CRS's @rx
// to it. Coraza's own SecRxPreFilter stays on for the rules that are not
// renamed.
const rxOperator = "edgeguardRx"

// Registered once, before main, so no WAF compiles while the registry
// changes.
func init() { plugins.RegisterOperator(rxOperator, newRx) }

// rx is a compiled @rx: a regexp, or a byte regexp (bin). filter is nil
// when the regular expression may match any input.
type rx struct {
	re     *regexp.Regexp
	bin    *binaryregexp.Regexp
	filter *rxfilter.Filter
}

var _ plugintypes.Operator = (*rx)(nil)

func newRx(o plugintypes.OperatorOptions) (plugintypes.Operator, error) {
	expr := rxFlags + o.Arguments
	v, err := memoize(o.Memoizer, "edgeguard-rx:"+expr, func() (any, error) {
		if matchesArbitraryBytes(expr) {
			// As Coraza: a byte regexp, compiled without the flags.
			re, err := binaryregexp.Compile(o.Arguments)
			if err != nil {
				return nil, fmt.Errorf("compile @rx %q: %w", o.Arguments, err)
			}
			f, err := rxfilter.CompileBytes(o.Arguments, bsyntax.Perl)
			if err != nil {
				return nil, fmt.Errorf("compile @rx %q: %w", o.Arguments, err)
			}
			return &rx{bin: re, filter: f}, nil
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, fmt.Errorf("compile @rx %q: %w", o.Arguments, err)
		}
		f, err := rxfilter.Compile(expr, syntax.Perl)
		if err != nil {
			return nil, fmt.Errorf("compile @rx %q: %w", o.Arguments, err)
		}
		return &rx{re: re, filter: f}, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*rx), nil
}

func memoize(m plugintypes.Memoizer, key string, fn func() (any, error)) (any, error) {
	if m == nil {
		return fn()
	}
	return m.Do(key, fn)
}

// Evaluate matches value as Coraza's @rx does. A rule that captures gets
// the same submatches; the cheaper MatchString runs first, since nearly
// every input does not match.
func (o *rx) Evaluate(tx plugintypes.TransactionState, value string) bool {
	if o.filter != nil && !o.filter.MayMatch(value) {
		return false
	}
	if o.bin != nil {
		return o.evaluateBinary(tx, value)
	}
	if !o.re.MatchString(value) {
		return false
	}
	if tx.Capturing() {
		m := o.re.FindStringSubmatchIndex(value)
		for i := 0; i < len(m)/2 && i < 9; i++ {
			if m[2*i] >= 0 {
				tx.CaptureField(i, value[m[2*i]:m[2*i+1]])
			} else {
				tx.CaptureField(i, "")
			}
		}
	}
	return true
}

func (o *rx) evaluateBinary(tx plugintypes.TransactionState, value string) bool {
	if !o.bin.MatchString(value) {
		return false
	}
	if tx.Capturing() {
		for i, c := range o.bin.FindStringSubmatch(value) {
			if i == 9 {
				break
			}
			tx.CaptureField(i, c)
		}
	}
	return true
}

// matchesArbitraryBytes is Coraza's test (internal/operators/rx.go) for a
// regular expression that must match bytes rather than UTF-8: its \xNN
// escapes decoded, it is not valid UTF-8.
func matchesArbitraryBytes(expr string) bool {
	decoded := make([]byte, 0, len(expr))
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		if c != '\\' {
			decoded = append(decoded, c)
			continue
		}
		if i+3 >= len(expr) {
			decoded = append(decoded, expr[i:]...)
			break
		}
		if expr[i+1] != 'x' {
			decoded = append(decoded, expr[i])
			continue
		}
		sub := expr[i:]
		advance := 3
		if len(sub) >= 6 && sub[2] == '{' {
			if end := strings.IndexByte(sub, '}'); end != -1 {
				sub = `\x` + sub[3:end]
				advance = end
			}
		}
		v, mb, _, err := strconv.UnquoteChar(sub, 0)
		if err != nil || mb {
			decoded = append(decoded, expr[i])
			continue
		}
		decoded = append(decoded, byte(v))
		i += advance
	}
	return !utf8.Valid(decoded)
}
