package accesslog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is an io.Writer that tests can read while the logger writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSuffix(b.buf.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func fullEntry() *Entry {
	return &Entry{
		Time:      time.Date(2025, 3, 4, 5, 6, 7, 890123456, time.FixedZone("X", 3600)),
		ClientIP:  netip.MustParseAddr("2001:db8::7"),
		Identity:  "key:abc",
		Method:    []byte("POST"),
		Path:      []byte("/v1/items"),
		Route:     "items",
		Status:    201,
		Upstream:  "10.1.0.1:8080",
		Latency:   1234567 * time.Nanosecond,
		BytesIn:   42,
		BytesOut:  1024,
		RequestID: []byte("0123456789abcdef0123456789abcdef"),
		Reason:    "unauthenticated",
		Detail:    "token_expired",
	}
}

func TestEntryFields(t *testing.T) {
	tests := []struct {
		name  string
		entry *Entry
		want  map[string]any
	}{
		{
			name:  "every field",
			entry: fullEntry(),
			want: map[string]any{
				"ts": "2025-03-04T04:06:07.890123456Z", "client_ip": "2001:db8::7", "identity": "key:abc",
				"method": "POST", "path": "/v1/items", "route": "items", "status": 201.0,
				"upstream": "10.1.0.1:8080", "latency_us": 1234.0, "bytes_in": 42.0, "bytes_out": 1024.0,
				"request_id": "0123456789abcdef0123456789abcdef", "reason": "unauthenticated", "detail": "token_expired",
			},
		},
		{
			name: "empty identity and reason omitted",
			entry: &Entry{
				Time: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), ClientIP: netip.MustParseAddr("198.51.100.7"),
				Method: []byte("GET"), Path: []byte("/"), Status: 404,
			},
			want: map[string]any{
				"ts": "2025-01-01T00:00:00Z", "client_ip": "198.51.100.7",
				"method": "GET", "path": "/", "route": "", "status": 404.0,
				"upstream": "", "latency_us": 0.0, "bytes_in": 0.0, "bytes_out": 0.0, "request_id": "",
			},
		},
		{
			name:  "zero entry",
			entry: &Entry{},
			want: map[string]any{
				"ts": "0001-01-01T00:00:00Z", "client_ip": "", "method": "", "path": "", "route": "",
				"status": 0.0, "upstream": "", "latency_us": 0.0, "bytes_in": 0.0, "bytes_out": 0.0, "request_id": "",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			line := appendEntry(nil, tc.entry)
			if !bytes.HasSuffix(line, []byte("}\n")) || bytes.Count(line, []byte("\n")) != 1 {
				t.Fatalf("not one line: %q", line)
			}
			var got map[string]any
			if err := json.Unmarshal(line, &got); err != nil {
				t.Fatalf("line is not JSON: %v\n%s", err, line)
			}
			if len(got) != len(tc.want) {
				t.Errorf("keys: got %d, want %d: %s", len(got), len(tc.want), line)
			}
			for k, w := range tc.want {
				if got[k] != w {
					t.Errorf("%s = %#v, want %#v", k, got[k], w)
				}
			}
		})
	}
}

