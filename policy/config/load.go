package config

import (
	"bytes"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/pelletier/go-toml/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// EnvPrefix prefixes environment overrides: EDGEGUARD_MANAGEMENT_ADDRESS
// overrides management.address.
const EnvPrefix = "EDGEGUARD"

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the embedded default configuration: loopback only,
// served by the built-in demo upstream.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// Loaded is a validated configuration and where it came from.
type Loaded struct {
	Config *Config
	Source string // file path, or "embedded default"
	Digest string // SHA-256 of the file bytes and of every file they reference, to detect no-op reloads
}

// Formats are the file formats Load reads, by file extension (a file
// without an extension is YAML).
var Formats = map[string]string{"": "yaml", ".yaml": "yaml", ".yml": "yaml", ".json": "json", ".toml": "toml"}

// Load reads, decodes and validates the file at path. Relative paths in the
// file (keys ending in _file, access_log.path) are relative to the file's
// directory, not to the daemon's working directory.
func Load(path string) (*Loaded, error) {
	ext := filepath.Ext(path)
	format, ok := Formats[strings.ToLower(ext)]
	if !ok {
		return nil, fmt.Errorf("read config %s: unsupported file extension %q: the extension names the format; use .yaml (or .yml), .json or .toml", path, ext)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return parse(data, format, path, dir)
}

// LoadDefault decodes and validates the embedded default configuration.
func LoadDefault() (*Loaded, error) {
	return Parse(defaultYAML, "yaml", "embedded default")
}

// Parse decodes and validates data in the given viper format ("yaml",
// "json", "toml"), applying EDGEGUARD_* environment overrides. source names
// the input in errors. Relative paths stay relative to the working directory.
func Parse(data []byte, format, source string) (*Loaded, error) {
	return parse(data, format, source, "")
}

// parse is Parse with relative paths resolved against dir ("": not at all).
// It reports every problem at once: unknown keys (whatever their value,
// null and {} included), values of the wrong type, and what validation of
// the rest finds.
func parse(data []byte, format, source, dir string) (*Loaded, error) {
	v := viper.New()
	v.SetConfigType(format)
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	bindScalarEnv(v, reflect.TypeOf(Config{}), "")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("parse config %s: %w", source, err)
	}
	var written map[string]string
	var dups Errors
	if format == "toml" {
		dups = tomlCaseVariants(data)
	} else {
		written, dups = scanNodes(data)
	}

	var raw map[string]any
	if format == "toml" {
		// Not viper's AllSettings: it drops empty tables, which
		// keepEmptyEntries must see.
		if err := toml.Unmarshal(data, &raw); err != nil {
			return nil, fmt.Errorf("parse config %s: %w", source, err)
		}
	} else if err := yaml.Unmarshal(data, &raw); err != nil { // JSON is YAML
		return nil, fmt.Errorf("parse config %s: %w", source, err)
	}
	// Keys that differ only in case are reported with everything else the
	// file gets wrong, in one run.
	errs := dups
	unknownKeys(reflect.TypeOf(Config{}), raw, "", &errs)
	cfg := &Config{}
	if err := v.UnmarshalExact(cfg, strictNumbers); err != nil {
		// Decode what can be decoded, so that validation reports the
		// rest's problems in the same run.
		cfg = &Config{}
		_ = v.Unmarshal(cfg, lenientNumbers)
		errs = mergeErrors(errs, decodeErrors(err))
		for i, e := range errs {
			if name, val, ok := envOverride(e.Key); ok && e.Msg != "unknown key" {
				// The value came from the environment, not the file.
				errs[i].Msg = fmt.Sprintf("%s (got %q from %s)", e.Msg, val, name)
				continue
			}
			s, ok := writtenAs(written, e.Key)
			switch {
			case !ok:
			case strings.HasSuffix(e.Msg, outOfRange):
				errs[i].Msg = s + outOfRange
			case e.Msg != "unknown key" && !strings.Contains(e.Msg, s):
				// The decoders' messages ("time: unknown unit", "cannot
				// parse value as 'int'") do not say what was written.
				errs[i].Msg = fmt.Sprintf("%s (got %q)", e.Msg, s)
			}
		}
	}
	keepEmptyEntries(reflect.ValueOf(cfg), raw)
	if dir != "" {
		cfg.resolvePaths(dir)
	}
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		for _, fe := range err.(Errors) {
			if !covered(errs, fe.Key) { // a key that did not decode is reported once
				errs = append(errs, fe)
			}
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("invalid config %s:\n%w", source, errs)
	}
	cfg.envWarnings = unknownEnv(os.Environ())
	sum := digest(data, cfg)
	return &Loaded{Config: cfg, Source: source, Digest: hex.EncodeToString(sum[:])}, nil
}

// envOverride returns the EDGEGUARD_* variable that overrides key, and its
// value, when one is set.
func envOverride(key string) (name, val string, ok bool) {
	name = EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
	val, ok = os.LookupEnv(name)
	return name, val, ok
}

// processEnv are the EDGEGUARD_* variables that are not configuration
// overrides: the programs' own (the upgrade hand-over, gatewayctl's token
// and settings file) and the tests'.
var processEnv = []string{"HANDOVER_FD", "TOKEN", "CTL_CONFIG", "CONFIG", "REQUIRE_PRIVILEGED"}

// unknownEnv warns of EDGEGUARD_* variables in env that name no scalar
// configuration key: viper ignores them, so a misspelt override
// (EDGEGUARD_MANAGMENT_ADDRESS) would silently not apply.
func unknownEnv(env []string) []string {
	known := map[string]bool{}
	scalarKeys(reflect.TypeOf(Config{}), "", func(key string) { known[strings.ToUpper(strings.ReplaceAll(key, ".", "_"))] = true })
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		rest, ok := strings.CutPrefix(name, EnvPrefix+"_")
		if !ok || known[rest] || slices.Contains(processEnv, rest) || strings.Contains(rest, "TEST") || strings.HasPrefix(rest, "BENCH") || strings.HasSuffix(rest, "_DATA") {
			continue
		}
		out = append(out, fmt.Sprintf("environment: %s names no configuration key, so it changes nothing (an override is %s_ and a scalar key's path in upper case with '_' for '.', as %s_MANAGEMENT_ADDRESS)", name, EnvPrefix, EnvPrefix))
	}
	slices.Sort(out)
	return out
}

