package mgmt

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/edgeguard/edgeguard/internal/netlab"
	"github.com/edgeguard/edgeguard/internal/privileged"
)

// TestCheckDataInterfaces gives a data interface (a veth) an address in a
// namespace the test creates and checks the management host against it.
func TestCheckDataInterfaces(t *testing.T) {
	privileged.Require(t)
	ns := netlab.NewNetns(t, "mgmtif")
	ns.IP(t, "link", "add", "egdata0", "type", "veth", "peer", "name", "egdata1") // no dummy module on every kernel
	ns.IP(t, "addr", "add", "10.77.0.1/24", "dev", "egdata0")
	ns.IP(t, "addr", "add", "fd00:77::1/64", "dev", "egdata0")
	ns.IP(t, "link", "set", "egdata0", "up")
	ns.Do(t, func() {
		for _, tc := range []struct {
			host   string
			ifaces []string
			bad    bool
		}{
			{"10.77.0.1", []string{"egdata0"}, true},
			{"fd00:77::1", []string{"egdata0"}, true},
			{"10.77.0.2", []string{"egdata0"}, false},
			{"10.77.0.1", []string{"missing0"}, false},
			{"127.0.0.1", []string{"lo"}, false},
		} {
			err := checkDataInterfaces(netip.MustParseAddr(tc.host), tc.ifaces)
			if tc.bad != (err != nil) || (err != nil && !strings.Contains(err.Error(), "data interface egdata0")) {
				t.Errorf("%s on %v: %v, want refused %v", tc.host, tc.ifaces, err, tc.bad)
			}
		}
	})
}
