package policy

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/policy/config"
)

// TestWatchFile edits the config file in the ways operators and tools do
// and expects a reload after each, including after the file was deleted.
func TestWatchFile(t *testing.T) {
	a := upstreamAddr(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "gatewayd.yaml")
	cfg := func(route string) []byte {
		return []byte(doc("  - name: a\n    targets: ["+a+"]\n", "  - name: "+route+"\n    path: /\n    upstream: a\n"))
	}
	if err := os.WriteFile(path, cfg("r1"), 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := NewHolder(func() (*config.Loaded, error) { return config.Load(path) }, Options{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	stop, err := WatchFile(path, h, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	routeIs := func(step, want string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			if rt, _, _ := h.Current().Routes.Match([]byte("x"), []byte("GET"), []byte("/")); rt != nil && rt.Name == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: route never became %s", step, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	write := func(name string, b []byte) {
		t.Helper()
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	write(path, cfg("r2"))
	routeIs("write in place", "r2")

	tmp := filepath.Join(dir, "new.tmp")
	write(tmp, cfg("r3"))
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	routeIs("atomic rename", "r3")

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the watch sees the file gone
	write(path, cfg("r4"))
	routeIs("deleted then written again", "r4")
	write(path, cfg("r5"))
	routeIs("a later edit", "r5")

	// Kubernetes ConfigMap style: path -> ..data/gatewayd.yaml, ..data a link swapped by rename.
	for i, route := range []string{"r6", "r7"} {
		d := filepath.Join(dir, "v"+string(rune('0'+i)))
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		write(filepath.Join(d, "gatewayd.yaml"), cfg(route))
		link := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(filepath.Base(d), link); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(link, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			os.Remove(path)
			if err := os.Symlink(filepath.Join("..data", "gatewayd.yaml"), path); err != nil {
				t.Fatal(err)
			}
		}
		routeIs("symlinked data swapped", route)
	}
}
