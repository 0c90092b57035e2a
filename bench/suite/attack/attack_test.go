package attack

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/internal/privileged"
)

// gatewaydBin builds cmd/gatewayd into the test's temporary directory
// (the build cache makes the second build a link).
func gatewaydBin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gatewayd")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/edgeguard/edgeguard/cmd/gatewayd").CombinedOutput(); err != nil {
		t.Fatalf("build gatewayd: %v\n%s", err, out)
	}
	return bin
}

// TestXDPFloodQuick floods a quick-sized list and checks that XDP drops
// every frame it receives (none reaches the IP stack, though a control
// flood did) and that nftables drops too.
func TestXDPFloodQuick(t *testing.T) {
	privileged.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	bin := gatewaydBin(t)
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

// TestThrottleQuick drives a client at 3x its limit and checks that the
// four answers appear in order (passed, delayed, 429 with Retry-After,
// dropped), that the ban is a drop at the NIC (connection attempts time
// out, XDP counts banned packets) and that nothing is served during it.
func TestThrottleQuick(t *testing.T) {
	privileged.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bin := gatewaydBin(t)
	o := ThrottleOptions{Gatewayd: bin, WorkDir: t.TempDir(), Quick: true, Progress: func(s string) { t.Log(s) }}
	res, err := Throttle(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped != "" {
		t.Fatalf("skipped as root: %s", res.Skipped)
	}
	for _, b := range res.Buckets {
		t.Logf("%5.2fs passed %2d delayed %2d limited %2d dropped %2d", b.T, b.Passed, b.Delayed, b.Limited, b.Dropped)
	}
	t.Logf("first seen %v, gateway %v, drops %v", res.FirstSeen, res.Gateway, res.DropKinds)
	order := []string{"passed", "delayed", "limited", "dropped"}
	for i, k := range order {
		if _, ok := res.FirstSeen[k]; !ok {
			t.Fatalf("no %s answer in the run", k)
		}
		if i > 0 && res.FirstSeen[k] < res.FirstSeen[order[i-1]] {
			t.Errorf("first %s at %.2fs, before the first %s at %.2fs", k, res.FirstSeen[k], order[i-1], res.FirstSeen[order[i-1]])
		}
	}
	if res.RetryAfterMissing != 0 {
		t.Errorf("%d 429s without Retry-After", res.RetryAfterMissing)
	}
	if res.DropKinds["connect_timeout"] == 0 || res.Gateway["xdp_drop_banned"] == 0 {
		t.Errorf("the ban did not drop at the NIC: %d connection timeouts, %d XDP ban drops", res.DropKinds["connect_timeout"], res.Gateway["xdp_drop_banned"])
	}
	for k, v := range res.DropKinds {
		if k != "closed" && k != "connect_timeout" && k != "stalled" && v > 0 {
			t.Errorf("%d requests failed as %s", v, k)
		}
	}
	// From half a second after the first drop (other pooled connections
	// are closed on their next request) until half a second before the ban
	// ends, nothing may be served.
	from, to := res.FirstSeen["dropped"]+0.5, res.FirstSeen["dropped"]+res.BanSeconds-0.5
	for _, b := range res.Buckets {
		if b.T >= from && b.T+res.BucketSeconds <= to && b.Passed+b.Delayed+b.Limited > 0 {
			t.Errorf("bucket at %.2fs, inside the ban, has answers: %+v", b.T, b)
		}
	}
}
