package micro

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a test binary")
	}
	const fake = "bench/suite/micro/testdata/fakebench"
	list := []Bench{
		{Package: fake, Pattern: "^BenchmarkSum$"},
		{Package: fake, Pattern: "^BenchmarkFail$"},
		{Package: "bench/xdp", Pattern: "^BenchmarkPacket$", Root: true},
	}
	var progress []string
	got, cmds, err := run(context.Background(), "../../..", list, "10x", false, func(s string) { progress = append(progress, s) })
	var fs Failures
	if !errors.As(err, &fs) {
		t.Fatalf("error %v, want Failures", err)
	}
	if len(fs) != 2 || fs[0].Bench.Pattern != "^BenchmarkFail$" || fs[1].Err.Error() != "needs root" {
		t.Fatalf("failures: %v", fs)
	}
	if !strings.Contains(fs[0].Output, "fails on purpose") {
		t.Errorf("failure output has no reason: %q", fs[0].Output)
	}
	if len(fs.Notes()) != 2 {
		t.Errorf("notes: %q", fs.Notes())
	}
	if len(cmds) != 2 {
		t.Errorf("commands: %q", cmds)
	}
	want := "go test -tags=" + Tags + " -run '^$' -bench '^BenchmarkSum$' -benchmem -count 1 -benchtime 10x -timeout 30m ./" + fake
	if cmds[0] != want {
		t.Errorf("command\n got %s\nwant %s", cmds[0], want)
	}
	if len(got) != 2 {
		t.Fatalf("results: %+v", got)
	}
	for i, name := range []string{"BenchmarkSum/10", "BenchmarkSum/1000"} {
		r := got[i]
		if r.Package != fake || r.Name != name || r.NsPerOp <= 0 || r.Extra["items/op"] == 0 {
			t.Errorf("result %d: %+v", i, r)
		}
	}
	if len(progress) == 0 {
		t.Error("no progress reported")
	}
}

func TestEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []string
		want string
	}{
		{"absent", []string{"A=1"}, "GOFLAGS=-tags=" + Tags},
		{"empty", []string{"GOFLAGS="}, "GOFLAGS=-tags=" + Tags},
		{"other flags", []string{"GOFLAGS=-mod=mod"}, "GOFLAGS=-mod=mod -tags=" + Tags},
		{"tags kept", []string{"GOFLAGS=-tags=x"}, "GOFLAGS=-tags=x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := env(tc.in)
			found := false
			for _, kv := range got {
				if strings.HasPrefix(kv, "GOFLAGS=") {
					found = kv == tc.want
				}
			}
			if !found {
				t.Errorf("env(%q) = %q, want %s in it", tc.in, got, tc.want)
			}
		})
	}
}
