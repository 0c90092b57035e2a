package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/edgeguard/edgeguard/policy/mgmt/api"
	"github.com/edgeguard/edgeguard/policy/mgmt/client"
)

// ANSI sequences of the live view: home and clear, then bold headings.
const (
	ansiClear = "\x1b[H\x1b[2J"
	ansiBold  = "\x1b[1m"
	ansiReset = "\x1b[0m"
)

// top shows one target's live view: a frame every --interval until
// interrupted, or one plain frame with --once (--json: the raw answer).
func (e *env) top(ctx context.Context) int {
	if len(e.clients) != 1 {
		fmt.Fprintf(e.stderr, "gatewayctl: top reads one target, got %d\n", len(e.clients))
		return exitUsage
	}
	c := e.clients[0]
	rows := e.opt.rows
	if rows == 0 {
		rows = api.TopDefault
	}
	every := e.opt.interval
	if every == 0 {
		every = 2 * time.Second
	}
	var prev *api.Top
	for {
		// A target that stops answering must not freeze the view for the
		// whole --timeout: a frame waits at most two intervals (5s at least).
		fctx, cancel := context.WithTimeout(ctx, max(2*every, 5*time.Second))
		t, err := c.Top(fctx, rows)
		cancel()
		if e.opt.once {
			if err != nil {
				fmt.Fprintf(e.stderr, "gatewayctl: top: %s: %v\n", c.Target.Name, err)
				return exitFor(err)
			}
			if e.opt.json {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				_ = enc.Encode(t)
				return exitOK
			}
			writeFrame(e.stdout, c.Target, &t, nil, false)
			return exitOK
		}
		var b bytes.Buffer
		if err != nil {
			fmt.Fprintf(&b, "%s: %v (retrying every %s)\n", c.Target.Name, err, every)
		} else {
			writeFrame(&b, c.Target, &t, prev, true)
			prev = &t
		}
		rows, cols := termSize(e.stdout)
		// One write per frame: no flicker.
		_, _ = io.WriteString(e.stdout, ansiClear+fit(b.String(), rows, cols))
		select {
		case <-ctx.Done():
			return exitOK
		case <-time.After(every):
		}
	}
}

// writeFrame renders t. Rates of the enforcer's counters need the previous
// frame; the first frame shows totals.
func writeFrame(w io.Writer, tg client.Target, t *api.Top, prev *api.Top, ansi bool) {
	head := func(s string) string {
		if ansi {
			return ansiBold + s + ansiReset
		}
		return s
	}
	fmt.Fprintf(w, "%s  %s  window %s  config v%d\n", head("edgeguard top "+tg.Name), t.Time.UTC().Format("2006-01-02 15:04:05Z"),
		roundDur(time.Duration(t.Window*float64(time.Second))), t.ConfigVersion)
	perSec := func(n uint64) string {
		if t.Window <= 0 {
			return "-"
		}
		return rate(float64(n) / t.Window)
	}
	fmt.Fprintf(w, "requests   %s/s", rate(t.Rate))
	for _, c := range []string{"2xx", "3xx", "4xx", "5xx", "1xx", "other"} {
		n := t.Classes[c]
		if n == 0 && (c == "1xx" || c == "other") {
			continue
		}
		fmt.Fprintf(w, "  %s %s/s", c, perSec(n))
	}
	fmt.Fprintln(w)
	if en := t.Enforcer; en != nil {
		mode := en.Mode
		switch {
		case en.Fallback && en.Why != "":
			mode += " (fallback: " + en.Why + ")"
		case en.Fallback:
			mode += " (fallback)"
		}
		for _, i := range en.Interfaces {
			mode += " " + i.Name + ":" + i.Mode
		}
		fmt.Fprintf(w, "enforcer   %s  %s\n", mode, drops(t, prev))
	}
	bl := "-"
	if b := t.Blocklist; b != nil {
		bl = fmt.Sprintf("v%d %d entries", b.Version, b.Entries)
		if !b.UpdatedAt.IsZero() {
			bl += ", updated " + roundDur(t.Time.Sub(b.UpdatedAt).Truncate(time.Second)) + " ago"
		}
	}
	fmt.Fprintf(w, "blocklist  %s  bans %d\n", bl, t.BansTotal)
	var ups []string
	for _, u := range t.Upstreams {
		s := fmt.Sprintf("%s %d/%d healthy", u.Name, u.Healthy, u.Targets)
		if u.Healthy < u.Targets {
			s = "!" + s
		}
		ups = append(ups, s)
	}
	fmt.Fprintf(w, "upstreams  %s\n", strings.Join(ups, ", "))

	fmt.Fprintf(w, "\n%s\n", head("TOP CLIENTS"))
	tb := newTable(w, "CLIENT", "REQ/S", "DENIED/S", "IN WINDOW")
	for _, c := range t.Clients {
		tb.row(c.Client, rate(c.Rate), perSec(c.Denied), strconv.FormatUint(c.Requests, 10))
	}
	if len(t.Clients) == 0 {
		tb.row("-", "", "", "")
	}
	tb.flush()
	if t.UntrackedRequests > 0 {
		fmt.Fprintf(w, "(%d requests from clients past the counting table: at least %d distinct clients in one second)\n", t.UntrackedRequests, t.DistinctClients)
	}

	fmt.Fprintf(w, "\n%s\n", head("TOP DENY REASONS"))
	tb = newTable(w, "REASON", "PER S", "IN WINDOW")
	for _, r := range t.Reasons {
		tb.row(r.Reason, rate(r.Rate), strconv.FormatUint(r.Count, 10))
	}
	if len(t.Reasons) == 0 {
		tb.row("-", "", "")
	}
	tb.flush()

	if len(t.Bans) > 0 {
		fmt.Fprintf(w, "\n%s\n", head(fmt.Sprintf("BANS (%d)", t.BansTotal)))
		tb = newTable(w, "SOURCE", "REMAINING")
		for _, b := range t.Bans {
			tb.row(b.IP, time.Duration(b.Remaining).String())
		}
		tb.flush()
	}

	var anomalies, events []string
	for _, raw := range t.Events {
		line, anomaly := eventLine(raw)
		if anomaly {
			anomalies = append(anomalies, line)
		} else {
			events = append(events, line)
		}
	}
	if len(anomalies) > 0 {
		fmt.Fprintf(w, "\n%s\n", head("ANOMALIES"))
		for _, l := range anomalies {
			fmt.Fprintln(w, l)
		}
	}
	switch {
	case t.Events == nil:
		fmt.Fprintf(w, "\n%s\nsecurity events are off (security_events.path)\n", head("RECENT SECURITY EVENTS"))
	default:
		fmt.Fprintf(w, "\n%s\n", head(fmt.Sprintf("RECENT SECURITY EVENTS (%d dropped)", t.EventsDropped)))
		for _, l := range events {
			fmt.Fprintln(w, l)
		}
		if len(events) == 0 {
			fmt.Fprintln(w, "-")
		}
	}
}

