package membench

import (
	"fmt"

	"github.com/cilium/ebpf"
)

// Programs are the loaded programs and their maps, split filled with its
// 8192 inner arrays (all zero).
type Programs struct {
	memreadObjects
	inners []*ebpf.Map
}

// Load loads the programs; the caller closes them.
func Load() (*Programs, error) {
	spec, err := loadMemread()
	if err != nil {
		return nil, fmt.Errorf("load memread: %w", err)
	}
	p := &Programs{}
	if err := spec.LoadAndAssign(&p.memreadObjects, nil); err != nil {
		return nil, fmt.Errorf("load memread: %w", err)
	}
	n := int(spec.Maps["split"].MaxEntries)
	keys, fds := make([]uint32, n), make([]uint32, n)
	for i := range n {
		m, err := ebpf.NewMap(spec.Maps["inner"].Copy())
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("create inner array %d: %w", i, err)
		}
		p.inners = append(p.inners, m)
		keys[i], fds[i] = uint32(i), uint32(m.FD())
	}
	if _, err := p.Split.BatchUpdate(keys, fds, nil); err != nil {
		p.Close()
		return nil, fmt.Errorf("fill split: %w", err)
	}
	return p, nil
}

// Close releases the programs and maps.
func (p *Programs) Close() error {
	for _, m := range p.inners {
		m.Close()
	}
	return p.memreadObjects.Close()
}
