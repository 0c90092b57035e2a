package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/edgeguard/edgeguard/policy/config"
)

// TestGeneratedEntryIsValidConfig feeds the printed entry to the config
// loader: what the tool prints must be accepted as is, and its hash must
// match the printed key.
func TestGeneratedEntryIsValidConfig(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run([]string{"-id", "acme-2030", "-client", "acme", "-tier", "gold", "-scopes", "orders:read, orders:write", "-routes", "api", "-not-after", "2031-01-01T00:00:00Z"},
		nil, &out, &errOut)
	if err != nil {
		t.Fatalf("run: %v %s", err, errOut.String())
	}
	var key string
	var entry []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if k, ok := strings.CutPrefix(line, "#   "); ok {
			key = k
		}
		if !strings.HasPrefix(line, "#") {
			entry = append(entry, "      "+line)
		}
	}
	if !strings.HasPrefix(key, "egk_") {
		t.Fatalf("no key printed:\n%s", out.String())
	}
	doc := `
upstreams: [{name: api, targets: [127.0.0.1:9000]}]
routes: [{name: api, path: /, upstream: api, auth: {methods: [api_key]}}]
auth:
  api_keys:
    keys:
` + strings.Join(entry, "\n") + "\n"
	l, err := config.Parse([]byte(doc), "yaml", "tool output")
	if err != nil {
		t.Fatalf("printed entry rejected: %v\n%s", err, doc)
	}
	k := l.Config.Auth.APIKeys.Keys[0]
	sum := sha256.Sum256([]byte(key))
	if config.APIKeyHash(k.Hash) != hex.EncodeToString(sum[:]) || k.ID != "acme-2030" || len(k.Scopes) != 2 || k.Tier != "gold" {
		t.Errorf("entry %+v does not match key", k)
	}
	if strings.Contains(doc, key) {
		t.Error("the config entry contains the key")
	}

	out.Reset()
	if err := run([]string{"-hash"}, strings.NewReader(key+"\n"), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out.String()) != k.Hash {
		t.Errorf("-hash printed %q, want %q", out.String(), k.Hash)
	}
}

func TestUsageErrors(t *testing.T) {
	var out, errOut bytes.Buffer
	for _, args := range [][]string{{}, {"-id", "x"}, {"-bogus"}} {
		if err := run(args, nil, &out, &errOut); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
	if err := run([]string{"-hash"}, strings.NewReader(""), &out, &errOut); err == nil {
		t.Error("empty -hash input accepted")
	}
}
