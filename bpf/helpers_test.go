package bpf

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/edgeguard/edgeguard/internal/privileged"
)

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// testPinPath returns a fresh pin directory on bpffs, removed at cleanup.
func testPinPath(t testing.TB) string {
	t.Helper()
	p := "/sys/fs/bpf/edgeguard-test-" + randHex(4)
	t.Cleanup(func() { os.RemoveAll(p) })
	return p
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// openTest opens an unattached XDP with a test pin path, detached at cleanup.
func openTest(t testing.TB) *XDP {
	t.Helper()
	privileged.Require(t)
	x, err := Open(Options{PinPath: testPinPath(t), Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { x.Detach() })
	return x
}

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}
