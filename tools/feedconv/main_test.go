package main

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/edgeguard/edgeguard/policy/blocklist"
)

func TestConvert(t *testing.T) {
	cases := []struct {
		name string
		args []string
		in   string
		want []string
		code int
	}{
		{"ranges", []string{"-from", "range"}, "# DShield\nStart\tEnd\tNetblock\tAttacks\n1.2.3.0\t1.2.3.255\t24\t1000\n10.0.0.1-10.0.0.6\nbad guys:192.0.2.0-192.0.2.127\n2001:db8::-2001:db8::ffff\n",
			[]string{"1.2.3.0/24", "10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32", "192.0.2.0/25", "2001:db8::/112"}, 0},
		{"whole space", []string{"-from", "range"}, "0.0.0.0-255.255.255.255\n", []string{"0.0.0.0/0"}, 0},
		{"reversed range", []string{"-from", "range"}, "10.0.0.9-10.0.0.1\n", nil, 1},
		{"mixed families", []string{"-from", "range"}, "10.0.0.1-2001:db8::1\n", nil, 1},
		{"words", []string{"-from", "words"}, "1.2.3.4 first seen 2024-01-01\n5.6.7.0/24;x\n2001:db8::1\t# c\n", []string{"1.2.3.4/32", "5.6.7.0/24", "2001:db8::1/128"}, 0},
		{"csv column", []string{"-from", "csv", "-column", "2"}, "id,ip,score\n1,\"192.0.2.1\",90\n2,198.51.100.0/24,80\n", []string{"192.0.2.1/32", "198.51.100.0/24"}, 0},
		{"jsonl spamhaus", []string{"-from", "jsonl"}, `{"cidr":"1.10.16.0/20","sblid":"SBL256894","rir":"apnic"}` + "\n" + `{"type":"metadata","timestamp":1700000000,"size":1}` + "\n", []string{"1.10.16.0/20"}, 0},
		{"host bits refused", []string{"-from", "words"}, "10.0.0.1/8\n", nil, 1},
		{"host bits masked", []string{"-from", "words", "-mask"}, "10.0.0.1/8\n", []string{"10.0.0.0/8"}, 0},
		{"bad lines skipped", []string{"-from", "words", "-skip-bad"}, "10.0.0.0/8\nnope\n", []string{"10.0.0.0/8"}, 0},
		{"unknown format", []string{"-from", "xml"}, "", nil, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tc.args, strings.NewReader(tc.in), &out, &errb)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, errb.String())
			}
			if code != 0 {
				return
			}
			// The output is a valid push, with exactly the expected entries.
			l, err := blocklist.ParseText(&out, blocklist.Limits{})
			if err != nil {
				t.Fatalf("output does not parse: %v\n%s", err, out.String())
			}
			var got []string
			for _, e := range l.Entries {
				got = append(got, e.String())
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// checkCover verifies that ps are disjoint, ordered, aligned CIDRs whose
// union is exactly first..last, and that no two could merge (minimal).
func checkCover(t *testing.T, first, last netip.Addr, ps []netip.Prefix) {
	t.Helper()
	next := first
	for i, p := range ps {
		if p.Masked() != p || p.Addr() != next {
			t.Fatalf("%s-%s: CIDR %d %v does not start at %v", first, last, i, p, next)
		}
		if i > 0 && ps[i-1].Bits() == p.Bits() && ps[i-1].Addr() == netip.PrefixFrom(p.Addr(), p.Bits()-1).Masked().Addr() {
			t.Fatalf("%s-%s: %v and %v should have merged", first, last, ps[i-1], p)
		}
		end := lastOf(p)
		if end.Compare(last) > 0 {
			t.Fatalf("%s-%s: %v overshoots", first, last, p)
		}
		if end == last {
			if i != len(ps)-1 {
				t.Fatalf("%s-%s: extra CIDRs after the end", first, last)
			}
			return
		}
		next = end.Next()
	}
	t.Fatalf("%s-%s: cover %v stops short", first, last, ps)
}

func TestRangeCIDRsRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		a, b := r.Uint32(), r.Uint32()
		if r.IntN(2) == 0 {
			b = a + r.Uint32N(5000)
		}
		if b < a {
			a, b = b, a
		}
		first, last := netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), netip.AddrFrom4([4]byte{byte(b >> 24), byte(b >> 16), byte(b >> 8), byte(b)})
		checkCover(t, first, last, rangeCIDRs(first, last))
	}
}

func FuzzRange(f *testing.F) {
	f.Fuzz(func(t *testing.T, line string) {
		ps, err := parseRange(line)
		if err != nil {
			return
		}
		checkCover(t, ps[0].Addr(), lastOf(ps[len(ps)-1]), ps)
		if len(ps) > 256 {
			t.Fatalf("%q: %d CIDRs: a range never needs more than 2*128", line, len(ps))
		}
	})
}
