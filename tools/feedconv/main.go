// Command feedconv converts blocklist feeds that gatewayctl cannot push as
// they are into the push format: plain text, one address or CIDR per line.
// Plain FireHOL .netset and Spamhaus DROP text files need no conversion.
//
//	feedconv -from range  [FILE]   "a.b.c.d-e.f.g.h", "start end ..." (DShield block.txt) or
//	                               "name:start-end" (P2P) lines; each range becomes CIDRs
//	feedconv -from words  [FILE]   the first field of each line (extra columns ignored)
//	feedconv -from csv -column 2 [-sep ,] [FILE]
//	feedconv -from jsonl -field cidr [FILE]   one JSON object per line (Spamhaus drop_v4.json);
//	                               lines without the field (metadata) are skipped
//
// Lines starting with # or ; are comments in every format, and a first line
// without a digit is a column header. -mask masks host
// bits (1.2.3.4/24 -> 1.2.3.0/24) instead of refusing the line; -skip-bad
// drops bad lines (counted on stderr) instead of failing. Every entry written
// is checked with the same parser gatewayd uses, so the output always pushes.
// Exit codes: 0 converted, 1 bad input lines, 2 usage.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"

	"github.com/edgeguard/edgeguard/policy/blocklist"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

type options struct {
	from    string
	column  int
	sep     string
	field   string
	mask    bool
	skipBad bool
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("feedconv", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.from, "from", "", "input format: range, words, csv, jsonl")
	fs.IntVar(&o.column, "column", 1, "csv: 1-based column holding the address or CIDR")
	fs.StringVar(&o.sep, "sep", ",", "csv: field separator")
	fs.StringVar(&o.field, "field", "cidr", "jsonl: field holding the address or CIDR")
	fs.BoolVar(&o.mask, "mask", false, "mask host bits instead of refusing the entry")
	fs.BoolVar(&o.skipBad, "skip-bad", false, "drop bad lines (counted on stderr) instead of failing")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 1 || o.column < 1 || len(o.sep) == 0 {
		fmt.Fprintln(stderr, "feedconv: usage: feedconv -from range|words|csv|jsonl [flags] [FILE]")
		return 2
	}
	in := stdin
	name := "stdin"
	if fs.NArg() == 1 {
		f, err := os.Open(fs.Arg(0))
		if err != nil {
			fmt.Fprintf(stderr, "feedconv: %v\n", err)
			return 2
		}
		defer f.Close()
		in, name = f, fs.Arg(0)
	}
	conv, err := converter(o)
	if err != nil {
		fmt.Fprintf(stderr, "feedconv: %v\n", err)
		return 2
	}
	w := bufio.NewWriterSize(stdout, 1<<16)
	fmt.Fprintf(w, "# converted by feedconv -from %s from %s\n", o.from, name)
	n, bad, err := convert(in, conv, o, w, stderr)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		fmt.Fprintf(stderr, "feedconv: %v\n", err)
		return 1
	}
	if bad > 0 {
		fmt.Fprintf(stderr, "feedconv: %d bad lines skipped, %d entries written\n", bad, n)
	}
	return 0
}

// lineFunc turns one non-comment line into entries.
type lineFunc func(line string) ([]netip.Prefix, error)

func converter(o options) (lineFunc, error) {
	entry := func(s string) ([]netip.Prefix, error) {
		p, err := parsePrefix(strings.TrimSpace(s), o.mask)
		return []netip.Prefix{p}, err
	}
	switch o.from {
	case "range":
		return parseRange, nil
	case "words":
		return func(line string) ([]netip.Prefix, error) {
			if i := strings.IndexAny(line, "#;"); i >= 0 {
				line = line[:i]
			}
			return entry(strings.Fields(line)[0])
		}, nil
	case "csv":
		return func(line string) ([]netip.Prefix, error) {
			cols := strings.Split(line, o.sep)
			if o.column > len(cols) {
				return nil, fmt.Errorf("no column %d", o.column)
			}
			return entry(strings.Trim(cols[o.column-1], ` "`))
		}, nil
	case "jsonl":
		return func(line string) ([]netip.Prefix, error) {
			var obj map[string]any
			if err := json.Unmarshal([]byte(line), &obj); err != nil {
				return nil, fmt.Errorf("not a JSON object: %v", err)
			}
			v, ok := obj[o.field]
			if !ok {
				return nil, nil // e.g. a metadata line
			}
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("%s is not a string", o.field)
			}
			return entry(s)
		}, nil
	}
	return nil, fmt.Errorf("-from must be range, words, csv or jsonl, got %q", o.from)
}

