package config

import (
	"strings"
	"testing"
	"time"
)

func TestXDPBurstDefaults(t *testing.T) {
	l, err := Parse([]byte(validBase), "yaml", "test")
	if err != nil {
		t.Fatal(err)
	}
	b := l.Config.XDP.Burst
	if !b.On() || b.SYNRate != DefaultBurstSYNRate || b.SYNBurst != DefaultBurstSYNBurst ||
		b.PacketRate != DefaultBurstPacketRate || b.PacketBurst != DefaultBurstPacketBurst ||
		b.MaxSources != DefaultBurstMaxSources || b.BanDuration != 0 {
		t.Errorf("defaults not applied: %+v", b)
	}
	l, err = Parse([]byte(validBase+"xdp:\n  burst: {enabled: false, syn_rate: 5, ban_duration: 1h}\n"), "yaml", "test")
	if err != nil {
		t.Fatal(err)
	}
	if b := l.Config.XDP.Burst; b.On() || b.SYNRate != 5 || b.BanDuration != time.Hour {
		t.Errorf("set values not kept: %+v", b)
	}
}

func TestXDPBurstInvalid(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"negative rates and bursts", "xdp:\n  burst: {syn_rate: -1, syn_burst: -2, packet_rate: -3, packet_burst: -4}\n",
			[]string{"xdp.burst.syn_rate: must be >= 1, got -1", "xdp.burst.syn_burst: must be >= 1, got -2",
				"xdp.burst.packet_rate: must be >= 1, got -3", "xdp.burst.packet_burst: must be >= 1, got -4"}},
		{"burst under 10ms of its rate", "xdp:\n  burst: {packet_rate: 100000, packet_burst: 500}\n",
			[]string{"xdp.burst.packet_burst: must last at least 10ms at its rate (>= rate/100 + 1 = 1001), got 500"}},
		{"negative ban", "xdp:\n  burst: {ban_duration: -1s}\n", []string{"xdp.burst.ban_duration: must be >= 0"}},
		{"map too large", "xdp:\n  burst: {max_sources: 100000000}\n", []string{"xdp.burst.max_sources: must be 1-16777216"}},
		{"misspelt key", "xdp:\n  burst: {syn_rat: 5}\n", []string{"syn_rat"}},
		{"ipv6 prefix too short for bans", "rate_limit:\n  ipv6_prefix: 24\n", []string{"xdp.burst.enabled:", "32-128, got 24"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(validBase+tc.yaml), "yaml", "test")
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
	// Off, a short IPv6 prefix is the rate limiter's business alone.
	if _, err := Parse([]byte(validBase+"rate_limit:\n  ipv6_prefix: 24\nxdp:\n  burst: {enabled: false}\n"), "yaml", "test"); err != nil {
		t.Errorf("meter off, ipv6_prefix 24: %v", err)
	}
}
