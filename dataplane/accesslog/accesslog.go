// Package accesslog writes the data plane's access log: one JSON object per
// request and line, formatted on the request's goroutine into a pooled
// buffer and written by one background goroutine through a bufio.Writer.
//
// The package must never block a request: when the bounded queue is full
// (the disk or the pipe behind stdout is slower than the traffic) a line is
// dropped and counted (Logger.Dropped, edgeguard_accesslog_dropped_total),
// never waited for. It must never allocate per line in steady state and never
// write a line that is not valid JSON, whatever bytes a client sent.
package accesslog

import (
	"bufio"
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

// DefaultBufferLines is the queue length used when New or Open is given
// bufferLines <= 0.
const DefaultBufferLines = 8192

// batchInterval is how often the writer wakes to take the queued lines and
// write them out. Waking per line cost a goroutine wake-up and a write(2)
// per request (~12% of a proxied request's CPU on 2 cores); a line now
// reaches the file at most this much later.
const batchInterval = 10 * time.Millisecond

// bufSize is the bufio.Writer size: large enough that a busy log makes few
// write calls.
const bufSize = 64 << 10

// maxPooledLine caps the buffers kept for reuse, so that one huge request
// path does not pin its buffer forever.
const maxPooledLine = 16 << 10

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
type Logger struct {
	queue   chan *line
	free    chan *line
	reopen  chan chan error
	quit    chan struct{}
	done    chan struct{}
	closed  atomic.Bool
	dropped atomic.Uint64

	closeOnce sync.Once
	closeErr  error

	// Owned by the writer goroutine.
	path    string   // file path for Reopen; "" when not a file
	file    *os.File // closed by Close; nil when the writer is not ours
	w       io.Writer
	bw      *bufio.Writer
	pending int // lines in bw since the last successful flush
}

type line struct{ b []byte }

// getLine takes a buffer from the free list, or makes one while the list
// is still warming up. The free list, unlike a sync.Pool, survives garbage
// collections, so a warmed-up logger allocates nothing; it holds at most as
// many buffers as the queue.
func (l *Logger) getLine() *line {
	select {
	case ln := <-l.free:
		return ln
	default:
		return &line{b: make([]byte, 0, 512)}
	}
}

func (l *Logger) putLine(ln *line) {
	if cap(ln.b) > maxPooledLine {
		return
	}
	select {
	case l.free <- ln:
	default:
	}
}

// New starts a Logger that writes to w through a queue of bufferLines lines
// (DefaultBufferLines when <= 0). w is not closed by Close.
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
		queue:  make(chan *line, bufferLines),
		free:   make(chan *line, bufferLines),
		reopen: make(chan chan error),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		w:      w,
		bw:     bufio.NewWriterSize(w, bufSize),
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

// Log formats e and queues it for writing. It never blocks: when the queue
// is full, or the Logger is closed, the line is dropped and counted.
func (l *Logger) Log(e *Entry) {
	if l == nil {
		return
	}
	if l.closed.Load() {
		l.drop()
		return
	}
	ln := l.getLine()
	ln.b = appendEntry(ln.b[:0], e)
	select {
	case l.queue <- ln:
	default:
		l.putLine(ln)
		l.drop()
	}
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

// Close writes every queued line, flushes, and closes the file Open opened.
// Lines logged after Close are dropped. It is safe to call more than once.
func (l *Logger) Close() error {
	if l == nil {
		return nil
	}
	l.closeOnce.Do(func() {
		l.closed.Store(true)
		close(l.quit)
		<-l.done
		// A Log that passed the closed check just before Close may still
		// have queued a line after the writer's last drain.
		for {
			select {
			case ln := <-l.queue:
				l.putLine(ln)
				l.drop()
				continue
			default:
			}
			break
		}
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
			l.drain()
			if l.pending > 0 {
				l.flush()
			}
		case reply := <-l.reopen:
			reply <- l.reopenFile()
		case <-l.quit:
			l.drain()
			l.flush()
			if l.file != nil {
				if err := l.file.Close(); err != nil {
					l.closeErr = fmt.Errorf("close access log %s: %w", l.path, err)
				}
			}
			return
		}
	}
}

// drain writes the queued lines (the bufio.Writer writes out whenever it
// fills) until the queue is empty.
func (l *Logger) drain() {
	for {
		select {
		case ln := <-l.queue:
			l.write(ln)
		default:
			return
		}
	}
}

func (l *Logger) write(ln *line) {
	_, err := l.bw.Write(ln.b)
	l.putLine(ln)
	l.pending++
	if err != nil {
		l.writeFailed()
	}
}

func (l *Logger) flush() {
	if err := l.bw.Flush(); err != nil {
		l.writeFailed()
		return
	}
	writtenTotal.Add(l.pending)
	l.pending = 0
}

// writeFailed counts the lines buffered since the last successful flush as
// lost and resets the writer, whose error would otherwise stick forever.
func (l *Logger) writeFailed() {
	writeErrorsTotal.Add(l.pending)
	l.pending = 0
	l.bw.Reset(l.w)
}

// reopenFile writes what is queued to the old file, then switches to a
// fresh open of the same path.
func (l *Logger) reopenFile() error {
	l.drain()
	l.flush()
	f, err := openFile(l.path)
	if err != nil {
		return fmt.Errorf("reopen access log: %w", err)
	}
	old := l.file
	l.file, l.w = f, f
	l.bw.Reset(f)
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
