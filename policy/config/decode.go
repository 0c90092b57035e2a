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
// number that is not an integer, or does not fit, for an integer.
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
	switch to.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		f, ok := data.(float64)
		if !ok {
			if f32, ok32 := data.(float32); ok32 {
				f, ok = float64(f32), true
			}
		}
		if !ok {
			return data, nil
		}
		if f != math.Trunc(f) {
			return nil, fmt.Errorf("%s is not an integer", strconv.FormatFloat(f, 'f', -1, 64))
		}
		bits := to.Bits()
		if f >= math.Ldexp(1, bits-1) || f < -math.Ldexp(1, bits-1) {
			return nil, fmt.Errorf("%s%s", strconv.FormatFloat(f, 'f', -1, 64), outOfRange)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		f, ok := data.(float64)
		if !ok {
			return data, nil
		}
		if f != math.Trunc(f) {
			return nil, fmt.Errorf("%s is not an integer", strconv.FormatFloat(f, 'f', -1, 64))
		}
		if f < 0 || f >= math.Ldexp(1, to.Bits()) {
			return nil, fmt.Errorf("%s%s", strconv.FormatFloat(f, 'f', -1, 64), outOfRange)
		}
	}
	return data, nil
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
