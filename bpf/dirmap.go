package bpf

import (
	"fmt"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/edgeguard/edgeguard/bpf/internal/dir24"
)

// dirMap is an IPv4 table's inner map (a BPF_F_MMAPABLE array of pages)
// with its memory mapped into this process for as long as it is open.
// Pages that no packet can read yet (a table being built, a spare being
// reloaded or patched) are copied straight in: one copy, no syscall per
// page and no second copy in the kernel. Pages of the live table go
// through map updates (writePages), whose order the deltas rely on.
type dirMap struct {
	*ebpf.Map
	mem []byte
}

// newDirMap creates an IPv4 table from spec and maps its memory.
func newDirMap(spec *ebpf.MapSpec) (*dirMap, error) {
	m, err := ebpf.NewMap(spec)
	if err != nil {
		return nil, err
	}
	size := int(m.MaxEntries()) * int(m.ValueSize())
	mem, err := unix.Mmap(m.FD(), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("map IPv4 table memory (%d bytes): %w", size, err)
	}
	return &dirMap{Map: m, mem: mem}, nil
}

// copyPages writes runs into the map's memory. Only for a table that no
// packet reads: the copy follows no order.
func (d *dirMap) copyPages(runs []dir24.Run) {
	for _, r := range runs {
		if len(r.Pages) == 0 {
			continue
		}
		src := unsafe.Slice((*byte)(unsafe.Pointer(&r.Pages[0])), len(r.Pages)*int(unsafe.Sizeof(dir24.Page{})))
		copy(d.mem[int(r.First)*int(unsafe.Sizeof(dir24.Page{})):], src)
	}
}

// Close unmaps the memory and closes the map; nil is a no-op.
func (d *dirMap) Close() error {
	if d == nil {
		return nil
	}
	err := unix.Munmap(d.mem)
	d.mem = nil
	if cerr := d.Map.Close(); err == nil {
		err = cerr
	}
	return err
}

// inner is the map to put in an outer map's slot (nil: empty the slot).
func (d *dirMap) inner() *ebpf.Map {
	if d == nil {
		return nil
	}
	return d.Map
}
