package attack

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/bench/suite/results"
)

func TestBucketize(t *testing.T) {
	ms := time.Millisecond
	o := ThrottleOptions{Duration: time.Second, Bucket: 250 * ms, MaxDelay: 500 * ms, DelayedAbove: 40 * ms}
	tests := []struct {
		name string
		out  outcome
		want results.ThrottleBucket
		kind string // DropKinds key, or FirstSeen key
	}{
		{"fast 200 passed", outcome{at: 10 * ms, latency: 2 * ms, status: 200}, results.ThrottleBucket{Passed: 1}, "passed"},
		{"slow 200 delayed", outcome{at: 10 * ms, latency: 300 * ms, status: 200}, results.ThrottleBucket{Delayed: 1}, "delayed"},
		{"429 limited", outcome{at: 10 * ms, latency: 2 * ms, status: 429, retryAfter: "1"}, results.ThrottleBucket{Limited: 1}, "limited"},
		{"closed dropped", outcome{at: 10 * ms, drop: "closed"}, results.ThrottleBucket{Dropped: 1}, "closed"},
		{"answered after the ban: stalled", outcome{at: 10 * ms, latency: 2 * time.Second, status: 200}, results.ThrottleBucket{Dropped: 1}, "stalled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := &results.Throttle{}
			// The fastest 200 sets the baseline latency.
			bucketize(res, []outcome{{at: 600 * ms, latency: time.Millisecond, status: 200}, tc.out}, o)
			if len(res.Buckets) != 4 {
				t.Fatalf("%d buckets, want 4", len(res.Buckets))
			}
			got := res.Buckets[0]
			got.T = 0
			if got != tc.want {
				t.Errorf("bucket %+v, want %+v", got, tc.want)
			}
			if _, ok := res.FirstSeen[tc.kind]; !ok && res.DropKinds[tc.kind] == 0 {
				t.Errorf("%s not recorded: first seen %v, drops %v", tc.kind, res.FirstSeen, res.DropKinds)
			}
		})
	}
	res := &results.Throttle{}
	bucketize(res, []outcome{{at: 0, latency: ms, status: 429}}, o)
	if res.RetryAfterMissing != 1 {
		t.Errorf("a 429 without Retry-After was not counted")
	}
}

func TestUDPFrameChecksum(t *testing.T) {
	f := udpFrame(cliMAC, srvMAC, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.7"), floodPort)
	if len(f) != 60 {
		t.Fatalf("frame of %d bytes, want 60 (64 on the wire)", len(f))
	}
	if ipChecksum(f[14:34]) != 0 {
		t.Error("IPv4 header checksum does not verify")
	}
	if got := binary.BigEndian.Uint16(f[36:]); got != floodPort {
		t.Errorf("UDP port %d, want %d", got, floodPort)
	}
}

func TestNetlinkAttrs(t *testing.T) {
	b := appendAttr(nil, 1, []byte("abc\x00"))
	b = appendAttr(b, 2|0x8000, appendAttr(nil, 7, []byte{1, 2, 3})) // nested flag set
	if v, ok := findAttr(b, 1); !ok || string(v) != "abc\x00" {
		t.Errorf("attr 1 = %q %v", v, ok)
	}
	nested, ok := findAttr(b, 2)
	if !ok {
		t.Fatal("nested attr not found")
	}
	if v, ok := findAttr(nested, 7); !ok || len(v) != 3 || v[2] != 3 {
		t.Errorf("attr 7 = %v %v", v, ok)
	}
	if _, ok := findAttr(b[:5], 2); ok {
		t.Error("found an attribute in a truncated buffer")
	}
}
