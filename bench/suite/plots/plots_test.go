package plots

import (
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/edgeguard/edgeguard/bench/suite/results"
)

// fixture is a run with every part filled in.
func fixture() *results.Run {
	r := &results.Run{
		HTTP: &results.HTTP{Rounds: 3},
		XDPFlood: &results.XDPFlood{BlocklistEntries: 1_000_000, Results: []results.FloodResult{
			{Dropper: "xdp", SentPPS: 1.2e6, DroppedPPS: 1.19e6, CPUSecondsPerMillionPackets: 0.05},
			{Dropper: "nftables", SentPPS: 1.2e6, DroppedPPS: 0.8e6, CPUSecondsPerMillionPackets: 0.4},
		}},
		Throttle: &results.Throttle{RatePerSecond: 100, OfferedPerSecond: 400, BucketSeconds: 0.5},
	}
	for i, s := range []string{"plain", "ip_limit", "hs256", "rs256", "rs256_rotating"} {
		for j, t := range []string{"direct", "edgeguard", "haproxy", "nginx"} {
			row := results.HTTPSummary{Scenario: s, Target: t, MedianRPS: float64(50000 - 3000*i - 1000*j),
				MedianLatency: results.Percentiles{P50: 200 + 10*float64(j), P90: 400, P99: 900 + 100*float64(i), P999: 3000}}
			if t != "direct" {
				row.MedianRPSPerCore = row.MedianRPS * 0.9
			}
			if s == "rs256_rotating" && t == "nginx" {
				continue // skipped
			}
			r.HTTP.Summary = append(r.HTTP.Summary, row)
		}
	}
	for i := range 40 {
		b := results.ThrottleBucket{T: float64(i) * 0.5, Passed: 50}
		switch {
		case i < 10:
			b.Delayed = 20
		case i < 30:
			b.Limited = 150
		default:
			b.Dropped = 150
		}
		r.Throttle.Buckets = append(r.Throttle.Buckets, b)
	}
	return r
}

func TestDraw(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func() *results.Run
		want []string
	}{
		{"everything", fixture, []string{RPSPerCoreFile, LatencyFile, XDPFile, ThrottleFile}},
		{"nothing", func() *results.Run { return &results.Run{} }, nil},
		{"attacks skipped", func() *results.Run {
			r := fixture()
			r.XDPFlood = &results.XDPFlood{Skipped: "needs root"}
			r.Throttle = &results.Throttle{Skipped: "no gatewayd"}
			return r
		}, []string{RPSPerCoreFile, LatencyFile}},
		{"direct only: no per-core bars", func() *results.Run {
			r := fixture()
			r.HTTP.Summary = []results.HTTPSummary{{Scenario: "plain", Target: "direct", MedianRPS: 1,
				MedianLatency: results.Percentiles{P50: 100, P99: 200}}}
			r.XDPFlood, r.Throttle = nil, nil
			return r
		}, []string{LatencyFile}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			got, err := Draw(dir, tc.run())
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("drew %q, want %q", got, tc.want)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != len(tc.want) {
				t.Errorf("%d files in the directory, want %d", len(entries), len(tc.want))
			}
			for _, name := range got {
				checkPNG(t, filepath.Join(dir, name))
			}
		})
	}
}

func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b := img.Bounds()
	if b.Dx() < 400 || b.Dy() < 300 || b.Dx() > 4000 || b.Dy() > 4000 {
		t.Errorf("%s: %dx%d pixels", path, b.Dx(), b.Dy())
	}
	if st, _ := f.Stat(); st.Size() < 5000 {
		t.Errorf("%s: %d bytes, too small to hold a chart", path, st.Size())
	}
}

// TestDrawTo writes the fixture's figures to $PLOTS_DIR, for a look.
func TestDrawTo(t *testing.T) {
	dir := os.Getenv("PLOTS_DIR")
	if dir == "" {
		t.Skip("PLOTS_DIR not set")
	}
	if _, err := Draw(dir, fixture()); err != nil {
		t.Fatal(err)
	}
}
