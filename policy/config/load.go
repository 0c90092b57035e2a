package config

import (
	"bytes"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"

	"github.com/spf13/viper"
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

// Load reads, decodes and validates the file at path.
func Load(path string) (*Loaded, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	format := strings.TrimPrefix(filepath.Ext(path), ".")
	if format == "yml" || format == "" {
		format = "yaml"
	}
	return Parse(data, format, path)
}

// LoadDefault decodes and validates the embedded default configuration.
func LoadDefault() (*Loaded, error) {
	return Parse(defaultYAML, "yaml", "embedded default")
}

// Parse decodes and validates data in the given viper format ("yaml",
// "json", "toml"), applying EDGEGUARD_* environment overrides. source names
// the input in errors.
func Parse(data []byte, format, source string) (*Loaded, error) {
	v := viper.New()
	v.SetConfigType(format)
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	bindScalarEnv(v, reflect.TypeOf(Config{}), "")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("parse config %s: %w", source, err)
	}
	cfg := &Config{}
	if err := v.UnmarshalExact(cfg); err != nil {
		return nil, fmt.Errorf("decode config %s:\n%w", source, decodeErrors(err))
	}
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config %s:\n%w", source, err)
	}
	sum := digest(data, cfg)
	return &Loaded{Config: cfg, Source: source, Digest: hex.EncodeToString(sum[:])}, nil
}

// bindScalarEnv registers every key that is not inside a list, so that an
// environment variable can set it even when the file does not mention it
// (viper only consults the environment for keys it knows).
func bindScalarEnv(v *viper.Viper, t reflect.Type, prefix string) {
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
			if f.Type.Kind() != reflect.Pointer { // optional sections stay off unless the file has them
				bindScalarEnv(v, ft, key+".")
			}
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			// lists of objects are file-only
		case ft.Kind() == reflect.Map:
		default:
			_ = v.BindEnv(key)
		}
	}
}

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
		if keys, ok := strings.CutPrefix(msg, "has invalid keys: "); ok {
			for _, k := range strings.Split(keys, ", ") {
				out = append(out, FieldError{Key: joinKey(key, k), Msg: "unknown key"})
			}
			continue
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
