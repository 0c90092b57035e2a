package config

import (
	"reflect"
	"strings"
	"testing"
)

const mgmtHash = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"

// mgmtDoc is validBase with its management section replaced by section.
func mgmtDoc(t *testing.T, section string) string {
	t.Helper()
	const old = "management:\n  address: 127.0.0.1:19901\n"
	if !strings.Contains(validBase, old) {
		t.Fatal("test bug: management section not in validBase")
	}
	return strings.Replace(validBase, old, section, 1)
}

func TestManagementDefaults(t *testing.T) {
	cases := []struct {
		name       string
		section    string
		wantPublic string
		wantTokens int
	}{
		{"no credentials: monitoring and status stay readable on loopback", "management:\n  address: 127.0.0.1:19901\n", PublicStatus, 0},
		{"tokens: health stays public for load balancers", "management:\n  address: 127.0.0.1:19901\n  tokens: [{name: ops, hash: " + mgmtHash + "}]\n", PublicHealth, 1},
		{"explicit none kept", "management:\n  address: 127.0.0.1:19901\n  public: none\n  tokens: [{name: ops, hash: " + mgmtHash + "}]\n", PublicNone, 1},
		{"explicit public kept", "management:\n  address: 127.0.0.1:19901\n  public: health\n  tokens: [{name: ops, hash: " + mgmtHash + "}]\n", PublicHealth, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Parse([]byte(mgmtDoc(t, tc.section)), "yaml", "test")
			if err != nil {
				t.Fatal(err)
			}
			m := l.Config.Management
			if m.Public != tc.wantPublic {
				t.Errorf("public = %q, want %q", m.Public, tc.wantPublic)
			}
			toks := m.ActiveTokens()
			if len(toks) != tc.wantTokens {
				t.Fatalf("tokens = %+v, want %d", toks, tc.wantTokens)
			}
			if len(toks) > 0 && toks[0].Role != RoleAdmin {
				t.Errorf("token role default = %q, want admin", toks[0].Role)
			}
			if m.MaxBodyBytes != DefaultManagementBodyBytes || m.MaxEntries != DefaultManagementEntries || m.ReadTimeout != DefaultManagementTimeout {
				t.Errorf("limits not defaulted: %+v", m)
			}
		})
	}
}

