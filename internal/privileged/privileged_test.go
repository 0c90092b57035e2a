package privileged

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestRequire runs a probe test in a child process under each combination
// of privilege and environment and checks whether it ran, skipped or failed.
func TestRequire(t *testing.T) {
	if os.Getenv("PRIVILEGED_PROBE") == "1" {
		return
	}
	root := os.Geteuid() == 0
	tests := []struct {
		name string
		env  string
		want string
	}{
		{"default", "", map[bool]string{true: "RAN", false: "SKIP"}[root]},
		{"required", "1", map[bool]string{true: "RAN", false: "FAIL"}[root]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestProbe$", "-test.v")
			cmd.Env = append(os.Environ(), "PRIVILEGED_PROBE=1", EnvRequire+"="+tc.env)
			out, _ := cmd.CombinedOutput()
			var got string
			switch s := string(out); {
			case strings.Contains(s, "probe ran"):
				got = "RAN"
			case strings.Contains(s, "--- SKIP"):
				got = "SKIP"
			case strings.Contains(s, "--- FAIL"):
				got = "FAIL"
			}
			if got != tc.want {
				t.Fatalf("probe outcome %q, want %q; output:\n%s", got, tc.want, out)
			}
		})
	}
}

func TestProbe(t *testing.T) {
	if os.Getenv("PRIVILEGED_PROBE") != "1" {
		t.Skip("only run as a child of TestRequire")
	}
	Require(t)
	t.Log("probe ran")
}