// unknownKeys reports every key of raw that t (mapstructure tags) does not
// have, descending into sections, lists of sections and maps of sections.
func unknownKeys(t reflect.Type, raw map[string]any, prefix string, errs *Errors) {
	fields := map[string]reflect.Type{}
	collectFields(t, fields)
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		key := joinKey(prefix, k)
		ft, ok := fields[strings.ToLower(k)]
		if !ok {
			*errs = append(*errs, FieldError{Key: key, Msg: "unknown key"})
			continue
		}
		checkValue(ft, raw[k], key, errs)
	}
}

// checkValue descends into the value of one known key.
func checkValue(ft reflect.Type, val any, key string, errs *Errors) {
	for ft.Kind() == reflect.Pointer {
		ft = ft.Elem()
	}
	switch {
	case ft.Kind() == reflect.Struct && ft != reflect.TypeOf(time.Duration(0)):
		if m, ok := asMap(val); ok {
			unknownKeys(ft, m, key, errs)
		}
	case ft.Kind() == reflect.Slice:
		if l, ok := val.([]any); ok {
			for i, e := range l {
				checkValue(ft.Elem(), e, fmt.Sprintf("%s[%d]", key, i), errs)
			}
		}
	case ft.Kind() == reflect.Map:
		if m, ok := asMap(val); ok {
			for k, e := range m {
				checkValue(ft.Elem(), e, joinKey(key, k), errs)
			}
		}
	}
}

func asMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, e := range m {
			out[fmt.Sprint(k)] = e
		}
		return out, true
	}
	return nil, false
}

// collectFields maps the lower-cased mapstructure name of every field of t
// (squashed embedded structs included) to its type.
func collectFields(t reflect.Type, out map[string]reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if strings.Contains(opts, "squash") {
			collectFields(f.Type, out)
			continue
		}
		if name != "" && name != "-" {
			out[strings.ToLower(name)] = f.Type
		}
	}
}

// mergeErrors appends the errors of more that errs does not already hold.
func mergeErrors(errs Errors, more error) Errors {
	var list Errors
	if !errors.As(more, &list) {
		return append(errs, FieldError{Key: "(file)", Msg: more.Error()})
	}
	for _, e := range list {
		if !slices.Contains(errs, e) {
			errs = append(errs, e)
		}
	}
	return errs
}

// covered reports whether errs already names key or a key above it.
func covered(errs Errors, key string) bool {
	key = mapKeyDots(key)
	for _, e := range errs {
		ek := mapKeyDots(e.Key)
		if key == ek || strings.HasPrefix(key, ek+".") || strings.HasPrefix(key, ek+"[") {
			return true
		}
	}
	return false
}

