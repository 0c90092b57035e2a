package bpf

import (
	"fmt"
	"sync/atomic"
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
		if len(r.Pages) > 0 {
			d.copyWords(r.First, unsafe.Slice(&r.Pages[0][0], len(r.Pages)*dir24.PageWords))
		}
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

// writeFront writes the front records of t that changed into the live map
// m (dir24.FrontChanged).
func (x *XDP) writeFront(m *dirMap, t *dir24.Table) error {
	off := dir24.FrontBase * int(unsafe.Sizeof(dir24.Page{}))
	return x.writeLive(m, off, t.FrontChanged(), func(r uint32) [16]uint32 { return t.Record(r) })
}

// writeLive writes 64-byte records (IPv4 front records) into a live map m, whose memory the program reads meanwhile: records
// changed, starting at byte off, with content(r) each. A reader could see a
// record half written, so each is first marked invalid (the high half of
// word 15: readers then take the slow path), and after an RCU grace period,
// when no reader is still inside an old record, written with word 15 last.
// The memory is shared with the program, so the stores go straight in;
// atomic stores keep their order for the CPU and the compiler.
func (x *XDP) writeLive(m *dirMap, off int, changed []uint32, content func(uint32) [16]uint32) error {
	if len(changed) == 0 {
		return nil
	}
	for _, r := range changed {
		rec := m.record(off, r)
		atomic.StoreUint32(&rec[15], atomic.LoadUint32(&rec[15])|0xffff<<16)
	}
	if x.frontHook != nil {
		x.frontHook()
	}
	if err := x.waitGrace(); err != nil {
		return fmt.Errorf("write front records: %w", err)
	}
	for _, r := range changed {
		rec, want := m.record(off, r), content(r)
		for i := range len(want) {
			atomic.StoreUint32(&rec[i], want[i])
		}
	}
	x.frontWrites.Add(uint64(len(changed)))
	return nil
}

// record returns 64-byte record r from byte off of the map's memory.
func (d *dirMap) record(off int, r uint32) *[16]uint32 {
	return (*[16]uint32)(unsafe.Pointer(&d.mem[off+int(r)*64]))
}

// copyWords writes pages of words at map key first into the map's memory.
// Only for a map that no packet reads.
func (d *dirMap) copyWords(first uint32, words []uint32) {
	if len(words) == 0 {
		return
	}
	src := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(words)*4)
	copy(d.mem[int(first)*int(unsafe.Sizeof(dir24.Page{})):], src)
}
