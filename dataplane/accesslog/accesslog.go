// Package accesslog writes the data plane's access log: one JSON object per
// request and line, formatted on the request's goroutine and appended to a
// shared batch that one background goroutine writes out every few
// milliseconds with one write call.
//
// The package must never block a request: when the batch is full (the disk
// or the pipe behind stdout is slower than the traffic) a line is dropped and
// counted (Logger.Dropped, edgeguard_accesslog_dropped_total), never waited
// for. It must never allocate per line in steady state and never write a
// line that is not valid JSON, whatever bytes a client sent.
package accesslog

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// DefaultBufferLines is the batch length used when New or Open is given
// bufferLines <= 0.
const DefaultBufferLines = 8192

// batchInterval is how often the writer wakes to take the batch and write
// it out. Waking per line cost a goroutine wake-up and a write(2) per
// request (~12% of a proxied request's CPU on 2 cores); a line now reaches
// the file at most this much later.
const batchInterval = 10 * time.Millisecond

// bytesPerLine bounds a batch's bytes as bufferLines times this, so that
// clients sending long paths cannot make a batch grow without bound.
const bytesPerLine = 1 << 10

// stackLine is the size of the buffer a line is formatted into before it is
// copied into the batch; longer lines are formatted on the heap.
const stackLine = 1 << 10

// keepBatch is the most capacity a written batch buffer keeps for reuse; a
// burst that grew it beyond this is let go once written.
const keepBatch = 4 << 20

var (
	droppedTotal     = metrics.GetOrCreateCounter("edgeguard_accesslog_dropped_total")
	writtenTotal     = metrics.GetOrCreateCounter("edgeguard_accesslog_written_total")
	writeErrorsTotal = metrics.GetOrCreateCounter("edgeguard_accesslog_write_errors_total")
)

// errClosed is returned by Reopen after Close.
var errClosed = errors.New("reopen access log: logger closed")

// Entry is one request as the access log records it. Log reads it only
// during the call; slices may be reused afterwards.
type Entry struct {
	Time      time.Time
	ClientIP  netip.Addr
	Identity  string // omitted when empty
	Method    []byte
	Path      []byte
	Route     string
	Status    int
	Upstream  string
	Latency   time.Duration
	BytesIn   int
	BytesOut  int
	RequestID []byte
	TraceID   []byte // W3C trace-id of the request's trace; omitted when empty
	Reason    string // omitted when empty
	Detail    string // precise cause behind Reason; omitted when empty
	Location  []byte // where a WAF detection matched; omitted when empty
}

// Logger is an asynchronous, bounded access log. A nil *Logger is valid and
// logs nothing, which is what Open returns for "off".
//
// Lines go into one batch under a mutex held only for the copy: a channel
// per line cost four channel operations (a free list, the queue, and the
// writer's side of both), about three times the formatting itself.
type Logger struct {
	mu       sync.Mutex
	batch    []byte // lines logged since the writer last took the batch
	lines    int    // lines in batch
	closed   bool
	maxLines int
	maxBytes int

	dropped atomic.Uint64

	reopen chan chan error
	quit   chan struct{}
	done   chan struct{}

	closeOnce sync.Once
	closeErr  error

	// Owned by the writer goroutine.
	path  string   // file path for Reopen; "" when not a file
	file  *os.File // closed by Close; nil when the writer is not ours
	w     io.Writer
	spare []byte // the batch buffer the writer swaps in
}

// New starts a Logger that writes to w, holding at most bufferLines lines
// (DefaultBufferLines when <= 0) between writes. w is not closed by Close.
func New(w io.Writer, bufferLines int) *Logger {
	l := newLogger(w, bufferLines)
	go l.run()
	return l
}

func newLogger(w io.Writer, bufferLines int) *Logger {
	if bufferLines <= 0 {
		bufferLines = DefaultBufferLines
	}
	return &Logger{
		maxLines: bufferLines,
		maxBytes: bufferLines * bytesPerLine,
		reopen:   make(chan chan error),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
		w:        w,
	}
}

// Open starts a Logger for an access log destination: "stdout", "stderr",
// or a file path, opened for appending and created with mode 0640. "off" and
// "" return a nil Logger, which logs nothing.
func Open(path string, bufferLines int) (*Logger, error) {
	switch path {
	case "", "off":
		return nil, nil
	case "stdout":
		return New(os.Stdout, bufferLines), nil
	case "stderr":
		return New(os.Stderr, bufferLines), nil
	}
	f, err := openFile(path)
	if err != nil {
		return nil, fmt.Errorf("open access log: %w", err)
	}
	l := newLogger(f, bufferLines)
	l.path, l.file = path, f
	go l.run()
	return l, nil
}

func openFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
}

