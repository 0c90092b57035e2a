package blocklist

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edgeguard/edgeguard/bpf/cidrset"
	"github.com/edgeguard/edgeguard/internal/atomicfile"
)

// State files. The snapshot holds a whole version; each delta file holds
// one accepted change on top of the version before it. Both are plain text
// (a snapshot is itself a valid list for a push) with a header and a footer
// that carries the entry count and a SHA-256 of the entry lines, so that a
// truncated or damaged file is detected, never half-loaded.
const (
	snapshotName   = "blocklist.snapshot"
	deltaPrefix    = "blocklist.delta."
	tmpPrefix      = ".tmp-"
	corruptInfix   = atomicfile.CorruptInfix
	snapshotHeader = "# edgeguard blocklist snapshot"
	deltaHeader    = "# edgeguard blocklist delta"
	footerPrefix   = "# end: entries="
)

// errCorrupt marks a state file that fails its checks.
var errCorrupt = errors.New("corrupt state file")

// persister writes and reads the state directory. Writes follow the same
// steps every time: write a temporary file, fsync it, rename it over its
// final name, fsync the directory; a crash at any step leaves either the
// old file or the new one, and an update is acknowledged only after the
// directory fsync.
type persister struct {
	dir string

	mu          sync.Mutex // guards renames of the snapshot and delta clean-up
	snapVersion uint64     // version of the snapshot on disk
}

// pending is a written and fsynced temporary file waiting to be renamed
// into place (commit) or removed (abort).
type pending struct {
	tmp, final string
	version    uint64
	snapshot   bool
}

func deltaName(version uint64) string {
	return fmt.Sprintf("%s%020d", deltaPrefix, version)
}

// writeSnapshot writes entries (sorted, unique) as version into a
// temporary file.
func (p *persister) writeSnapshot(version uint64, entries []cidrset.Prefix) (*pending, error) {
	return p.write(snapshotName, version, true, func(w *entryWriter) error {
		w.header(snapshotHeader, version, 0)
		for _, e := range entries {
			w.entry(0, e)
		}
		return nil
	})
}

// writeDelta writes one change into a temporary file.
func (p *persister) writeDelta(version, base uint64, add, remove []cidrset.Prefix) (*pending, error) {
	return p.write(deltaName(version), version, false, func(w *entryWriter) error {
		w.header(deltaHeader, version, base)
		for _, e := range add {
			w.entry('+', e)
		}
		for _, e := range remove {
			w.entry('-', e)
		}
		return nil
	})
}

func (p *persister) write(name string, version uint64, snapshot bool, fill func(*entryWriter) error) (_ *pending, err error) {
	f, err := os.CreateTemp(p.dir, tmpPrefix+name+"-*")
	if err != nil {
		return nil, fmt.Errorf("persist blocklist: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := newEntryWriter(f)
	if err := fill(w); err != nil {
		return nil, err
	}
	if err := w.finish(); err != nil {
		return nil, fmt.Errorf("persist blocklist: write %s: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("persist blocklist: fsync %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("persist blocklist: close %s: %w", f.Name(), err)
	}
	return &pending{tmp: f.Name(), final: filepath.Join(p.dir, name), version: version, snapshot: snapshot}, nil
}

// abort removes a pending file.
func (p *persister) abort(pd *pending) {
	if pd != nil {
		os.Remove(pd.tmp)
	}
}

// commit renames a pending file into place and fsyncs the directory. A
// snapshot older than the one on disk (a compaction overtaken by a push)
// is dropped instead. After a snapshot, deltas it includes are removed.
func (p *persister) commit(pd *pending) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pd.snapshot && pd.version <= p.snapVersion && p.snapVersion != 0 {
		os.Remove(pd.tmp)
		return nil
	}
	if err := os.Rename(pd.tmp, pd.final); err != nil {
		os.Remove(pd.tmp)
		return fmt.Errorf("persist blocklist: %w", err)
	}
	if err := atomicfile.SyncDir(p.dir); err != nil {
		return fmt.Errorf("persist blocklist: %w", err)
	}
	if pd.snapshot {
		p.snapVersion = pd.version
		p.removeDeltasUpTo(pd.version)
	}
	return nil
}

// removeDeltasUpTo deletes delta files a snapshot made redundant. Failing
// to delete one is harmless: restore skips deltas older than the snapshot.
func (p *persister) removeDeltasUpTo(version uint64) {
	names, _ := p.deltaFiles()
	for _, d := range names {
		if d.version <= version {
			os.Remove(filepath.Join(p.dir, d.name))
		}
	}
}

type deltaFile struct {
	name    string
	version uint64
}

// deltaFiles lists delta files by version.
func (p *persister) deltaFiles() ([]deltaFile, error) {
	ents, err := os.ReadDir(p.dir)
	if err != nil {
		return nil, err
	}
	var out []deltaFile
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), deltaPrefix)
		if !ok || strings.Contains(rest, corruptInfix) {
			continue
		}
		v, err := strconv.ParseUint(rest, 10, 64)
		if err != nil || deltaName(v) != e.Name() {
			continue
		}
		out = append(out, deltaFile{e.Name(), v})
	}
	slices.SortFunc(out, func(a, b deltaFile) int { return cmpUint(a.version, b.version) })
	return out, nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// setAside renames a damaged file out of the way, keeping it for the
