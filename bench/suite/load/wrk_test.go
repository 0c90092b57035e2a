package load

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    Result
		wantErr string
	}{
		{"report", "Running 1s test\n  1 threads\nWRKJSON {\"requests\":24285,\"duration_us\":1108266,\"bytes\":10,\"connect\":1,\"read\":2,\"write\":3,\"status\":4,\"timeout\":5,\"p50\":111.0,\"p90\":249.0,\"p99\":6730.0,\"p999\":14853.0,\"max\":16012.0}\n",
			Result{Requests: 24285, DurationUS: 1108266, Bytes: 10, Connect: 1, Read: 2, Write: 3, Status: 4, Timeout: 5, P50: 111, P90: 249, P99: 6730, P999: 14853, Max: 16012}, ""},
		{"no report", "unable to connect to 127.0.0.1:1 Connection refused\n", Result{}, "no WRKJSON line"},
		{"cut short", "WRKJSON {\"requests\":1", Result{}, "parse wrk output"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.out))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
			if got.Errors() != 15 {
				t.Errorf("Errors() = %d, want 15", got.Errors())
			}
		})
	}
}

func TestCommand(t *testing.T) {
	r := &Runner{script: "/x/bench.lua"}
	got := strings.Join(r.Command(Spec{URL: "http://127.0.0.1:1/p", Connections: 64, Duration: 2500 * time.Millisecond, CPU: 1}), " ")
	want := "taskset -c 1 wrk -t1 -c64 -d3s --timeout 5s -s /x/bench.lua http://127.0.0.1:1/p"
	if got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}
