package secevent

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/edgeguard/edgeguard/dataplane/accesslog"
)

// maxBatch is how many bytes of lines the writer collects before a write.
const maxBatch = 64 << 10

// output collects whole lines and writes them to a plain writer or to a
// rotating file. Owned by the writer goroutine.
type output struct {
	w     io.Writer // stdout, stderr or a test writer; nil with file
	file  *rotator
	batch []byte
	lines uint64 // in batch
}

// line adds one encoded line, rotating first when it would take the file
// past its size, or the file is past its age.
func (o *output) line(b []byte, now time.Time) {
	if o.file != nil && o.file.due(int64(len(o.batch)), int64(len(b)), now) {
		o.flush(now)
		o.file.rotate(now)
	}
	o.batch = append(o.batch, b...)
	o.lines++
	if len(o.batch) >= maxBatch {
		o.flush(now)
	}
}

func (o *output) flush(now time.Time) {
	if o.file != nil && len(o.batch) == 0 && o.file.due(0, 0, now) {
		o.file.rotate(now) // an idle file past its age
	}
	if len(o.batch) == 0 {
		return
	}
	var err error
	if o.file != nil {
		err = o.file.write(o.batch, now)
	} else {
		_, err = o.w.Write(o.batch)
	}
	if err != nil {
		writeErrorsTotal.Add(int(o.lines))
	} else {
		writtenTotal.Add(int(o.lines))
	}
	o.batch, o.lines = o.batch[:0], 0
}

// reopen opens the file by its path again, counting from now for its age.
func (o *output) reopen(now time.Time) error {
	if o.file == nil {
		return nil
	}
	return o.file.reopen(now)
}

func (o *output) close() error {
	if o.file == nil {
		return nil
	}
	return o.file.close()
}

// rotator is the event file: appended to, renamed to
// <path>.<UTC time> when it would pass maxSize bytes or is older than
// maxAge (counted from when gatewayd opened or created it), with the
// maxFiles newest rotated files kept.
type rotator struct {
	path     string
	maxSize  int64
	maxAge   time.Duration
	maxFiles int
	f        *os.File // nil after a failed reopen; retried on the next write
	size     int64
	opened   time.Time
}

// rotatedLayout sorts lexically in time order.
const rotatedLayout = "20060102T150405.000000000Z"

func openRotator(path string, maxSize int64, maxAge time.Duration, maxFiles int, now time.Time) (*rotator, error) {
	r := &rotator{path: path, maxSize: maxSize, maxAge: maxAge, maxFiles: maxFiles}
	if err := r.open(now); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rotator) open(now time.Time) error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("stat %s: %w", r.path, err)
	}
	r.f, r.size, r.opened = f, st.Size(), now
	return nil
}

// reopen opens path again, and closes the file it replaces; on failure
// the old file stays in use.
func (r *rotator) reopen(now time.Time) error {
	old := r.f
	if err := r.open(now); err != nil {
		r.f = old
		return fmt.Errorf("reopen security events %s: %w", r.path, err)
	}
	if old != nil {
		_ = old.Close()
	}
	return nil
}

// due reports whether adding n bytes to the file and the pending bytes
// not yet written to it calls for a rotation first. An empty file is never
// rotated: one line larger than maxSize still gets written.
func (r *rotator) due(pending, n int64, now time.Time) bool {
	if r.f == nil || r.size+pending == 0 {
		return false
	}
	return r.size+pending+n > r.maxSize || now.Sub(r.opened) >= r.maxAge
}

func (r *rotator) write(b []byte, now time.Time) error {
	if r.f == nil {
		if err := r.open(now); err != nil {
			return fmt.Errorf("%w: reopen %s: %w", errWrite, r.path, err)
		}
	}
	n, err := r.f.Write(b)
	r.size += int64(n)
	if err != nil {
		return fmt.Errorf("%w: %w", errWrite, err)
	}
	return nil
}

// rotate syncs and renames the file, opens a new one and removes the
// oldest rotated files past maxFiles. Failures are counted; writing goes
// on into whatever file is open.
func (r *rotator) rotate(now time.Time) {
	if err := r.f.Sync(); err != nil {
		writeErrorsTotal.Inc()
	}
	name := r.path + "." + now.UTC().Format(rotatedLayout)
	for i := 1; exists(name); i++ { // two rotations in one clock tick
		name = r.path + "." + now.UTC().Format(rotatedLayout) + "-" + strconv.Itoa(i)
	}
	if err := os.Rename(r.path, name); err != nil {
		writeErrorsTotal.Inc()
		r.opened = now // retry after another max_age, not on every line
		return
	}
	rotationsTotal.Inc()
	_ = r.f.Close()
	r.f = nil
	if err := r.open(now); err != nil {
		writeErrorsTotal.Inc()
	}
	r.prune()
}