func TestEscape(t *testing.T) {
	tests := []struct {
		name, in, want string
		decoded        string // what encoding/json decodes; in when empty
	}{
		{name: "plain", in: "/v1/items", want: `"/v1/items"`},
		{name: "empty", in: "", want: `""`},
		{name: "quote and backslash", in: `a"b\c`, want: `"a\"b\\c"`},
		{name: "newline, CR, tab", in: "a\nb\rc\td", want: `"a\nb\rc\td"`},
		{name: "NUL and other controls", in: "\x00\x01\x1f", want: `"\u0000\u0001\u001f"`},
		{name: "DEL", in: "a\x7fb", want: `"a\u007fb"`},
		{name: "log injection", in: "x\n{\"ts\":\"forged\"}", want: `"x\n{\"ts\":\"forged\"}"`},
		{name: "unicode kept", in: "héllo 世界 😀", want: `"héllo 世界 😀"`},
		{name: "line separators escaped", in: "a\u2028b\u2029c", want: `"a\u2028b\u2029c"`},
		{name: "lone invalid byte", in: "a\xffb", want: `"a\ufffdb"`, decoded: "a\ufffdb"},
		{name: "truncated sequence", in: "a\xe2\x82", want: `"a\ufffd\ufffd"`, decoded: "a\ufffd\ufffd"},
		{name: "overlong slash", in: "\xc0\xaf", want: `"\ufffd\ufffd"`, decoded: "\ufffd\ufffd"},
		{name: "surrogate half", in: "\xed\xa0\x80", want: `"\ufffd\ufffd\ufffd"`, decoded: "\ufffd\ufffd\ufffd"},
		{name: "replacement char kept", in: "\ufffd", want: "\"\ufffd\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(appendString(nil, tc.in))
			if got != tc.want {
				t.Errorf("appendString(%q) = %s, want %s", tc.in, got, tc.want)
			}
			if b := string(appendBytes([]byte("x"), []byte(tc.in))); b != "x"+tc.want {
				t.Errorf("appendBytes differs: %s", b)
			}
			var dec string
			if err := json.Unmarshal([]byte(got), &dec); err != nil {
				t.Fatalf("not a JSON string: %v", err)
			}
			want := tc.decoded
			if want == "" {
				want = tc.in
			}
			if dec != want {
				t.Errorf("decodes to %q, want %q", dec, want)
			}
		})
	}
}

func TestCloseFlushesEverything(t *testing.T) {
	var out syncBuffer
	l := New(&out, 1000)
	const n = 500
	for i := range n {
		e := fullEntry()
		e.Status = i
		l.Log(e)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := out.lines()
	if len(lines) != n || l.Dropped() != 0 {
		t.Fatalf("got %d lines, %d dropped; want %d, 0", len(lines), l.Dropped(), n)
	}
	for i, ln := range lines {
		var v struct{ Status int }
		if err := json.Unmarshal([]byte(ln), &v); err != nil || v.Status != i {
			t.Fatalf("line %d: %v, status %d: %s", i, err, v.Status, ln)
		}
	}
}

// blockingWriter blocks every Write until release is closed, and reports
// on entered when the first Write starts.
type blockingWriter struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
	out     syncBuffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.entered) })
	<-w.release
	return w.out.Write(p)
}

func TestSlowWriterDropsInsteadOfBlocking(t *testing.T) {
	w := &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
	const queue = 4
	l := New(w, queue)
	t.Cleanup(func() { _ = l.Close() })

	l.Log(fullEntry()) // taken by the writer, which then blocks in Write
	select {
	case <-w.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("writer never wrote")
	}

	const extra = 10
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for range queue + extra {
			l.Log(fullEntry())
		}
	}()
	select {
	case <-finished:
	case <-time.After(10 * time.Second):
		t.Fatal("Log blocked on a slow writer")
	}
	if got := l.Dropped(); got != extra {
		t.Errorf("Dropped() = %d, want %d", got, extra)
	}

	close(w.release)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(w.out.lines()); got != 1+queue {
		t.Errorf("wrote %d lines, want %d", got, 1+queue)
	}
	l.Log(fullEntry())
	if got := l.Dropped(); got != extra+1 {
		t.Errorf("Log after Close: Dropped() = %d, want %d", got, extra+1)
	}
}

// failingWriter fails its first n writes.
type failingWriter struct {
	mu   sync.Mutex
	n    int
	good syncBuffer
}

func (w *failingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n > 0 {
		w.n--
		return 0, errors.New("disk full")
	}
	return w.good.Write(p)
}

func TestWriteErrorRecovers(t *testing.T) {
	w := &failingWriter{n: 1}
	l := New(w, 16)
	before := writeErrorsTotal.Get()
	l.Log(fullEntry())
	deadline := time.Now().Add(10 * time.Second)
	for writeErrorsTotal.Get() == before {
		if time.Now().After(deadline) {
			t.Fatal("write error never counted")
		}
		time.Sleep(time.Millisecond)
	}
	e := fullEntry()
	e.Route = "after"
	l.Log(e)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := w.good.lines()
	if len(lines) != 1 || !strings.Contains(lines[0], `"route":"after"`) {
		t.Errorf("after a failed write got %q, want the next line", lines)
	}
}