// keepEmptyEntries adds to the maps of sections in v the entries of raw
// that viper dropped: it forgets a key whose value is an empty map
// (tiers: {gold: {}}), which validation must see, and refuse, like any
// other entry. Viper lower-cases map keys; so does this.
func keepEmptyEntries(v reflect.Value, raw any) {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		m, ok := asMap(raw)
		if !ok {
			return
		}
		lower := make(map[string]any, len(m))
		for k, e := range m {
			lower[strings.ToLower(k)] = e
		}
		keepEmptyFields(v, lower)
	case reflect.Map:
		kt, et := v.Type().Key(), v.Type().Elem()
		m, ok := asMap(raw)
		if !ok || kt.Kind() != reflect.String || et.Kind() != reflect.Struct || !v.CanSet() && v.IsNil() {
			return
		}
		for k, e := range m {
			key := reflect.ValueOf(strings.ToLower(k)).Convert(kt)
			entry := reflect.New(et).Elem()
			if cur := v.MapIndex(key); cur.IsValid() {
				entry.Set(cur)
				keepEmptyEntries(entry, e)
			} else if em, ok := asMap(e); e != nil && (!ok || len(em) > 0) {
				continue // not dropped for being empty: it failed to decode, and that is reported
			}
			if v.IsNil() {
				v.Set(reflect.MakeMap(v.Type()))
			}
			v.SetMapIndex(key, entry)
		}
	case reflect.Slice:
		l, ok := raw.([]any)
		if !ok {
			return
		}
		for i := 0; i < v.Len() && i < len(l); i++ {
			keepEmptyEntries(v.Index(i), l[i])
		}
	}
}

// keepEmptyFields is keepEmptyEntries over the fields of struct v, whose
// keys are in raw (lower case); squashed structs share their parent's keys.
func keepEmptyFields(v reflect.Value, raw map[string]any) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		switch {
		case strings.Contains(opts, "squash"):
			keepEmptyFields(v.Field(i), raw)
		case name != "" && name != "-" && f.IsExported():
			if e, ok := raw[strings.ToLower(name)]; ok {
				keepEmptyEntries(v.Field(i), e)
			}
		}
	}
}

// mapKeyDots writes the map keys of a key path the way validation does
// (limits.api) where the decoder wrote them in brackets (limits[api]);
// list indices stay in brackets.
func mapKeyDots(key string) string {
	return mapKeyBracket.ReplaceAllString(key, ".$1")
}

var mapKeyBracket = regexp.MustCompile(`\[([^\]]*[^\]0-9][^\]]*)\]`) // a key with a non-digit: not an index

// bindScalarEnv registers every key that is not inside a list, so that an
// environment variable can set it even when the file does not mention it
// (viper only consults the environment for keys it knows).
func bindScalarEnv(v *viper.Viper, t reflect.Type, prefix string) {
	scalarKeys(t, prefix, func(key string) { _ = v.BindEnv(key) })
}

// scalarKeys calls each with the path of every scalar key of t (what an
// environment variable may override): not sections, lists of sections,
// maps, or optional (pointer) sections, which stay off unless the file
// has them.
func scalarKeys(t reflect.Type, prefix string, each func(key string)) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := f.Tag.Get("mapstructure")
		if name == "" || name == "-" {
			continue
		}
		key := prefix + name
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Struct && ft.String() != "time.Duration":
			if f.Type.Kind() != reflect.Pointer {
				scalarKeys(ft, key+".", each)
			}
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct, ft.Kind() == reflect.Map:
			// lists of objects and maps are file-only
		default:
			each(key)
		}
	}
}

var topLevelName = reflect.TypeOf(Config{}).String()

var decodeLine = regexp.MustCompile(`^'([^']*)' (.*)$`)

// decodeErrors rewrites mapstructure's messages into the same "key: problem"
// form as validation errors, one per unknown or mistyped key.
func decodeErrors(err error) error {
	var out Errors
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(line, "* "))
		if line == "" || strings.HasPrefix(line, "decoding failed") {
			continue
		}
		m := decodeLine.FindStringSubmatch(line)
		if m == nil {
			out = append(out, FieldError{Key: "(file)", Msg: line})
			continue
		}
		key, msg := m[1], m[2]
		// mapstructure names the top level by its type: the unknown key
		// "bogus" is "config.Config.bogus" there, and so was reported twice.
		key = strings.TrimPrefix(strings.TrimPrefix(key, topLevelName), ".")
		if keys, ok := strings.CutPrefix(msg, "has invalid keys: "); ok {
			for _, k := range strings.Split(keys, ", ") {
				out = append(out, FieldError{Key: joinKey(key, k), Msg: "unknown key"})
			}
			continue
		}
		if key == "" {
			key = "(file)"
		}
		out = append(out, FieldError{Key: key, Msg: msg})
	}
	if len(out) == 0 {
		return err
	}
	return out
}

func joinKey(parent, child string) string {
	if parent == "" {
		return child
	}
	return parent + "." + child
}
