package netlab

import (
	"strings"
	"testing"
)

func TestLabValidate(t *testing.T) {
	cases := []struct {
		name, lab, dir, err string
	}{
		{"default", "eglab", "/run/edgeguard-lab/eglab", ""},
		{"digits and dash", "eglt123-4", "/tmp/x", ""},
		{"upper case", "EgLab", "/tmp/x", "lab name"},
		{"too long", "a234567890123456x", "/tmp/x", "lab name"},
		{"leading digit", "1lab", "/tmp/x", "lab name"},
		{"path in name", "../x", "/tmp/x", "lab name"},
		{"relative dir", "eglab", "lab", "absolute"},
		{"no dir", "eglab", "", "absolute"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := (&Lab{Name: tc.lab, Dir: tc.dir}).validate()
			if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("validate: %v, want %q", err, tc.err)
			}
		})
	}
	// Everything a lab makes carries its name, so Down finds it all.
	l := &Lab{Name: "eglab", Dir: "/run/edgeguard-lab/eglab"}
	for _, ns := range l.Namespaces() {
		if !strings.HasPrefix(ns, "eglab-") {
			t.Errorf("namespace %s", ns)
		}
	}
	if l.PinPath() != "/sys/fs/bpf/eglab" || !strings.HasPrefix(l.ConfigPath(), l.Dir) || !strings.HasPrefix(l.TokenPath(), l.Dir) {
		t.Errorf("paths outside the lab's: %s %s %s", l.PinPath(), l.ConfigPath(), l.TokenPath())
	}
}