func TestManagementValid(t *testing.T) {
	cases := []struct {
		name    string
		section string
	}{
		{"unix socket only", "management:\n  address: \"off\"\n  unix_socket: /run/edgeguard/mgmt.sock\n"},
		{"wildcard allowed with tls and tokens", "management:\n  address: 0.0.0.0:9901\n  allow_wildcard: true\n  tls_cert_file: /c.pem\n  tls_key_file: /k.pem\n  tokens: [{name: ops, hash: " + mgmtHash + "}]\n"},
		{"mtls only", "management:\n  address: 10.9.0.1:9901\n  tls_cert_file: /c.pem\n  tls_key_file: /k.pem\n  client_ca_file: /ca.pem\n"},
		{"plaintext tokens accepted explicitly", "management:\n  address: 10.9.0.1:9901\n  insecure_plaintext: true\n  tokens: [{name: ops, hash: " + mgmtHash + ", role: read}]\n"},
		{"ipv6 loopback", "management:\n  address: \"[::1]:9901\"\n  bind_device: lo\n"},
		{"same port on another address", "management:\n  address: 127.0.0.2:18080\n"},
		{"state dir and limits", "management:\n  address: 127.0.0.1:19901\n  state_dir: /var/lib/edgeguard\n  max_body_bytes: 4096\n  max_entries: 10\n  read_timeout: 1s\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse([]byte(mgmtDoc(t, tc.section)), "yaml", "test"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestManagementInvalid(t *testing.T) {
	tok := func(extra string) string { return "  tokens: [{name: ops, hash: " + mgmtHash + extra + "}]\n" }
	cases := []struct {
		name    string
		section string
		wantKey string
		wantMsg string
	}{
		{"data listener address", "management:\n  address: 127.0.0.1:18080\n", "management.address", "overlaps data listener listeners[0]"},
		{"wildcard", "management:\n  address: 0.0.0.0:9901\n" + tok(""), "management.address", "wildcard"},
		{"empty host is a wildcard", "management:\n  address: \":9901\"\n" + tok(""), "management.address", "wildcard"},
		{"ipv6 wildcard", "management:\n  address: \"[::]:9901\"\n" + tok(""), "management.address", "wildcard"},
		{"wildcard on the data port even when allowed", "management:\n  address: 0.0.0.0:18080\n  allow_wildcard: true\n  insecure_plaintext: true\n" + tok(""), "management.address", "overlaps"},
		{"host name", "management:\n  address: localhost:9901\n", "management.address", "IP address"},
		{"not host:port", "management:\n  address: nope\n", "management.address", "host:port"},
		{"network address without credentials", "management:\n  address: 10.9.0.1:9901\n", "management.address", "no credentials"},
		{"tokens in clear on the network", "management:\n  address: 10.9.0.1:9901\n" + tok(""), "management.tls_cert_file", "in clear"},
		{"off without socket", "management:\n  address: \"off\"\n", "management.address", "unix_socket"},
		{"relative socket", "management:\n  address: 127.0.0.1:19901\n  unix_socket: mgmt.sock\n", "management.unix_socket", "absolute"},
		{"bad device", "management:\n  address: 127.0.0.1:19901\n  bind_device: \"eth0/1\"\n", "management.bind_device", "interface"},
		{"bad public", "management:\n  address: 127.0.0.1:19901\n  public: everything\n", "management.public", "none, health"},
		{"plain token instead of hash", "management:\n  address: 127.0.0.1:19901\n  tokens: [{name: ops, hash: s3cret}]\n", "management.tokens[0].hash", "sha256"},
		{"upper-case hex", "management:\n  address: 127.0.0.1:19901\n  tokens: [{name: ops, hash: " + strings.ToUpper(mgmtHash) + "}]\n", "management.tokens[0].hash", "lower-case"},
		{"token without name", "management:\n  address: 127.0.0.1:19901\n  tokens: [{hash: " + mgmtHash + "}]\n", "management.tokens[0].name", "letters"},
		{"bad role", "management:\n  address: 127.0.0.1:19901\n" + tok(", role: root"), "management.tokens[0].role", "admin or read"},
		{"duplicate token name", "management:\n  address: 127.0.0.1:19901\n  tokens: [{name: a, hash: " + mgmtHash + "}, {name: a, hash: " + mgmtHash + "}]\n", "management.tokens[1].name", "duplicate"},
		{"one hash under two names", "management:\n  address: 127.0.0.1:19901\n  tokens: [{name: ops, hash: " + mgmtHash + "}, {name: ro, hash: " + mgmtHash + ", role: read}]\n", "management.tokens[1].hash", "same hash as management.tokens[0]"},
		{"unknown token key", "management:\n  address: 127.0.0.1:19901\n  tokens: [{name: a, token: x}]\n", "management.tokens[0].token", "unknown key"},
		{"key without cert", "management:\n  address: 127.0.0.1:19901\n  tls_key_file: /k.pem\n", "management.tls_key_file", "go together"},
		{"client ca without tls", "management:\n  address: 127.0.0.1:19901\n  client_ca_file: /ca.pem\n", "management.client_ca_file", "tls_cert_file"},
		{"relative state dir", "management:\n  address: 127.0.0.1:19901\n  state_dir: state\n", "management.state_dir", "absolute"},
		{"tiny body limit", "management:\n  address: 127.0.0.1:19901\n  max_body_bytes: 10\n", "management.max_body_bytes", ">= 1024"},
		{"negative entries", "management:\n  address: 127.0.0.1:19901\n  max_entries: -1\n", "management.max_entries", ">= 1"},
		{"negative timeout", "management:\n  address: 127.0.0.1:19901\n  write_timeout: -1s\n", "management.write_timeout", "> 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := mgmtDoc(t, tc.section)
			_, err := Parse([]byte(doc), "yaml", "test")
			if err == nil {
				t.Fatalf("accepted:\n%s", doc)
			}
			var line string
			for _, l := range strings.Split(err.Error(), "\n") {
				if strings.HasPrefix(l, tc.wantKey+":") {
					line = l
					break
				}
			}
			if line == "" || !strings.Contains(line, tc.wantMsg) {
				t.Fatalf("no error naming %s with %q:\n%v", tc.wantKey, tc.wantMsg, err)
			}
		})
	}
}

// TestExampleManagementIsDefault: the example config documents the
// management defaults, so loading it gives what an empty section gives.
func TestExampleManagementIsDefault(t *testing.T) {
	ex, err := Load("../../deploy/examples/gatewayd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	def, err := Parse([]byte(mgmtDoc(t, "")), "yaml", "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*Management{&ex.Config.Management, &def.Config.Management} {
		if len(m.Tokens) == 0 {
			m.Tokens = nil // "tokens: []" in the example decodes as empty, not nil
		}
	}
	if !reflect.DeepEqual(ex.Config.Management, def.Config.Management) {
		t.Errorf("example management section %+v differs from the defaults %+v", ex.Config.Management, def.Config.Management)
	}
}

// TestManagementNotOnADataAddress: the management listener may not share a
// data listener's (non-loopback) IP, even on another port, unless allowed.
func TestManagementNotOnADataAddress(t *testing.T) {
	tok := "  tls_cert_file: /c.pem\n  tls_key_file: /k.pem\n  tokens: [{name: ops, hash: " + mgmtHash + "}]\n"
	for _, tc := range []struct {
		name, data, section, wantErr string
	}{
		{"same IP, other port", "203.0.113.5:443", "management:\n  address: 203.0.113.5:9901\n" + tok, "is the address of data listener listeners[0]"},
		{"allowed explicitly", "203.0.113.5:443", "management:\n  address: 203.0.113.5:9901\n  allow_data_address: true\n" + tok, ""},
		{"separate management IP", "203.0.113.5:443", "management:\n  address: 10.9.0.5:9901\n" + tok, ""},
		{"wildcard data listener, specific management IP", "0.0.0.0:443", "management:\n  address: 10.9.0.5:9901\n" + tok, ""},
		{"loopback shares freely", "127.0.0.1:8080", "management:\n  address: 127.0.0.1:9901\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(mgmtDoc(t, tc.section), "127.0.0.1:18080", tc.data, 1)
			_, err := Parse([]byte(doc), "yaml", "test")
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), "management.address") || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err = %v, want management.address: %s", err, tc.wantErr)
			}
		})
	}
}
