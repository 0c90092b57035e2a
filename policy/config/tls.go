package config

import (
	"errors"
	"strings"
)

// ListenerTLS turns on TLS for a data listener, and optionally client
// certificates (mTLS) verified against client_ca_file.
type ListenerTLS struct {
	CertFile     string `mapstructure:"cert_file"`
	KeyFile      string `mapstructure:"key_file"`
	ClientCAFile string `mapstructure:"client_ca_file"`
	// ClientAuth is none (no client certificate asked), request (asked and
	// verified when sent) or require (a verified certificate is needed to
	// connect).
	ClientAuth string `mapstructure:"client_auth"`
	MinVersion string `mapstructure:"min_version"` // "1.2" or "1.3"
}

// Listener TLS values and defaults.
const (
	ClientAuthNone       = "none"
	ClientAuthRequest    = "request"
	ClientAuthRequire    = "require"
	DefaultClientAuth    = ClientAuthNone
	DefaultTLSMinVersion = "1.2"
)

func (t *ListenerTLS) applyDefaults() {
	setString(&t.ClientAuth, DefaultClientAuth)
	setString(&t.MinVersion, DefaultTLSMinVersion)
}

// validate checks one listener's TLS section; key is e.g. "listeners[0].tls".
func (t *ListenerTLS) validate(v *validator, key string) {
	for _, f := range []struct{ name, path string }{{"cert_file", t.CertFile}, {"key_file", t.KeyFile}} {
		if !strings.HasPrefix(f.path, "/") {
			v.add(key+"."+f.name, "required, an absolute path, got %q", f.path)
		}
	}
	switch t.ClientAuth {
	case ClientAuthNone:
		if t.ClientCAFile != "" {
			v.add(key+".client_ca_file", "set client_auth to request or require to use it")
		}
	case ClientAuthRequest, ClientAuthRequire:
		if !strings.HasPrefix(t.ClientCAFile, "/") {
			v.add(key+".client_ca_file", "required with client_auth %s, an absolute path, got %q", t.ClientAuth, t.ClientCAFile)
		}
	default:
		v.add(key+".client_auth", "must be none, request or require, got %q", t.ClientAuth)
	}
	if t.MinVersion != "1.2" && t.MinVersion != "1.3" {
		v.add(key+".min_version", "must be \"1.2\" or \"1.3\", got %q", t.MinVersion)
	}
}

// ErrNoClientCertListener means a route accepts client certificates but no
// listener asks for them.
var ErrNoClientCertListener = errors.New("no listener has tls.client_auth request or require")
