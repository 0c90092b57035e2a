package micro

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/edgeguard/edgeguard/bench/suite/results"
)

func TestParse(t *testing.T) {
	const (
		auth = "github.com/edgeguard/edgeguard/bench/auth"
		xdp  = "github.com/edgeguard/edgeguard/bench/xdp"
		rl   = "github.com/edgeguard/edgeguard/bench/ratelimit"
		fake = "example.com/fake"
	)
	for _, tc := range []struct {
		name  string
		file  string
		procs int
		count int
		// want are some of the rows, checked whole, at their index.
		want map[int]results.MicroBench
	}{
		{
			name: "jwt with a custom metric between ns/op and B/op", file: "jwt.txt", procs: 2, count: 15,
			want: map[int]results.MicroBench{
				0: {Package: auth, Name: "BenchmarkJWT/RS256/cached", NsPerOp: 61.69},
				2: {Package: auth, Name: "BenchmarkJWT/RS256/uncached", NsPerOp: 39814, BytesPerOp: 6184, AllocsPerOp: 83,
					Extra: map[string]float64{"x-crypto": 1.225}},
				13: {Package: auth, Name: "BenchmarkJWT/HS256/crypto", NsPerOp: 981.1, BytesPerOp: 744, AllocsPerOp: 8},
			},
		},
		{
			name: "xdp ns/packet, names ending in digits before the procs suffix", file: "xdp.txt", procs: 2, count: 18,
			want: map[int]results.MicroBench{
				12: {Package: xdp, Name: "BenchmarkPacket/1M/ipv4-hit", NsPerOp: 5413750,
					Extra: map[string]float64{"min-ns/packet": 14, "ns/packet": 15.30}},
				17: {Package: xdp, Name: "BenchmarkPacket/1M/ipv6-hit-4096src", NsPerOp: 31889532,
					Extra: map[string]float64{"ns/packet": 2376}},
			},
		},
		{
			name: "ns/op reported as zero is absent", file: "speedup.txt", procs: 2, count: 4,
			want: map[int]results.MicroBench{
				3: {Package: rl, Name: "BenchmarkMemoryPerKey/xrate-mutexmap", BytesPerOp: 121718880, AllocsPerOp: 1052675,
					Extra: map[string]float64{"bytes/key": 116.1}},
			},
		},
		{
			name: "line split by stdout, GOMAXPROCS 1, logs and skips", file: "split.txt", procs: 2, count: 2,
			want: map[int]results.MicroBench{
				0: {Package: fake, Name: "BenchmarkChatty", NsPerOp: 1234, BytesPerOp: 64, AllocsPerOp: 2,
					Extra: map[string]float64{"MB/s": 12.5}},
				1: {Package: fake, Name: "BenchmarkOne", NsPerOp: 99.5},
			},
		},
		{
			name: "procs 1 keeps the name whole", file: "split.txt", procs: 1, count: 2,
			want: map[int]results.MicroBench{
				0: {Package: fake, Name: "BenchmarkChatty-2", NsPerOp: 1234, BytesPerOp: 64, AllocsPerOp: 2,
					Extra: map[string]float64{"MB/s": 12.5}},
			},
		},
		{
			name: "a failed package keeps the results it printed", file: "fail.txt", procs: 2, count: 1,
			want: map[int]results.MicroBench{
				0: {Package: fake, Name: "BenchmarkGood", NsPerOp: 10},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(out, tc.procs)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.count {
				t.Fatalf("got %d results, want %d: %+v", len(got), tc.count, got)
			}
			for i, want := range tc.want {
				if !reflect.DeepEqual(got[i], want) {
					t.Errorf("result %d:\n got %+v\nwant %+v", i, got[i], want)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, out string }{
		{"odd pairs", "BenchmarkX-2 100 12 ns/op 7\n"},
		{"bad value", "BenchmarkX-2 100 twelve ns/op\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse([]byte(tc.out), 2); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
