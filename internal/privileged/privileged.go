// Package privileged gates tests that need root (BPF, network namespaces,
// mounts). Such tests call Require first: it skips them when not running as
// root, unless EDGEGUARD_REQUIRE_PRIVILEGED=1, where a missing privilege is a
// failure, so that CI cannot pass by silently skipping them.
//
// The package must never be imported by non-test code.
package privileged

import (
	"os"
	"testing"
)

// EnvRequire is the environment variable that turns skips into failures.
const EnvRequire = "EDGEGUARD_REQUIRE_PRIVILEGED"

// Require skips tb unless the process runs as root; with EnvRequire=1 it
// fails tb instead of skipping.
func Require(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv(EnvRequire) == "1" {
		tb.Fatalf("test needs root (euid %d) and %s=1 forbids skipping it", os.Geteuid(), EnvRequire)
	}
	tb.Skipf("test needs root (euid %d); set %s=1 to make this a failure", os.Geteuid(), EnvRequire)
}
