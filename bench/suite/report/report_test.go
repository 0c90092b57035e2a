package report

import (
	"bytes"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeguard/edgeguard/bench/suite/plots"
	"github.com/edgeguard/edgeguard/bench/suite/results"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMarkdownGolden(t *testing.T) {
	r, err := results.Read(filepath.Join("testdata", "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, golden string
		run          *results.Run
		figures      []string
	}{
		{"full", "report.md", r, []string{plots.RPSPerCoreFile, plots.LatencyFile, plots.XDPFile, plots.ThrottleFile, "extra.png"}},
		{"empty", "empty.md", &results.Run{Quick: true}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Markdown(tc.run, tc.figures)
			path := filepath.Join("testdata", tc.golden)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Markdown differs from %s (run with -update to accept):\n%s", path, got)
			}
		})
	}
}

func TestWrite(t *testing.T) {
	r, err := results.Read(filepath.Join("testdata", "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	if err := Write(dir, r); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{plots.RPSPerCoreFile, plots.LatencyFile, plots.XDPFile, plots.ThrottleFile} {
		if !bytes.Contains(md, []byte("]("+f+")")) {
			t.Errorf("report does not link %s", f)
		}
		fh, err := os.Open(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		_, err = png.DecodeConfig(fh)
		fh.Close()
		if err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	back, err := results.Read(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(Markdown(back, []string{plots.RPSPerCoreFile, plots.LatencyFile, plots.XDPFile, plots.ThrottleFile}), md) {
		t.Error("report.md differs from the report rendered again from results.json")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

func TestCondense(t *testing.T) {
	b := func(p, d, l, x int) results.ThrottleBucket {
		return results.ThrottleBucket{Passed: p, Delayed: d, Limited: l, Dropped: x}
	}
	flap := make([]results.ThrottleBucket, 30)
	for i := range flap {
		flap[i] = b(1, i%2, (i+1)%2, 0)
	}
	for _, tc := range []struct {
		name  string
		in    []results.ThrottleBucket
		limit int
		want  []string
		sizes []int
	}{
		{"phases", []results.ThrottleBucket{b(1, 0, 0, 0), b(1, 2, 0, 0), b(1, 2, 1, 0), b(1, 0, 5, 0), b(0, 0, 0, 9), b(0, 0, 0, 0)}, 12,
			[]string{"passed", "delayed", "429", "dropped", "none"}, []int{1, 2, 1, 1, 1}},
		{"flapping falls back to windows", flap, 12, nil, []int{3, 3, 3, 3, 3, 3, 3, 3, 3, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := condense(tc.in, tc.limit)
			if tc.want != nil {
				var mains []string
				for _, p := range got {
					mains = append(mains, p.main)
				}
				if strings.Join(mains, ",") != strings.Join(tc.want, ",") {
					t.Errorf("phases %q, want %q", mains, tc.want)
				}
			}
			if len(tc.sizes) > 0 {
				if len(got) != len(tc.sizes) {
					t.Fatalf("%d phases, want %d", len(got), len(tc.sizes))
				}
				for i, p := range got {
					if len(p.buckets) != tc.sizes[i] {
						t.Errorf("phase %d has %d buckets, want %d", i, len(p.buckets), tc.sizes[i])
					}
				}
			}
		})
	}
}

func TestNumbers(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  string
		want string
	}{
		{"thousands", thousands(1234567.4), "1,234,567"},
		{"thousands small", thousands(999), "999"},
		{"thousands negative", thousands(-12345), "-12,345"},
		{"num large", num(39814), "39,814"},
		{"num hundreds", num(981.1), "981"},
		{"num tens", num(61.69), "61.7"},
		{"num units", num(1.225), "1.23"},
		{"num integer", num(83), "83"},
		{"num round", num(5.00), "5"},
		{"num small", num(0.0412), "0.0412"},
		{"num tiny", num(0.00000123), "0.00000123"},
		{"num zero", num(0), "0"},
		{"micros", micros(1400), "1.40 ms"},
		{"micros small", micros(212.4), "212 µs"},
		{"micros zero", micros(0), "–"},
		{"cell", cell("a|b\nc"), `a\|b<br>c`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}
