package cpu

import (
	"os"
	"os/exec"
	"slices"
	"testing"
)

func TestStatFields(t *testing.T) {
	for _, tc := range []struct {
		line  string
		state string
		ppid  string
	}{
		{"12 (nginx) S 1 12 12 0", "S", "1"},
		{"13 (nginx: worker (x)) R 12 12 12 0", "R", "12"},
		{"14 (a b) c) Z 7 0", "Z", "7"},
	} {
		f := statFields([]byte(tc.line))
		if len(f) < 2 || f[0] != tc.state || f[1] != tc.ppid {
			t.Errorf("statFields(%q) = %q", tc.line, f)
		}
	}
	if statFields([]byte("garbage")) != nil {
		t.Error("a line without ')' gave fields")
	}
}

func TestChildren(t *testing.T) {
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep:", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if kids := Children(os.Getpid()); !slices.Contains(kids, cmd.Process.Pid) {
		t.Fatalf("children %v lack %d", kids, cmd.Process.Pid)
	}
	if _, err := Box(); err != nil {
		t.Fatal(err)
	}
}