// termSize is the terminal's size when w is one, else 0, 0.
func termSize(w io.Writer) (rows, cols int) {
	f, ok := w.(*os.File)
	if !ok {
		return 0, 0
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0, 0
	}
	return int(ws.Row), int(ws.Col)
}

// fit cuts a frame to rows lines of cols characters, so that long event
// lines or lists never scroll the view off the screen (0: no limit). The
// lists come first and events last, so the cut takes the oldest events.
func fit(frame string, rows, cols int) string {
	lines := strings.Split(strings.TrimSuffix(frame, "\n"), "\n")
	if rows > 0 && len(lines) > rows-1 {
		lines = lines[:max(rows-1, 1)]
	}
	if cols > 0 {
		for i, l := range lines {
			if strings.Contains(l, "\x1b") { // headings: short, and cutting would lose the reset
				continue
			}
			if r := []rune(l); len(r) > cols {
				lines[i] = string(r[:cols-1]) + "…"
			}
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// drops shows the enforcer's drop verdicts: per second since the previous
// frame, or totals on the first.
func drops(t, prev *api.Top) string {
	var names []string
	for k := range t.Enforcer.Counters {
		if strings.HasPrefix(k, "drop_") {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	dt := 0.0
	if prev != nil && prev.Enforcer != nil {
		dt = t.Time.Sub(prev.Time).Seconds()
	}
	var parts []string
	for _, k := range names {
		n := t.Enforcer.Counters[k]
		if dt > 0 {
			d := float64(n - min(n, prev.Enforcer.Counters[k]))
			parts = append(parts, fmt.Sprintf("%s %s/s", k, rate(d/dt)))
		} else {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
	}
	if dt <= 0 {
		return "drops (total) " + strings.Join(parts, " ")
	}
	return "drops " + strings.Join(parts, " ")
}

// eventLine is one event of the stream on one line: time, type, who,
// where, why, how many.
func eventLine(raw json.RawMessage) (string, bool) {
	var ev map[string]any
	if json.Unmarshal(raw, &ev) != nil {
		return string(raw), false
	}
	str := func(k string) string { s, _ := ev[k].(string); return s }
	ts := str("ts")
	if tm, err := time.Parse(time.RFC3339Nano, ts); err == nil {
		ts = tm.UTC().Format("15:04:05")
	}
	typ := str("type")
	parts := []string{ts, typ}
	for _, k := range []string{"client_ip", "identity", "route", "reason", "action", "result", "detail"} {
		if v := str(k); v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	if n, ok := ev["count"].(float64); ok && n > 1 {
		parts = append(parts, fmt.Sprintf("x%d", int64(n)))
	}
	return strings.Join(parts, " "), strings.HasPrefix(typ, "anomaly")
}

// rate prints a per-second figure with 3 significant digits at most.
func rate(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 1, 64) + "M"
	case v >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k"
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}
