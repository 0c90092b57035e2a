package bpf

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

const sysBPFFS = "/sys/fs/bpf"

func onBPFFS(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.BPF_FS_MAGIC
}

// ensurePinDir makes path a directory on a bpffs, mounting one if needed:
// at /sys/fs/bpf when path is below it, otherwise on path itself.
func ensurePinDir(path string) (mounted string, err error) {
	if onBPFFS(path) {
		return "", nil
	}
	if onBPFFS(filepath.Dir(path)) {
		if err := os.Mkdir(path, 0o700); err != nil && !os.IsExist(err) {
			return "", fmt.Errorf("create pin directory %s: %w", path, err)
		}
		return "", nil
	}
	target := path
	if strings.HasPrefix(path, sysBPFFS+"/") && !onBPFFS(sysBPFFS) {
		target = sysBPFFS
	}
	if err := os.MkdirAll(target, 0o700); err != nil {
		return "", fmt.Errorf("create bpffs mount point %s: %w", target, err)
	}
	if err := unix.Mount("bpffs", target, "bpf", 0, "mode=0700"); err != nil {
		return "", fmt.Errorf("mount bpffs on %s: %w", target, err)
	}
	if err := os.MkdirAll(path, 0o700); err != nil {
		return target, fmt.Errorf("create pin directory %s: %w", path, err)
	}
	return target, nil
}
