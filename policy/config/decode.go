package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

var durationType = reflect.TypeOf(time.Duration(0))

// strictNumbers runs before viper's own decode hooks (string to duration,
// string to list). mapstructure would otherwise take a bare number as a
// duration in nanoseconds (request_head_timeout: 10 is 10ns: every request
// times out) and truncate a fraction or wrap an overflow into an int key.
func strictNumbers(c *mapstructure.DecoderConfig) {
	c.DecodeHook = mapstructure.ComposeDecodeHookFunc(checkNumber, c.DecodeHook)
}

var _ viper.DecoderConfigOption = strictNumbers

// outOfRange ends checkNumber's message for a number too large for its key;
// parse replaces the float before it with the number as written.
const outOfRange = " is out of range"

// checkNumber refuses a number without a unit for a time.Duration, and a
// number that is not an integer, or does not fit, for an integer. YAML
// gives a number over int64's range as a uint64, which mapstructure would
// wrap negative.
func checkNumber(from, to reflect.Type, data any) (any, error) {
	for to.Kind() == reflect.Pointer {
		to = to.Elem()
	}
	if to == durationType {
		if n, ok := number(data); ok {
			return nil, fmt.Errorf("%s has no unit; write %ss, 500ms, 1m", n, n)
		}
		return data, nil
	}
	var lo, hi float64 // the target's range, [lo, hi)
	switch to.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		lo, hi = -math.Ldexp(1, to.Bits()-1), math.Ldexp(1, to.Bits()-1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		lo, hi = 0, math.Ldexp(1, to.Bits())
	default:
		return data, nil
	}
	written, ok := number(data)
	if !ok {
		return data, nil
	}
	if fits, isInt := intFits(data, to); isInt {
		// Compared as integers: 2^63-1 as a float64 rounds up to 2^63.
		if !fits {
			return nil, fmt.Errorf("%s%s", written, outOfRange)
		}
		return data, nil
	}
	f, _ := toFloat(data)
	if f != math.Trunc(f) {
		return nil, fmt.Errorf("%s is not an integer", written)
	}
	if f >= hi || f < lo {
		return nil, fmt.Errorf("%s%s", written, outOfRange)
	}
	return data, nil
}

// intFits reports whether data is an integer of a Go integer kind, and if
// so whether it fits the integer kind to.
func intFits(data any, to reflect.Type) (fits, isInt bool) {
	v := reflect.ValueOf(data)
	signed := to.Kind() >= reflect.Int && to.Kind() <= reflect.Int64
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n := v.Int()
		if signed {
			return n == n<<(64-to.Bits())>>(64-to.Bits()), true
		}
		return n >= 0 && (to.Bits() == 64 || uint64(n) < uint64(1)<<to.Bits()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n := v.Uint()
		if signed {
			return n <= uint64(1)<<(to.Bits()-1)-1, true
		}
		return to.Bits() == 64 || n < uint64(1)<<to.Bits(), true
	}
	return false, false
}

// lenientNumbers is strictNumbers for the decode that runs after the strict
// one failed, so that the rest of the file is still validated: a number
// checkNumber refuses (its error is reported already) decodes rounded away
// from zero and held within the target's range, rather than dropping what holds it,
// whose absence would be reported as well ("unknown limit", "sets no
// window").
func lenientNumbers(c *mapstructure.DecoderConfig) {
	c.DecodeHook = mapstructure.ComposeDecodeHookFunc(func(from, to reflect.Type, data any) (any, error) {
		out, err := checkNumber(from, to, data)
		if err == nil {
			return out, nil
		}
		for to.Kind() == reflect.Pointer {
			to = to.Elem()
		}
		f, ok := toFloat(data)
		if !ok || to == durationType { // a bare number's nanoseconds would only mislead later checks
			return reflect.Zero(to).Interface(), nil
		}
		if f > 0 {
			f = math.Ceil(f) // 0.5 stays a window that is set
		} else {
			f = math.Floor(f)
		}
		switch to.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			top := int64(1)<<(to.Bits()-1) - 1
			switch {
			case f >= float64(top):
				return top, nil
			case f <= float64(-top-1):
				return -top - 1, nil
			}
			return int64(f), nil
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			top := uint64(1)<<(to.Bits()-1)<<1 - 1
			switch {
			case f <= 0:
				return uint64(0), nil
			case f >= float64(top):
				return top, nil
			}
			return uint64(f), nil
		}
		return reflect.Zero(to).Interface(), nil
	}, c.DecodeHook)
}

// toFloat is a number of any Go kind as a float64.
func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case uint, uint8, uint16, uint32, uint64, uintptr:
		return float64(reflect.ValueOf(n).Uint()), true
	case int, int8, int16, int32, int64:
		return float64(reflect.ValueOf(n).Int()), true
	}
	return 0, false
}

// number reports whether v is a number of any Go kind, and writes it.
func number(v any) (string, bool) {
	switch n := v.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(n), true
	case float32:
		return strconv.FormatFloat(float64(n), 'f', -1, 32), true
	case float64:
		return strconv.FormatFloat(n, 'f', -1, 64), true
	}
	return "", false
}
