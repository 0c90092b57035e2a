package banstore

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/edgeguard/edgeguard/bpf/enforce"
	"github.com/edgeguard/edgeguard/internal/atomicfile"
)

// The state file is plain text, readable by an operator:
//
//	# edgeguard bans v1
//	203.0.113.7 2026-11-24T21:30:00.123456789Z
//	2001:db8::9 2026-11-24T22:00:00Z
//	2001:db8:1:2::/64 2026-11-24T22:00:00Z
//	# end 3 sha256:<hex of every line above this one, newlines included>
//
// A single address is written bare, an IPv6 network as a CIDR.
//
// The footer carries the entry count and a digest, so a truncated or
// damaged file is detected, never half-loaded.
const (
	header     = "# edgeguard bans v1\n"
	footerTag  = "# end "
	maxFileLen = 64 << 20 // far above the largest ban map
)

// errCorrupt marks a state file that fails its checks.
var errCorrupt = errors.New("damaged ban state file")

// writeFile writes bans (sorted for a stable file) to path atomically
// (internal/atomicfile): a crash at any step leaves the old file or the new
// one.
func writeFile(path string, bans []enforce.Ban) error {
	slices.SortFunc(bans, func(a, b enforce.Ban) int {
		return cmp.Or(a.Source.Addr().Compare(b.Source.Addr()), cmp.Compare(a.Source.Bits(), b.Source.Bits()))
	})
	return atomicfile.Write(path, func(out io.Writer) error {
		h := sha256.New()
		w := io.MultiWriter(out, h)
		io.WriteString(w, header)
		var line []byte
		for _, b := range bans {
			line = append(line[:0], enforce.FormatSource(b.Source)...)
			line = append(line, ' ')
			line = b.Until.UTC().AppendFormat(line, time.RFC3339Nano)
			line = append(line, '\n')
			w.Write(line)
		}
		_, err := io.WriteString(out, footer(len(bans), h.Sum(nil)))
		return err
	})
}

// footer is the last line: entry count and the digest of all lines before.
func footer(n int, digest []byte) string {
	return fmt.Sprintf("%s%d sha256:%s\n", footerTag, n, hex.EncodeToString(digest))
}

// readFile reads a state file. Any defect is an error wrapping errCorrupt
// that names the line.
func readFile(path string) ([]enforce.Ban, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileLen+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	bans, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", errCorrupt, path, err)
	}
	return bans, nil
}

// parse checks and decodes the bytes of a state file.
func parse(data []byte) ([]enforce.Ban, error) {
	if len(data) > maxFileLen {
		return nil, fmt.Errorf("larger than %d bytes", maxFileLen)
	}
	if !bytes.HasPrefix(data, []byte(header)) {
		return nil, errors.New("line 1: missing header " + strconv.Quote(strings.TrimSpace(header)))
	}
	if len(data) == 0 || data[len(data)-1] != '\n' {
		return nil, errors.New("truncated: no final newline")
	}
	i := bytes.LastIndex(data[:len(data)-1], []byte("\n"+footerTag))
	if i < 0 {
		return nil, errors.New("truncated: no footer line")
	}
	body, foot := data[:i+1], string(data[i+1+len(footerTag):len(data)-1])
	count, digest, ok := strings.Cut(foot, " sha256:")
	n, err := strconv.Atoi(count)
	if !ok || err != nil || n < 0 {
		return nil, fmt.Errorf("bad footer %q", foot)
	}
	sum := sha256.Sum256(body)
	if digest != hex.EncodeToString(sum[:]) {
		return nil, errors.New("digest mismatch: contents changed after writing")
	}
	var lines []string
	if payload := string(body[len(header):]); payload != "" {
		lines = strings.Split(strings.TrimSuffix(payload, "\n"), "\n")
	}
	if len(lines) != n {
		return nil, fmt.Errorf("footer says %d entries, file has %d", n, len(lines))
	}
	bans := make([]enforce.Ban, 0, n)
	seen := make(map[netip.Prefix]bool, n)
	for i, l := range lines {
		ss, us, ok := strings.Cut(l, " ")
		src, errS := parseSource(ss)
		u, errU := time.Parse(time.RFC3339Nano, us)
		switch {
		case !ok:
			return nil, fmt.Errorf("line %d: want \"<address or CIDR> <until>\", got %q", i+2, l)
		case errS != nil:
			return nil, fmt.Errorf("line %d: %w", i+2, errS)
		case errU != nil || u.UTC().Year() < 1970 || u.UTC().Year() > 9999:
			return nil, fmt.Errorf("line %d: bad time %q", i+2, us)
		case seen[src]:
			return nil, fmt.Errorf("line %d: %s listed twice", i+2, ss)
		}
		seen[src] = true
		bans = append(bans, enforce.Ban{Source: src, Until: u})
	}
	return bans, nil
}

// parseSource reads a ban source exactly as writeFile writes it: a bare
// address, or an IPv6 network in canonical form.
func parseSource(s string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		q, err := netip.ParsePrefix(s)
		if err != nil || q.IsSingleIP() {
			return p, fmt.Errorf("bad source %q", s)
		}
		p = q
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return p, fmt.Errorf("bad address %q", s)
		}
		if a.Zone() != "" {
			return p, fmt.Errorf("bad source %q: zoned address", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	norm, err := enforce.BanSource(p)
	if err != nil || norm != p {
		return p, fmt.Errorf("bad source %q: not an address or a canonical IPv6 network of /%d or longer", s, enforce.MinNetBanBits)
	}
	return p, nil
}

// setAside renames a damaged file out of the way, keeping it for the
// operator, and returns its new name ("" if even that failed).
func setAside(path string, now time.Time) string {
	aside, err := atomicfile.SetAside(path, now)
	if err != nil {
		return ""
	}
	return filepath.Base(aside)
}
