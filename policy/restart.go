package policy

import (
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/edgeguard/edgeguard/policy/config"
)

// RestartOnlyKeys are the settings a running gatewayd cannot change: a
// reload that changes one applies everything else, names the key and says
// that a restart is needed ("restart pending" until then). A list index is
// written "[]"; "listeners" itself stands for adding or removing a listener
// and "listeners[].tls" for turning TLS on or off (new certificate and key
// files at the same or other paths are applied on reload). Every other key
// takes effect on reload. deploy/examples/gatewayd.yaml marks each of these
// "(restart)", and a test holds the two together.
var RestartOnlyKeys = []string{
	"listeners", "listeners[].name", "listeners[].address", "listeners[].tls",
	"management.address", "management.unix_socket", "management.bind_device",
	"management.tls_cert_file", "management.tls_key_file", // on or off; a renewed certificate is applied on reload
	"management.state_dir", "management.max_body_bytes", "management.max_entries",
	"management.read_timeout", "management.write_timeout",
	"server.request_head_timeout", "server.write_timeout", "server.idle_timeout",
	"server.shutdown_grace", "server.max_header_bytes", "server.concurrency",
	"access_log.path", "access_log.buffer",
	"security_events.path", "security_events.max_size", "security_events.max_age",
	"security_events.max_files", "security_events.buffer", "security_events.aggregate_window",
	"tracing.otlp_endpoint", "tracing.service_name", "tracing.queue", "tracing.batch", "tracing.interval", "tracing.timeout",
	"xdp.mode", "xdp.interfaces", "xdp.pin_path", "xdp.ban_default",
}

var listIndex = regexp.MustCompile(`\[\d+\]`)

// restartOnly lists the restart-only keys whose values differ between old
// and next, in config order.
func restartOnly(old, next *config.Config) []string {
	var changed []string
	diffKeys(reflect.ValueOf(restartShape(old)), reflect.ValueOf(restartShape(next)), "", &changed)
	var keys []string
	for _, k := range changed {
		if slices.Contains(RestartOnlyKeys, listIndex.ReplaceAllString(k, "[]")) {
			keys = append(keys, k)
		}
	}
	return keys
}

// restartShape is c with what a reload applies in place of a restart-only
// key blanked: certificate paths while TLS stays on.
func restartShape(c *config.Config) config.Config {
	s := *c
	s.Listeners = slices.Clone(c.Listeners)
	for i := range s.Listeners {
		if s.Listeners[i].TLS != nil {
			s.Listeners[i].TLS = &config.ListenerTLS{}
		}
	}
	if s.Management.TLSCertFile != "" {
		s.Management.TLSCertFile, s.Management.TLSKeyFile = "on", "on"
	}
	return s
}

// diffKeys appends the key paths (mapstructure names) at which a and b
// differ: the leaf keys, a list whose length changed, an optional section
// present in one and not the other, a map that differs.
func diffKeys(a, b reflect.Value, key string, out *[]string) {
	switch a.Kind() {
	case reflect.Pointer:
		switch {
		case a.IsNil() && b.IsNil():
		case a.IsNil() || b.IsNil():
			*out = append(*out, key)
		default:
			diffKeys(a.Elem(), b.Elem(), key, out)
		}
	case reflect.Struct:
		if a.Type() == reflect.TypeOf(time.Duration(0)) || a.Type() == reflect.TypeOf(time.Time{}) {
			if !a.Equal(b) {
				*out = append(*out, key)
			}
			return
		}
		t := a.Type()
		for i := range t.NumField() {
			name, opts, _ := strings.Cut(t.Field(i).Tag.Get("mapstructure"), ",")
			switch {
			case strings.Contains(opts, "squash"):
				diffKeys(a.Field(i), b.Field(i), key, out)
			case name != "" && name != "-":
				k := name
				if key != "" {
					k = key + "." + name
				}
				diffKeys(a.Field(i), b.Field(i), k, out)
			}
		}
	case reflect.Slice:
		if a.Len() != b.Len() {
			*out = append(*out, key)
			return
		}
		if a.Type().Elem().Kind() == reflect.Struct {
			for i := range a.Len() {
				diffKeys(a.Index(i), b.Index(i), key+"["+strconv.Itoa(i)+"]", out)
			}
			return
		}
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			*out = append(*out, key)
		}
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			*out = append(*out, key)
		}
	}
}