// operator, and returns its new name.
func (p *persister) setAside(name string, now time.Time) string {
	aside, err := atomicfile.SetAside(filepath.Join(p.dir, name), now)
	if err != nil {
		return name + " (could not be renamed: " + err.Error() + ")"
	}
	return filepath.Base(aside)
}

// RestoreReport says what Open found in the state directory.
type RestoreReport struct {
	// SnapshotVersion is the version of the snapshot loaded (0: none).
	SnapshotVersion uint64 `json:"snapshot_version"`
	// Deltas is how many delta files were applied on top of it, and
	// DeltaEntries how many entry lines they held (both count towards the
	// next compaction).
	Deltas       int `json:"deltas"`
	DeltaEntries int `json:"delta_entries"`
	// SetAside lists damaged files renamed out of the way (kept for the
	// operator); Errors says what was wrong with each.
	SetAside []string `json:"set_aside,omitempty"`
	Errors   []string `json:"errors,omitempty"`
	Duration Duration `json:"duration"`
}

// restore reads the state directory: the snapshot, then every delta in
// version order. Damaged files are set aside and reported; a damaged delta
// also sets aside the deltas after it, which were built on top of it.
func (p *persister) restore(now time.Time) (version uint64, entries []cidrset.Prefix, updated time.Time, rep RestoreReport, err error) {
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return 0, nil, time.Time{}, rep, fmt.Errorf("restore blocklist: %w", err)
	}
	ents, err := os.ReadDir(p.dir)
	if err != nil {
		return 0, nil, time.Time{}, rep, fmt.Errorf("restore blocklist: %w", err)
	}
	for _, e := range ents { // temporary files of writes that never committed
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			os.Remove(filepath.Join(p.dir, e.Name()))
		}
	}
	bad := func(name string, err error) {
		rep.Errors = append(rep.Errors, fmt.Sprintf("%s: %v", name, err))
		rep.SetAside = append(rep.SetAside, p.setAside(name, now))
	}
	version, entries, err = readSnapshot(filepath.Join(p.dir, snapshotName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		version, entries, err = 0, nil, nil
	case errors.Is(err, errCorrupt):
		bad(snapshotName, err)
		version, entries, err = 0, nil, nil
	case err != nil:
		return 0, nil, time.Time{}, rep, fmt.Errorf("restore blocklist: %w", err)
	}
	rep.SnapshotVersion = version
	p.snapVersion = version
	// updated: when the restored version was written, the newest of the
	// files it is read from (the time of the last accepted change).
	modTime := func(name string) {
		if fi, err := os.Stat(filepath.Join(p.dir, name)); err == nil && fi.ModTime().After(updated) {
			updated = fi.ModTime()
		}
	}
	if version > 0 {
		modTime(snapshotName)
	}
	deltas, err := p.deltaFiles()
	if err != nil {
		return 0, nil, time.Time{}, rep, fmt.Errorf("restore blocklist: %w", err)
	}
	broken := false
	for _, d := range deltas {
		switch {
		case d.version <= rep.SnapshotVersion:
			os.Remove(filepath.Join(p.dir, d.name)) // included in the snapshot
			continue
		case broken:
			bad(d.name, fmt.Errorf("%w: follows a damaged delta or a gap", errCorrupt))
			continue
		}
		next, lines, err := readDelta(filepath.Join(p.dir, d.name), version, entries)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				return 0, nil, time.Time{}, rep, fmt.Errorf("restore blocklist: %w", err)
			}
			bad(d.name, err)
			broken = true
			continue
		}
		version, entries = d.version, next
		modTime(d.name)
		rep.Deltas++
		rep.DeltaEntries += lines
	}
	return version, entries, updated, rep, nil
}

// entryWriter writes a state file: header, entry lines, footer with the
// count and hash of the entry lines.
type entryWriter struct {
	w   *bufio.Writer
	h   hash.Hash
	buf []byte
	n   int
}

func newEntryWriter(w io.Writer) *entryWriter {
	return &entryWriter{w: bufio.NewWriterSize(w, 1<<20), h: sha256.New(), buf: make([]byte, 0, 64)}
}

func (w *entryWriter) header(title string, version, base uint64) {
	fmt.Fprintf(w.w, "%s\n# version: %d\n", title, version)
	if title == deltaHeader {
		fmt.Fprintf(w.w, "# base: %d\n", base)
	}
}

// entry writes one entry line, prefixed by op ('+' or '-') in deltas.
func (w *entryWriter) entry(op byte, e cidrset.Prefix) {
	b := w.buf[:0]
	if op != 0 {
		b = append(b, op)
	}
	b = e.Netip().AppendTo(b)
	b = append(b, '\n')
	w.h.Write(b)
	w.w.Write(b)
	w.n++
	w.buf = b
}