// Log formats e and adds it to the batch. It never blocks on the writer:
// when the batch is full, or the Logger is closed, the line is dropped and
// counted.
func (l *Logger) Log(e *Entry) {
	if l == nil {
		return
	}
	var buf [stackLine]byte
	b := appendEntry(buf[:0], e)
	l.mu.Lock()
	if l.closed || l.lines >= l.maxLines || len(l.batch)+len(b) > l.maxBytes {
		l.mu.Unlock()
		l.drop()
		return
	}
	l.batch = append(l.batch, b...)
	l.lines++
	l.mu.Unlock()
}

func (l *Logger) drop() {
	l.dropped.Add(1)
	droppedTotal.Inc()
}

// Dropped returns how many lines this Logger has dropped.
func (l *Logger) Dropped() uint64 {
	if l == nil {
		return 0
	}
	return l.dropped.Load()
}

// Reopen closes and reopens the log file, for log rotation (call it on
// SIGUSR1 or SIGHUP after the file was renamed). Lines logged before the
// call go to the old file. If the file cannot be opened, logging continues
// into the old one and the error is returned. For stdout, stderr and
// writers given to New it does nothing.
func (l *Logger) Reopen() error {
	if l == nil || l.path == "" {
		return nil
	}
	reply := make(chan error, 1)
	select {
	case l.reopen <- reply:
		return <-reply
	case <-l.done:
		return errClosed
	}
}

// Close writes every logged line and closes the file Open opened. Lines
// logged after Close are dropped. It is safe to call more than once.
func (l *Logger) Close() error {
	if l == nil {
		return nil
	}
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		close(l.quit)
		<-l.done
	})
	return l.closeErr
}

// run is the writer goroutine.
func (l *Logger) run() {
	defer close(l.done)
	tick := time.NewTicker(batchInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			l.writeBatch()
		case reply := <-l.reopen:
			reply <- l.reopenFile()
		case <-l.quit:
			// Close marked the Logger closed first: this batch is the last.
			l.writeBatch()
			if l.file != nil {
				if err := l.file.Close(); err != nil {
					l.closeErr = fmt.Errorf("close access log %s: %w", l.path, err)
				}
			}
			return
		}
	}
}

// writeBatch takes the batch, leaving the spare buffer in its place, and
// writes it with one call. A failed write loses that batch, counted.
func (l *Logger) writeBatch() {
	l.mu.Lock()
	b, n := l.batch, l.lines
	l.batch, l.lines = l.spare[:0], 0
	l.mu.Unlock()
	if n > 0 {
		if _, err := l.w.Write(b); err != nil {
			writeErrorsTotal.Add(n)
		} else {
			writtenTotal.Add(n)
		}
	}
	if cap(b) > keepBatch {
		b = make([]byte, 0, keepBatch)
	}
	l.spare = b[:0]
}

// reopenFile writes the batch to the old file, then switches to a fresh
// open of the same path.
func (l *Logger) reopenFile() error {
	l.writeBatch()
	f, err := openFile(l.path)
	if err != nil {
		return fmt.Errorf("reopen access log: %w", err)
	}
	old := l.file
	l.file, l.w = f, f
	if err := old.Close(); err != nil {
		return fmt.Errorf("reopen access log: close old file: %w", err)
	}
	return nil
}

// appendEntry appends e as one JSON line.
func appendEntry(b []byte, e *Entry) []byte {
	b = append(b, `{"ts":"`...)
	b = e.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","client_ip":`...)
	var ip [64]byte
	b = appendBytes(b, e.ClientIP.AppendTo(ip[:0]))
	if e.Identity != "" {
		b = append(b, `,"identity":`...)
		b = appendString(b, e.Identity)
	}
	b = append(b, `,"method":`...)
	b = appendBytes(b, e.Method)
	b = append(b, `,"path":`...)
	b = appendBytes(b, e.Path)
	b = append(b, `,"route":`...)
	b = appendString(b, e.Route)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, `,"upstream":`...)
	b = appendString(b, e.Upstream)
	b = append(b, `,"latency_us":`...)
	b = strconv.AppendInt(b, e.Latency.Microseconds(), 10)
	b = append(b, `,"bytes_in":`...)
	b = strconv.AppendInt(b, int64(e.BytesIn), 10)
	b = append(b, `,"bytes_out":`...)
	b = strconv.AppendInt(b, int64(e.BytesOut), 10)
	b = append(b, `,"request_id":`...)
	b = appendBytes(b, e.RequestID)
	if len(e.TraceID) > 0 {
		b = append(b, `,"trace_id":`...)
		b = appendBytes(b, e.TraceID)
	}
	if e.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendString(b, e.Reason)
	}
	if e.Detail != "" {
		b = append(b, `,"detail":`...)
		b = appendString(b, e.Detail)
	}
	if len(e.Location) > 0 {
		b = append(b, `,"location":`...)
		b = appendBytes(b, e.Location)
	}
	return append(b, "}\n"...)
}
