package attack

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
)

// The pass check: a counter of flood frames (UDP to floodPort) at the
// receiver's prerouting hook, which frames reach only when no dropper
// before it (XDP, netdev ingress) dropped them.
var passCheckRules = `table ip egbench_check {
	counter flood {}
	chain pre {
		type filter hook prerouting priority -400; policy accept;
		udp dport ` + strconv.Itoa(floodPort) + ` counter name "flood"
	}
}
`

// setupPassCheck installs the pass check in the receiver's namespace.
func setupPassCheck(ctx context.Context, l *lab, dir string) error {
	f := filepath.Join(dir, "passcheck.nft")
	if err := os.WriteFile(f, []byte(passCheckRules), 0o600); err != nil {
		return fmt.Errorf("install pass check: %w", err)
	}
	if _, err := l.srvExec(ctx, "nft", "-f", f); err != nil {
		return fmt.Errorf("install pass check: %w", err)
	}
	return nil
}

// nftCounter reads a named nftables counter in the receiver's namespace.
func nftCounter(l *lab, family uint8, table, name string) (uint64, error) {
	var n uint64
	err := inNetns(l.srv, func() error {
		var err error
		n, err = readNftCounter(family, table, name)
		return err
	})
	return n, err
}

// nftMethod describes the nftables dropper in the results.
const nftMethod = "nftables netdev ingress hook on the receiver's veth (priority -500): " +
	"ip saddr @blocklist counter drop; set type ipv4_addr, flags interval, auto-merge"

// writeNftList writes the nftables script that creates the dropper's table
// and set with every prefix, in chunks of add element commands.
func writeNftList(path string, prefixes []netip.Prefix) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write nftables list: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprint(w, "table netdev egbench {\n\tset blocklist { type ipv4_addr; flags interval; auto-merge; }\n}\n")
	const chunk = 10000
	var b []byte
	for i := 0; i < len(prefixes); i += chunk {
		b = append(b[:0], "add element netdev egbench blocklist { "...)
		for j, p := range prefixes[i:min(i+chunk, len(prefixes))] {
			if j > 0 {
				b = append(b, ", "...)
			}
			b = p.AppendTo(b)
		}
		b = append(b, " }\n"...)
		w.Write(b)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write nftables list: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write nftables list: %w", err)
	}
	return nil
}

// loadNftDropper loads the set from listFile and hooks the dropping chain
// onto the receiver's veth, in one transaction: a second nft run would
// first read back the whole set (tens of seconds at 1M entries).
func loadNftDropper(ctx context.Context, l *lab, dir, listFile string) error {
	doc := "include " + strconv.Quote(listFile) + "\n" +
		"table netdev egbench {\n\tcounter dropped {}\n\tchain ingress {\n" +
		"\t\ttype filter hook ingress device " + strconv.Quote(l.srvIf) + " priority -500; policy accept;\n" +
		"\t\tip saddr @blocklist counter name \"dropped\" drop\n\t}\n}\n"
	f := filepath.Join(dir, "dropper.nft")
	if err := os.WriteFile(f, []byte(doc), 0o600); err != nil {
		return fmt.Errorf("load nftables dropper: %w", err)
	}
	if _, err := l.srvExec(ctx, "nft", "-f", f); err != nil {
		return fmt.Errorf("load nftables dropper: %w", err)
	}
	return nil
}
