// Package atomicfile writes state files so that a crash at any point leaves
// either the old file or the new one, never a mix: write a temporary file in
// the same directory, fsync it, rename it over the final name, fsync the
// directory.
package atomicfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Write replaces path with what fill writes. An error before the rename
// leaves path as it was (the temporary file is removed); an error from the
// final directory fsync means the new file is in place but may not survive
// a crash, so callers must not assume either content.
func Write(path string, fill func(w io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriterSize(f, 64<<10)
	if err := fill(w); err != nil {
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", f.Name(), err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory, making a rename in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// CorruptInfix is in the name of every state file SetAside moved away.
const CorruptInfix = ".corrupt-"

// SetAside renames the damaged state file at path out of the way, keeping
// it for the operator, and returns its new path: path, CorruptInfix and
// now to the nanosecond (two in one second must not collide).
func SetAside(path string, now time.Time) (string, error) {
	aside := path + CorruptInfix + now.UTC().Format("20060102T150405.000000000Z")
	if err := os.Rename(path, aside); err != nil {
		return "", fmt.Errorf("set aside %s: %w", path, err)
	}
	_ = SyncDir(filepath.Dir(path)) // the rename is best kept, but a lost one only repeats the move
	return aside, nil
}
