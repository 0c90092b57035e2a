package mgmt

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
)

// get makes a GET and returns the status and body.
func get(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestPprof: profiles are served to admin callers only, only while
// management.pprof is on, and a reload turns them on and off.
func TestPprof(t *testing.T) {
	f := startFixture(t, "")
	base := "http://" + f.srv.Addr() + "/debug/pprof/"
	if code, body := get(t, base+"heap", adminToken); code != http.StatusNotFound || !bytes.Contains(body, []byte("management.pprof")) {
		t.Fatalf("pprof off: %d %s, want 404 naming management.pprof", code, body)
	}

	b, err := os.ReadFile(f.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	on := strings.Replace(string(b), "management:\n", "management:\n  pprof: true\n", 1)
	if err := os.WriteFile(f.cfgPath, []byte(on), 0o600); err != nil {
		t.Fatal(err)
	}
	if res, err := f.holder.Reload("test"); err != nil || !res.Swapped {
		t.Fatalf("reload: %+v %v", res, err)
	}
	cases := []struct {
		name, path, token string
		want              int
		body              string // a substring of the answer, for 200s
	}{
		{"no credential", "heap", "", 401, ""},
		{"read-only token", "heap", readToken, 403, ""},
		{"index", "", adminToken, 200, "goroutine"},
		{"heap", "heap?debug=1", adminToken, 200, "heap profile"},
		{"goroutines", "goroutine?debug=2", adminToken, 200, "goroutine"},
		{"cmdline", "cmdline", adminToken, 200, ""},
		{"cpu profile", "profile?seconds=1", adminToken, 200, ""},
		{"seconds out of range", "profile?seconds=1000", adminToken, 400, ""},
		{"seconds not a number", "trace?seconds=x", adminToken, 400, ""},
		{"unknown profile", "nosuch", adminToken, 404, ""},
	}
	for _, c := range cases {
		code, body := get(t, base+c.path, c.token)
		if code != c.want {
			t.Errorf("%s: GET %s = %d, want %d (%.200s)", c.name, c.path, code, c.want, body)
			continue
		}
		if c.body != "" && !bytes.Contains(body, []byte(c.body)) {
			t.Errorf("%s: body lacks %q: %.200s", c.name, c.body, body)
		}
		if c.path == "profile?seconds=1" && (len(body) < 2 || body[0] != 0x1f || body[1] != 0x8b) {
			t.Errorf("cpu profile is not gzip data: % x", body[:min(len(body), 8)])
		}
	}

	if err := os.WriteFile(f.cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if res, err := f.holder.Reload("test"); err != nil || !res.Swapped {
		t.Fatalf("reload: %+v %v", res, err)
	}
	if code, _ := get(t, base+"heap", adminToken); code != http.StatusNotFound {
		t.Errorf("pprof turned off again: %d, want 404", code)
	}
}
