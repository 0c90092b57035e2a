package bpf

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/edgeguard/edgeguard/bpf/enforce"
	"github.com/edgeguard/edgeguard/bpf/internal/dir24"
	"github.com/edgeguard/edgeguard/bpf/internal/v6front"
	"github.com/edgeguard/edgeguard/bpf/internal/v6tab"
)

// TestObjectFresh fails when xdp/ changed after the object was generated:
// run `go generate ./bpf/...` and commit the result.
func TestObjectFresh(t *testing.T) {
	f, err := os.Open("filter.sha256")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	listed := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("filter.sha256: bad line %q", sc.Text())
		}
		listed[name] = true
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("%s is listed in filter.sha256 but unreadable: %v (run go generate ./bpf/...)", name, err)
		}
		if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s changed since filter_bpfel.o was generated: run go generate ./bpf/... and commit", name)
		}
	}
	entries, err := os.ReadDir("xdp")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if name := filepath.Join("xdp", e.Name()); !listed[name] {
			t.Errorf("%s is not in filter.sha256: run go generate ./bpf/... and commit", name)
		}
	}
}

// TestLayout checks that the Go mirrors of the C types have the sizes BTF
// gives them, that map key and value sizes match what Go writes, that the
// C reasons are enforce.Reason, and that the DIR-24-8 geometry agrees.
func TestLayout(t *testing.T) {
	spec, err := loadFilter()
	if err != nil {
		t.Fatal(err)
	}
	types := []struct {
		c       string
		goValue any
	}{
		{"counter", filterCounter{}},
		{"lpm_v4_key", filterLpmV4Key{}},
		{"lpm_v6_key", filterLpmV6Key{}},
		{"ban_key", filterBanKey{}},
		{"dir_page", filterDirPage{}},
		{"dir_page", dir24.Page{}},
		{"v6_key", filterV6Key{}},
		{"v6_key", v6tab.Key{}},
		{"v6_node", filterV6Node{}},
		{"v6_node", v6tab.Node{}},
		{"burst_cfg", filterBurstCfg{}},
		{"meter", filterMeter{}},
		{"meter_set", filterMeterSet{}},
		{"burst_event", filterBurstEvent{}},
	}
	for _, tc := range types {
		t.Run(tc.c, func(t *testing.T) {
			var st *btf.Struct
			if err := spec.Types.TypeByName(tc.c, &st); err != nil {
				t.Fatal(err)
			}
			if got, want := binary.Size(tc.goValue), int(st.Size); got != want {
				t.Fatalf("Go %T is %d bytes, C struct %s is %d", tc.goValue, got, tc.c, want)
			}
		})
	}

	maps := []struct {
		name       string
		key, value any
	}{
		{"bans", filterBanKey{}, uint64(0)},
		{"stats", uint32(0), filterCounter{}},
		{"layout", uint32(0), uint64(0)},
		{"burst", uint32(0), filterBurstCfg{}},
		{"meters", uint32(0), filterMeterSet{}},
		{"burst_stats", uint32(0), uint64(0)},
		{"block_v6_short", uint32(0), uint64(0)},
		{"lists_disjoint", uint32(0), uint32(0)},
	}
	if n := len(filterMeterSet{}.Way); n != meterWays {
		t.Errorf("struct meter_set has %d ways, meterWays is %d", n, meterWays)
	}
	for _, m := range maps {
		ms := spec.Maps[m.name]
		if int(ms.KeySize) != binary.Size(m.key) || int(ms.ValueSize) != binary.Size(m.value) {
			t.Errorf("map %s: key/value %d/%d bytes, Go writes %d/%d", m.name, ms.KeySize, ms.ValueSize,
				binary.Size(m.key), binary.Size(m.value))
		}
	}
	inner := []struct {
		outer      string
		key, value any
	}{
		{"block_v4", uint32(0), dir24.Page{}},
		{"block_v6", v6tab.Key{}, v6tab.Node{}},
		{"allow_v4", filterLpmV4Key{}, uint8(0)},
		{"allow_v6", filterLpmV6Key{}, uint8(0)},
	}
	for _, m := range inner {
		ms := spec.Maps[m.outer].InnerMap
		if int(ms.KeySize) != binary.Size(m.key) || int(ms.ValueSize) != binary.Size(m.value) {
			t.Errorf("inner map of %s: key/value %d/%d bytes, Go writes %d/%d", m.outer, ms.KeySize, ms.ValueSize,
				binary.Size(m.key), binary.Size(m.value))
		}
	}
	if got, want := spec.Maps["burst_stats"].MaxEntries, uint32(filterBurstCounterBURST_COUNTER_MAX); got != want {
		t.Errorf("burst_stats has %d entries, enum burst_counter %d", got, want)
	}
	if spec.Maps["stats"].MaxEntries != uint32(enforce.NumReasons) {
		t.Errorf("stats has %d entries, enforce has %d reasons", spec.Maps["stats"].MaxEntries, enforce.NumReasons)
	}

	var reasons *btf.Enum
	if err := spec.Types.TypeByName("reason", &reasons); err != nil {
		t.Fatal(err)
	}
	for _, v := range reasons.Values {
		name := strings.ToLower(strings.TrimPrefix(v.Name, "REASON_"))
		if name == "max" {
			if v.Value != uint64(enforce.NumReasons) {
				t.Errorf("REASON_MAX = %d, enforce.NumReasons = %d", v.Value, enforce.NumReasons)
			}
			continue
		}
		if got := enforce.Reason(v.Value).String(); got != name {
			t.Errorf("C %s = %d, but enforce.Reason(%d) is %q", v.Name, v.Value, v.Value, got)
		}
	}

	src, err := os.ReadFile("xdp/filter.c")
	if err != nil {
		t.Fatal(err)
	}
	defines := map[string]uint64{}
	re := regexp.MustCompile(`(?m)^#define ((?:DIR|V6)_\w+) \(?(0x[0-9a-f]+|\d+)u?( << (\d+))?\)?`)
	for _, m := range re.FindAllSubmatch(src, -1) {
		v, err := strconv.ParseUint(string(m[2]), 0, 64)
		if err != nil {
			t.Fatal(err)
		}
		if len(m[4]) > 0 {
			shift, _ := strconv.Atoi(string(m[4]))
			v <<= shift
		}
		defines[string(m[1])] = v
	}
	geometry := map[string]uint64{
		"DIR_PAGE_WORDS":      dir24.PageWords,
		"DIR_TBL24_PAGES":     dir24.Tbl24Pages,
		"DIR_CHUNK_WORDS":     dir24.ChunkWords,
		"DIR_CHUNK_FLAG":      dir24.ChunkFlag,
		"DIR_ONE_FLAG":        dir24.OneFlag,
		"DIR_SUM_PAGES":       dir24.SumPages,
		"DIR_SUM_ONE":         dir24.SumOne,
		"DIR_SUM_CHUNK":       dir24.SumChunk,
		"DIR_FRONT_PAGES":     dir24.FrontPages,
		"DIR_FRONT_PER_PAGE":  dir24.FrontRecordsPerPage,
		"DIR_FRONT_SUM":       dir24.FrontSum,
		"V6_TAG_NODE":         v6tab.TagNode,
		"V6_FRONT_PER_PAGE":   v6front.SetsPerPage,
		"V6_FRONT_MUL":        v6front.Multiplier,
		"V6_FRONT_LEN_TABLE":  v6front.LenTable,
		"V6_FRONT_INCOMPLETE": v6front.Incomplete,
		"V6_FRONT_BITS_SHIFT": v6front.ShortBitsShift,
	}
	for name, want := range geometry {
		if got, ok := defines[name]; !ok || got != want {
			t.Errorf("filter.c %s = %d (found %v), dir24 has %d", name, got, ok, want)
		}
	}
}