// convert reads lines, skipping blanks and comments, and writes entries.
func convert(r io.Reader, conv lineFunc, o options, w io.Writer, stderr io.Writer) (n, bad int, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var errs []string
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff"))
		if text == "" || text[0] == '#' || text[0] == ';' {
			continue
		}
		if n == 0 && bad == 0 && !strings.ContainsAny(text, "0123456789") {
			continue // a column header ("Start End Netblock ...")
		}
		ps, err := conv(text)
		if err != nil {
			bad++
			if len(errs) < 20 {
				errs = append(errs, fmt.Sprintf("line %d: %v", line, err))
			}
			continue
		}
		for _, p := range ps {
			fmt.Fprintln(w, p)
			n++
		}
	}
	if err := sc.Err(); err != nil {
		return n, bad, fmt.Errorf("read feed: %w", err)
	}
	if bad > 0 && !o.skipBad {
		return n, bad, fmt.Errorf("convert feed: %d bad lines (-skip-bad to drop them):\n  %s", bad, strings.Join(errs, "\n  "))
	}
	return n, bad, nil
}

// parsePrefix reads an address or CIDR the way gatewayd will, masking host
// bits first when asked.
func parsePrefix(s string, mask bool) (netip.Prefix, error) {
	if mask && strings.Contains(s, "/") {
		if p, err := netip.ParsePrefix(s); err == nil {
			s = p.Masked().String()
		}
	}
	return blocklist.ParseEntry(s)
}

// parseRange reads "a-b", "a - b", "a b [more columns]" or "name:a-b" and
// returns the minimal CIDRs covering exactly a..b.
func parseRange(line string) ([]netip.Prefix, error) {
	if i := strings.LastIndexByte(line, ':'); i >= 0 && strings.Contains(line[i:], "-") && strings.Count(line, ":") == 1 {
		line = line[i+1:] // P2P "name:start-end" (IPv4 only: IPv6 has colons)
	}
	var a, b string
	if x, y, ok := strings.Cut(line, "-"); ok {
		a, b = strings.TrimSpace(x), strings.TrimSpace(y)
	} else if f := strings.Fields(line); len(f) >= 2 {
		a, b = f[0], f[1]
	} else {
		return nil, errors.New("want START-END or START END")
	}
	first, err := netip.ParseAddr(a)
	if err != nil {
		return nil, fmt.Errorf("bad start %q", a)
	}
	last, err := netip.ParseAddr(b)
	if err != nil {
		return nil, fmt.Errorf("bad end %q", b)
	}
	first, last = first.Unmap(), last.Unmap()
	if first.Is4() != last.Is4() || last.Less(first) || first.Zone() != "" || last.Zone() != "" {
		return nil, fmt.Errorf("bad range %s-%s", first, last)
	}
	return rangeCIDRs(first, last), nil
}

// rangeCIDRs returns the minimal CIDRs covering first..last (same family,
// first <= last): at each step the largest aligned block that fits.
func rangeCIDRs(first, last netip.Addr) []netip.Prefix {
	var out []netip.Prefix
	for {
		bits := first.BitLen()
		for bits > 0 {
			p := netip.PrefixFrom(first, bits-1)
			if p.Masked().Addr() != first || lastOf(p).Compare(last) > 0 {
				break
			}
			bits--
		}
		p := netip.PrefixFrom(first, bits)
		out = append(out, p)
		end := lastOf(p)
		if end == last {
			return out
		}
		first = end.Next()
	}
}

// lastOf is the last address of p.
func lastOf(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As16()
	off := 0
	if p.Addr().Is4() {
		off = 96
	}
	for i := off + p.Bits(); i < 128; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a := netip.AddrFrom16(b)
	if p.Addr().Is4() {
		return a.Unmap()
	}
	return a
}