func TestOpenDestinations(t *testing.T) {
	for _, path := range []string{"", "off"} {
		l, err := Open(path, 0)
		if err != nil || l != nil {
			t.Fatalf("Open(%q) = %v, %v; want nil, nil", path, l, err)
		}
		// A nil Logger is usable.
		l.Log(fullEntry())
		if l.Dropped() != 0 || l.Reopen() != nil || l.Close() != nil {
			t.Fatal("nil Logger is not a no-op")
		}
	}
	for _, path := range []string{"stdout", "stderr"} {
		l, err := Open(path, 0)
		if err != nil || l == nil {
			t.Fatalf("Open(%q) = %v, %v", path, l, err)
		}
		if err := l.Reopen(); err != nil {
			t.Errorf("Reopen(%q): %v", path, err)
		}
		if err := l.Close(); err != nil {
			t.Errorf("Close(%q): %v", path, err)
		}
	}
	if _, err := os.Stdout.Stat(); err != nil {
		t.Errorf("Close closed stdout: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "missing", "access.log")
	if _, err := Open(bad, 0); err == nil || !strings.Contains(err.Error(), "open access log") ||
		!strings.Contains(err.Error(), bad) {
		t.Errorf("Open(%q) error = %v", bad, err)
	}
}

func TestReopenAfterRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	l, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	e := fullEntry()
	e.Route = "before"
	l.Log(e)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	e.Route = "after"
	l.Log(e)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := l.Reopen(); err == nil {
		t.Error("Reopen after Close succeeded")
	}
	for name, want := range map[string]string{path + ".1": "before", path: "after"} {
		lines := readLines(t, name)
		if len(lines) != 1 || !strings.Contains(lines[0], `"route":"`+want+`"`) {
			t.Errorf("%s: got %q, want one %q line", name, lines, want)
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm&^0o640 != 0 {
		t.Errorf("mode %v, want at most 0640", perm)
	}
}

func TestReopenFailureKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "logs")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(sub, "access.log")
	l, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	moved := filepath.Join(dir, "moved")
	if err := os.Rename(sub, moved); err != nil { // the path's directory is gone
		t.Fatal(err)
	}
	if err := l.Reopen(); err == nil || !strings.Contains(err.Error(), "reopen access log") {
		t.Errorf("Reopen error = %v", err)
	}
	l.Log(fullEntry())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if lines := readLines(t, filepath.Join(moved, "access.log")); len(lines) != 1 {
		t.Errorf("old file has %d lines, want 1", len(lines))
	}
}

func readLines(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFlushWhenQueueEmpties(t *testing.T) {
	var out syncBuffer
	l := New(&out, 16)
	t.Cleanup(func() { _ = l.Close() })
	l.Log(fullEntry())
	deadline := time.Now().Add(10 * time.Second)
	for len(out.lines()) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("line not flushed while the logger is idle")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestConcurrentLoggersLoseNothingUncounted logs from several goroutines
// while the writer takes batches: every line is whole, valid JSON, and
// written plus dropped is what was logged, including lines racing Close.
func TestConcurrentLoggersLoseNothingUncounted(t *testing.T) {
	var out syncBuffer
	l := New(&out, 256)
	const writers, each = 4, 5000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := fullEntry()
			for i := range each {
				e.Status = w*each + i
				l.Log(e)
			}
		}()
	}
	wg.Add(1)
	go func() { // Close while the others still log
		defer wg.Done()
		time.Sleep(5 * time.Millisecond)
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	}()
	wg.Wait()
	lines := out.lines()
	if got := uint64(len(lines)) + l.Dropped(); got != writers*each {
		t.Fatalf("%d written + %d dropped = %d, want %d", len(lines), l.Dropped(), got, writers*each)
	}
	seen := make(map[int]bool, len(lines))
	for _, ln := range lines {
		var v struct{ Status int }
		if err := json.Unmarshal([]byte(ln), &v); err != nil {
			t.Fatalf("line %q: %v", ln, err)
		}
		if seen[v.Status] {
			t.Fatalf("status %d written twice", v.Status)
		}
		seen[v.Status] = true
	}
}
