package policy

import (
	"bytes"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/edgeguard/edgeguard/policy/config"
	"github.com/edgeguard/edgeguard/policy/mgmt/api"
)

func TestRestartOnlyKeysNamed(t *testing.T) {
	base := func() *config.Config {
		l, err := config.Parse([]byte(`
listeners: [{name: a, address: "127.0.0.1:8080"}, {name: b, address: "127.0.0.1:8443", tls: {cert_file: /x.crt, key_file: /x.key}}]
management: {address: "127.0.0.1:9901", tls_cert_file: /m.crt, tls_key_file: /m.key}
upstreams: [{name: u, targets: ["127.0.0.1:1"]}]
routes: [{name: r, path: /, upstream: u}]
`), "yaml", "t")
		if err != nil {
			t.Fatal(err)
		}
		return l.Config
	}
	cases := []struct {
		name   string
		change func(c *config.Config)
		want   []string
	}{
		{"reloadable keys only", func(c *config.Config) {
			c.Server.ReadTimeout++
			c.Management.Public = config.PublicNone
			c.Listeners[1].TLS.CertFile = "/y.crt" // a new certificate is applied on reload
			c.Management.TLSCertFile = "/n.crt"
			c.XDP.Allowlist = []string{"10.0.0.0/8"}
		}, nil},
		{"state dir", func(c *config.Config) { c.Management.StateDir = "/var/lib/edgeguard" }, []string{"management.state_dir"}},
		{"listener address", func(c *config.Config) { c.Listeners[1].Address = "127.0.0.1:9443" }, []string{"listeners[1].address"}},
		{"listener TLS off", func(c *config.Config) { c.Listeners[1].TLS = nil }, []string{"listeners[1].tls"}},
		{"listener added", func(c *config.Config) { c.Listeners = append(c.Listeners, config.Listener{Name: "c"}) }, []string{"listeners"}},
		{"management TLS off", func(c *config.Config) { c.Management.TLSCertFile, c.Management.TLSKeyFile = "", "" },
			[]string{"management.tls_cert_file", "management.tls_key_file"}},
		{"several", func(c *config.Config) {
			c.XDP.Interfaces = []string{"eth0"}
			c.Server.WriteTimeout++
			c.AccessLog.Path = "/x"
		},
			[]string{"server.write_timeout", "access_log.path", "xdp.interfaces"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			next := base()
			tc.change(next)
			if got := restartOnly(base(), next); !slices.Equal(got, tc.want) {
				t.Errorf("restartOnly = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRestartPendingAndPublicChanges: a reload that sets a restart-only key
// names it, later reloads keep saying a restart is pending, and adding the
// first token keeps health public and logs what became private.
func TestRestartPendingAndPublicChanges(t *testing.T) {
	a := upstreamAddr(t)
	base := doc("  - name: a\n    targets: ["+a+"]\n", "  - name: r\n    path: /\n    upstream: a\n")
	var logs bytes.Buffer
	src := &source{}
	src.set("management: {address: \"127.0.0.1:9901\"}\n" + base)
	h, err := NewHolder(src.load, Options{}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)

	src.set("management: {address: \"127.0.0.1:9901\", state_dir: /var/lib/edgeguard, tokens: [{name: ops, hash: " + api.HashToken("t") + "}]}\n" + base)
	res, err := h.Reload("test")
	if err != nil || !res.Swapped {
		t.Fatalf("res=%+v err=%v", res, err)
	}
	if !slices.Equal(res.RestartRequired, []string{"management.state_dir"}) || !slices.Equal(res.RestartPending, res.RestartRequired) {
		t.Errorf("reload result %+v, want management.state_dir required and pending", res)
	}
	if !strings.Contains(logs.String(), "restart gatewayd to apply them") || !strings.Contains(logs.String(), "management.state_dir") {
		t.Errorf("no restart warning in the log:\n%s", logs.String())
	}
	if p := h.Current().Config.Management.Public; p != config.PublicHealth {
		t.Errorf("public with the first token = %q, want health", p)
	}
	line := grepLine(logs.String(), "management paths now need authentication")
	if !strings.Contains(line, "/metrics") || !strings.Contains(line, "/status") || strings.Contains(line, "/healthz") {
		t.Errorf("log of what became private: %q\n%s", line, logs.String())
	}
	// An unchanged reload still says a restart is pending.
	if res, err := h.Reload("test"); err != nil || res.Swapped || !slices.Equal(res.RestartPending, []string{"management.state_dir"}) {
		t.Errorf("unchanged reload: %+v %v", res, err)
	}
	src.set("management: {address: \"127.0.0.1:9901\", tokens: [{name: ops, hash: " + api.HashToken("t") + "}]}\n" + base)
	// Putting the value back clears it, and the reload that does so asks
	// for no restart.
	if res, err := h.Reload("test"); err != nil || len(res.RestartPending) != 0 || len(h.RestartPending()) != 0 || len(res.RestartRequired) != 0 {
		t.Errorf("reverted: %+v %v", res, err)
	}
}

func grepLine(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// TestExampleMarksRestartOnlyKeys holds deploy/examples/gatewayd.yaml and
// RestartOnlyKeys together: every restart-only key's line says "(restart)",
// and no other key's line does.
func TestExampleMarksRestartOnlyKeys(t *testing.T) {
	b, err := os.ReadFile("../deploy/examples/gatewayd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	var walk func(n *yaml.Node, key string)
	walk = func(n *yaml.Node, key string) {
		switch n.Kind {
		case yaml.DocumentNode:
			walk(n.Content[0], key)
		case yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, key+"[]")
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				path := k.Value
				if key != "" {
					path = key + "." + k.Value
				}
				marked := strings.Contains(lines[k.Line-1], "(restart)")
				restart := slices.Contains(RestartOnlyKeys, path)
				found[path] = true
				if marked != restart && n.Style&yaml.FlowStyle == 0 {
					t.Errorf("line %d (%s): marked (restart) %v, restart-only %v", k.Line, path, marked, restart)
				}
				walk(n.Content[i+1], path)
			}
		}
	}
	walk(&root, "")
	commented := regexp.MustCompile(`^\s*#\s*([a-z_]+):`)
	for _, k := range RestartOnlyKeys {
		if found[k] {
			continue
		}
		// A key only shown commented out (listeners[].tls): its comment line.
		leaf := k[strings.LastIndex(k, ".")+1:]
		ok := false
		for i, l := range lines {
			if m := commented.FindStringSubmatch(l); m != nil && m[1] == leaf {
				ok = strings.Contains(l, "(restart)")
				if !ok {
					t.Errorf("line %s (%s, commented out): not marked (restart)", strconv.Itoa(i+1), k)
				}
				break
			}
		}
		if !ok {
			t.Errorf("restart-only key %s is not in the example", k)
		}
	}
}
