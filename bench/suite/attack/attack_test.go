package attack

import (
	"context"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/internal/privileged"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildOut  []byte
)

// gatewaydBin builds cmd/gatewayd once for the package's tests.
func gatewaydBin(t *testing.T, dir string) string {
	t.Helper()
	buildOnce.Do(func() {
		binPath = filepath.Join(dir, "gatewayd")
		buildOut, buildErr = exec.Command("go", "build", "-o", binPath, "github.com/edgeguard/edgeguard/cmd/gatewayd").CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("build gatewayd: %v\n%s", buildErr, buildOut)
	}
	return binPath
}

// TestXDPFloodQuick floods a quick-sized list and checks that XDP drops
// every frame it receives (none reaches the IP stack, though a control
// flood did) and that nftables drops too.
func TestXDPFloodQuick(t *testing.T) {
	privileged.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	bin := gatewaydBin(t, t.TempDir())
	res, err := XDPFlood(ctx, FloodOptions{Gatewayd: bin, WorkDir: t.TempDir(), Quick: true, Progress: func(s string) { t.Log(s) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped != "" {
		t.Fatalf("skipped as root: %s", res.Skipped)
	}
	t.Logf("%+v", *res)
	got := map[string]bool{}
	for _, r := range res.Results {
		got[r.Dropper] = true
		t.Logf("%+v", r)
		if r.DroppedPPS <= 0 || r.SentPPS <= 0 {
			t.Errorf("%s: sent %.0f/s, dropped %.0f/s, want both > 0", r.Dropper, r.SentPPS, r.DroppedPPS)
		}
		if r.PassedPackets != 0 {
			t.Errorf("%s: %d blocklisted frames reached the IP stack", r.Dropper, r.PassedPackets)
		}
		if r.ControlPackets == 0 {
			t.Errorf("%s: the control flood never reached the IP stack", r.Dropper)
		}
		if r.DroppedPPS > r.SentPPS*1.01 {
			t.Errorf("%s: dropped %.0f/s > sent %.0f/s", r.Dropper, r.DroppedPPS, r.SentPPS)
		}
		if r.NsPerPacket <= 0 {
			t.Errorf("%s: no receiver CPU measured", r.Dropper)
		}
	}
	if !got["xdp"] || !got["nftables"] {
		t.Fatalf("droppers measured: %v, want xdp and nftables", got)
	}
}