func (w *entryWriter) finish() error {
	fmt.Fprintf(w.w, "%s%d sha256=%s\n", footerPrefix, w.n, hex.EncodeToString(w.h.Sum(nil)))
	return w.w.Flush()
}

// stateReader checks a state file while reading it.
type stateReader struct {
	name string
	r    *bufio.Reader
	h    hash.Hash
	line int
	n    int
}

func openState(path string) (*stateReader, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return &stateReader{name: filepath.Base(path), r: bufio.NewReaderSize(f, 1<<20), h: sha256.New()}, f, nil
}

func (s *stateReader) corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s line %d: %s", errCorrupt, s.name, s.line, fmt.Sprintf(format, args...))
}

// next returns the next line without its newline; io.EOF at the end. A
// last line without a newline is damage (a torn write).
func (s *stateReader) next() ([]byte, error) {
	b, err := s.r.ReadSlice('\n')
	s.line++
	switch {
	case err == nil:
		return b[:len(b)-1], nil
	case errors.Is(err, io.EOF) && len(b) == 0:
		return nil, io.EOF
	case errors.Is(err, io.EOF):
		return nil, s.corrupt("truncated line")
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, s.corrupt("line too long")
	}
	return nil, fmt.Errorf("read %s: %w", s.name, err)
}

// headerField reads "# key: N".
func (s *stateReader) headerField(key string) (uint64, error) {
	b, err := s.next()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return 0, s.corrupt("missing %q", key)
		}
		return 0, err
	}
	rest, ok := bytes.CutPrefix(b, []byte("# "+key+": "))
	if !ok {
		return 0, s.corrupt("want %q", "# "+key+": N")
	}
	v, err := strconv.ParseUint(string(rest), 10, 64)
	if err != nil {
		return 0, s.corrupt("bad %s %q", key, quoteText(rest))
	}
	return v, nil
}

// body reads entry lines up to the footer, calling entry for each (op is
// the leading '+' or '-' of a delta line, 0 in a snapshot), and checks the
// footer's count and hash. Nothing after the footer is allowed.
func (s *stateReader) body(ops bool, entry func(op byte, p cidrset.Prefix) error) error {
	for {
		b, err := s.next()
		if errors.Is(err, io.EOF) {
			return s.corrupt("missing footer (truncated file)")
		}
		if err != nil {
			return err
		}
		if rest, ok := bytes.CutPrefix(b, []byte(footerPrefix)); ok {
			want := fmt.Sprintf("%d sha256=%s", s.n, hex.EncodeToString(s.h.Sum(nil)))
			if string(rest) != want {
				return s.corrupt("footer %q does not match the content (%s)", quoteText(rest), want)
			}
			if _, err := s.next(); !errors.Is(err, io.EOF) {
				return s.corrupt("data after the footer")
			}
			return nil
		}
		s.h.Write(b)
		s.h.Write([]byte{'\n'})
		var op byte
		e := b
		if ops {
			if len(b) == 0 || (b[0] != '+' && b[0] != '-') {
				return s.corrupt("want +CIDR or -CIDR")
			}
			op, e = b[0], b[1:]
		}
		p, reason := parseEntry(e)
		if reason != "" {
			return s.corrupt("%q: %s", quoteText(e), reason)
		}
		s.n++
		if err := entry(op, p); err != nil {
			return err
		}
	}
}

// readSnapshot loads a snapshot: its version and its entries, which it
// checks are sorted and unique (as written).
func readSnapshot(path string) (uint64, []cidrset.Prefix, error) {
	s, f, err := openState(path)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	b, err := s.next()
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, nil, err
	}
	if string(b) != snapshotHeader {
		return 0, nil, s.corrupt("not a blocklist snapshot")
	}
	version, err := s.headerField("version")
	if err != nil {
		return 0, nil, err
	}
	var entries []cidrset.Prefix
	err = s.body(false, func(_ byte, p cidrset.Prefix) error {
		if n := len(entries); n > 0 && compare(entries[n-1], p) >= 0 {
			return s.corrupt("entries out of order")
		}
		entries = append(entries, p)
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	return version, entries, nil
}

// readDelta applies a delta file on top of (version, entries), which it
// must be based on, and returns the result.
func readDelta(path string, version uint64, entries []cidrset.Prefix) ([]cidrset.Prefix, int, error) {
	s, f, err := openState(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	b, err := s.next()
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, err
	}
	if string(b) != deltaHeader {
		return nil, 0, s.corrupt("not a blocklist delta")
	}
	v, err := s.headerField("version")
	if err != nil {
		return nil, 0, err
	}
	base, err := s.headerField("base")
	if err != nil {
		return nil, 0, err
	}
	if v <= base || base != version {
		return nil, 0, s.corrupt("version %d on base %d does not follow version %d", v, base, version)
	}
	var add, remove []cidrset.Prefix
	if err := s.body(true, func(op byte, p cidrset.Prefix) error {
		if op == '+' {
			add = append(add, p)
		} else {
			remove = append(remove, p)
		}
		return nil
	}); err != nil {
		return nil, 0, err
	}
	next, _ := applyDelta(entries, sortUnique(add), sortUnique(remove))
	return next, len(add) + len(remove), nil
}
