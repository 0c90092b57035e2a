package enforce

import (
	"fmt"
	"net/netip"
	"time"
)

// BurstMeter is implemented by enforcers that meter per-source bursts in
// the data path themselves and ban offenders without waiting for user space
// (XDP). The control plane sets the meter with SetBurst and learns of each
// ban from ReadBurstBan, to log, count and persist it.
type BurstMeter interface {
	// SetBurst applies the meter's settings. Turning it off stops metering;
	// bans already written stay until they expire.
	SetBurst(Burst) error
	// ReadBurstBan blocks until the meter bans a source and returns the ban;
	// after Close it returns an error that matches os.ErrClosed.
	ReadBurstBan() (BurstBan, error)
}

// Burst is the compiled configuration of a burst meter (xdp.burst).
type Burst struct {
	// On: meter. Off: pass everything the lists pass.
	On bool
	// SYNRate (per second) and SYNBurst bound new TCP connections (SYN
	// without ACK, any port) per source; SYNRate 0 leaves them unmetered.
	SYNRate  float64
	SYNBurst int
	// PacketRate and PacketBurst bound the packets (TCP and UDP) per source
	// to Ports; PacketRate 0 leaves them unmetered.
	PacketRate  float64
	PacketBurst int
	Ports       []uint16
	// BanFor is how long an offender is banned.
	BanFor time.Duration
	// IPv6Prefix is the length of the IPv6 networks sources are metered and
	// banned by (MinNetBanBits to 128; 128: per address).
	IPv6Prefix int
	// MaxSources is how many sources the meter tracks at once (at least;
	// the XDP table rounds up to a power of two of 4-source sets); a new
	// source takes the place of the least recently active one of its set.
	MaxSources int
}

// Validate checks what a meter can apply.
func (b Burst) Validate() error {
	switch {
	case b.SYNRate < 0 || b.PacketRate < 0:
		return fmt.Errorf("burst: rates must be >= 0, got syn %g, packets %g", b.SYNRate, b.PacketRate)
	case b.SYNRate > 0 && b.SYNBurst < 1, b.PacketRate > 0 && b.PacketBurst < 1:
		return fmt.Errorf("burst: bursts must be >= 1, got syn %d, packets %d", b.SYNBurst, b.PacketBurst)
	case b.SYNRate > 0 && float64(b.SYNBurst-1)/b.SYNRate < MinBurstSpan.Seconds(),
		b.PacketRate > 0 && float64(b.PacketBurst-1)/b.PacketRate < MinBurstSpan.Seconds():
		return fmt.Errorf("burst: a burst must last at least %s at its rate (burst >= rate/%d + 1), got syn %d at %g/s, packets %d at %g/s",
			MinBurstSpan, int(time.Second/MinBurstSpan), b.SYNBurst, b.SYNRate, b.PacketBurst, b.PacketRate)
	case b.On && b.BanFor <= 0:
		return fmt.Errorf("burst: ban duration must be > 0, got %s", b.BanFor)
	case b.IPv6Prefix < MinNetBanBits || b.IPv6Prefix > 128:
		return fmt.Errorf("burst: IPv6 prefix must be %d-128, got %d", MinNetBanBits, b.IPv6Prefix)
	case b.MaxSources < 1:
		return fmt.Errorf("burst: max sources must be >= 1, got %d", b.MaxSources)
	}
	return nil
}

// MinBurstSpan is the shortest a burst may last at its rate. The XDP meter
// counts time in kernel ticks (1-10 ms; 4 ms on most distribution
// kernels): a shorter burst would ban sources that keep to the rate.
const MinBurstSpan = 10 * time.Millisecond

// Bucket names for BurstBan.Bucket and metrics.
const (
	BucketSYN     = "syn"
	BucketPackets = "packets"
)

// BurstBan is one ban the burst meter wrote.
type BurstBan struct {
	Source netip.Prefix // as BanSource returns it
	Until  time.Time
	Bucket string // BucketSYN or BucketPackets
}