func exists(name string) bool {
	_, err := os.Lstat(name)
	return !errors.Is(err, fs.ErrNotExist)
}

// Rotated returns the rotated files of path, oldest first.
func Rotated(path string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("list rotated security events: %w", err)
	}
	prefix := filepath.Base(path) + "."
	var out []string
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, prefix) || e.IsDir() {
			continue
		}
		ts := n[len(prefix):]
		if i := strings.IndexByte(ts, '-'); i >= 0 {
			ts = ts[:i]
		}
		if _, err := time.Parse(rotatedLayout, ts); err == nil {
			out = append(out, filepath.Join(filepath.Dir(path), n))
		}
	}
	slices.SortFunc(out, func(a, b string) int { return rotatedCompare(a, b) })
	return out, nil
}

// rotatedCompare orders rotated names by time, then by the -N suffix.
func rotatedCompare(a, b string) int {
	as, an := splitSuffix(a)
	bs, bn := splitSuffix(b)
	if c := strings.Compare(as, bs); c != 0 {
		return c
	}
	return an - bn
}

func splitSuffix(s string) (string, int) {
	i := strings.LastIndexByte(s, '-')
	if i < 0 || i < strings.LastIndexByte(s, '.') {
		return s, 0
	}
	n, err := strconv.Atoi(s[i+1:])
	if err != nil {
		return s, 0
	}
	return s[:i], n
}

func (r *rotator) prune() {
	old, err := Rotated(r.path)
	if err != nil {
		writeErrorsTotal.Inc()
		return
	}
	for len(old) > r.maxFiles {
		if err := os.Remove(old[0]); err != nil {
			writeErrorsTotal.Inc()
		}
		old = old[1:]
	}
}

func (r *rotator) close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Sync()
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// appendRecord encodes r as one JSON line. count is how many occurrences
// the line stands for; first, when count > 1, is the time of the first.
func appendRecord(b []byte, r *record, count, first int64) []byte {
	b = append(b, `{"ts":"`...)
	b = time.Unix(0, r.time).UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","type":"`...)
	b = append(b, r.typ.String()...)
	b = append(b, `","client_ip":"`...)
	if r.client.IsValid() {
		b = r.client.AppendTo(b)
	}
	b = append(b, `","identity":`...)
	b = accesslog.AppendJSONString(b, r.identity)
	b = append(b, `,"route":`...)
	b = accesslog.AppendJSONString(b, r.route)
	b = append(b, `,"request_id":`...)
	b = accesslog.AppendJSONBytes(b, r.reqID[:r.reqIDLen])
	if r.traceLen > 0 {
		b = append(b, `,"trace_id":`...)
		b = accesslog.AppendJSONBytes(b, r.traceID[:r.traceLen])
	}
	b = append(b, `,"reason":`...)
	b = accesslog.AppendJSONString(b, r.reason)
	if r.detail != "" {
		b = append(b, `,"detail":`...)
		b = accesslog.AppendJSONString(b, r.detail)
	}
	if r.status != 0 {
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(r.status), 10)
	}
	if r.locLen > 0 {
		b = append(b, `,"location":`...)
		b = accesslog.AppendJSONBytes(b, r.loc[:r.locLen])
	}
	b = appendOpt(b, `,"source":`, r.source)
	if r.until != 0 {
		b = append(b, `,"until":"`...)
		b = time.Unix(0, r.until).UTC().AppendFormat(b, time.RFC3339)
		b = append(b, '"')
	}
	b = appendOpt(b, `,"by":`, r.by)
	b = appendOpt(b, `,"action":`, r.action)
	b = appendOpt(b, `,"result":`, r.result)
	if r.entries != 0 {
		b = append(b, `,"entries":`...)
		b = strconv.AppendInt(b, r.entries, 10)
	}
	if r.version != 0 {
		b = append(b, `,"version":`...)
		b = strconv.AppendUint(b, r.version, 10)
	}
	b = append(b, `,"count":`...)
	b = strconv.AppendInt(b, count, 10)
	if count > 1 {
		b = append(b, `,"first_ts":"`...)
		b = time.Unix(0, first).UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}

func appendOpt(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, key...)
	return accesslog.AppendJSONString(b, v)
}
