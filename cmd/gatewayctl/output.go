package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/edgeguard/edgeguard/policy/mgmt/client"
)

// table prints aligned columns; a cell with newlines continues on
// indented lines below its row.
type table struct {
	tw    *tabwriter.Writer
	extra []string
}

func newTable(w io.Writer, head ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.row(head...)
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		if first, rest, ok := strings.Cut(c, "\n"); ok {
			cells[i] = first
			t.extra = append(t.extra, rest)
		}
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
	if len(t.extra) > 0 {
		t.tw.Flush()
		for _, e := range t.extra {
			fmt.Fprintln(t.tw, e)
		}
		t.extra = t.extra[:0]
	}
}

func (t *table) flush() { t.tw.Flush() }

// errWord is a one-word result for a failed call.
func errWord(err error) string {
	var ae *client.APIError
	if !errors.As(err, &ae) {
		return "unreachable"
	}
	switch ae.Status {
	case 401:
		return "unauthorized"
	case 403:
		return "forbidden"
	case 409:
		// "not newer than the current one"; gateways before it said "older".
		if ae.Body.CurrentVersion != nil && (strings.Contains(ae.Body.Error, "not newer") || strings.Contains(ae.Body.Error, "older")) {
			return "stale"
		}
		return "conflict"
	case 400:
		return "invalid"
	case 413:
		return "too-large"
	}
	return "refused"
}

// jsonResult is one target's outcome in --json output.
type jsonResult struct {
	Target     string `json:"target"`
	OK         bool   `json:"ok"`
	Result     any    `json:"result,omitempty"`
	Error      string `json:"error,omitempty"`
	Status     int    `json:"status,omitempty"` // HTTP status of a refusal
	DurationMS int64  `json:"duration_ms"`
}

// printJSON prints every target's outcome as a JSON array and returns
// the exit code.
func printJSON[T any](e *env, rs []client.Result[T]) int {
	out := make([]jsonResult, 0, len(rs))
	for _, r := range rs {
		jr := jsonResult{Target: r.Target.Name, OK: r.Err == nil, DurationMS: r.Duration.Milliseconds()}
		if r.Err != nil {
			jr.Error = r.Err.Error()
			var ae *client.APIError
			if errors.As(r.Err, &ae) {
				jr.Status, jr.Result = ae.Status, ae.Body
			}
		} else {
			jr.Result = r.Value
		}
		out = append(out, jr)
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
	return worst(rs)
}

// progress draws a bar on a terminal while a push uploads.
type progress struct {
	done chan struct{}
	wg   sync.WaitGroup
}

// startProgress shows sent/total on w when w is a terminal and the push is
// large enough to wait for; otherwise it does nothing.
func startProgress(w io.Writer, enabled bool, total int64, sent *atomic.Int64, targets int) *progress {
	p := &progress{done: make(chan struct{})}
	f, ok := w.(*os.File)
	if !enabled || !ok || total < 1<<20 || !isTerminal(f) {
		return p
	}
	start := time.Now()
	p.wg.Go(func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.done:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-tick.C:
			}
			n := sent.Load()
			const width = 30
			fill := int(float64(width) * float64(n) / float64(total))
			rate := float64(n) / time.Since(start).Seconds() / (1 << 20)
			state := "uploading"
			if n >= total {
				state = "applying"
			}
			fmt.Fprintf(w, "\r\033[K%s %.1f/%.1f MiB to %d target(s) [%s%s] %3.0f%% %.1f MiB/s",
				state, float64(n)/(1<<20), float64(total)/(1<<20), targets,
				strings.Repeat("#", fill), strings.Repeat(".", width-fill), 100*float64(n)/float64(total), rate)
		}
	})
	return p
}

func (p *progress) stop() {
	close(p.done)
	p.wg.Wait()
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// countingReader counts bytes read into a shared counter (the progress of
// a fleet push) and reports its size for Content-Length.
type countingReader struct {
	r interface {
		io.Reader
		Size() int64
	}
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingReader) Size() int64 { return c.r.Size() }
