package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/edgeguard/edgeguard/bpf/enforce"
	"github.com/edgeguard/edgeguard/policy/blocklist"
	"github.com/edgeguard/edgeguard/policy/mgmt/api"
	"github.com/edgeguard/edgeguard/policy/mgmt/client"
)

// env is one invocation: options, streams, and the clients once built.
type env struct {
	opt            *options
	stdin          io.Reader
	stdout, stderr io.Writer
	clients        []*client.Client
}

type command func(context.Context) int

// command resolves the positional arguments to a command, checking its
// arguments (usage errors are returned, never printed here).
func (e *env) command(pos []string) (command, error) {
	name, args := pos[0], pos[1:]
	want := func(n int, what string) error {
		if len(args) != n {
			return fmt.Errorf("%s takes %s", name, what)
		}
		return nil
	}
	var run command
	switch name {
	case "version":
		return func(context.Context) int { fmt.Fprintln(e.stdout, "gatewayctl", version); return exitOK }, want(0, "no arguments")
	case "token":
		return e.token(args)
	case "status":
		run = e.status
		if err := want(0, "no arguments"); err != nil {
			return nil, err
		}
	case "reload":
		run = e.reload
		if err := want(0, "no arguments"); err != nil {
			return nil, err
		}
	case "top":
		run = e.top
		if err := want(0, "no arguments"); err != nil {
			return nil, err
		}
		if e.opt.rows < 0 || e.opt.rows > api.TopMax || e.opt.interval < 0 {
			return nil, fmt.Errorf("top: --rows must be 1 to %d and --interval positive", api.TopMax)
		}
	case "bans":
		run = e.bans
		if err := want(0, "no arguments"); err != nil {
			return nil, err
		}
	case "ban", "unban":
		if err := want(1, "one IP address or IPv6 network"); err != nil {
			return nil, err
		}
		src, err := enforce.ParseBanSource(args[0])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if name == "ban" {
			run = func(ctx context.Context) int { return e.ban(ctx, enforce.FormatSource(src)) }
		} else {
			run = func(ctx context.Context) int { return e.unban(ctx, enforce.FormatSource(src)) }
		}
	case "blocklist":
		var err error
		if run, err = e.blocklist(args); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown command %q", name)
	}
	if err := e.connect(); err != nil {
		return nil, err
	}
	return run, nil
}

func (e *env) blocklist(args []string) (command, error) {
	if len(args) == 0 {
		return nil, errors.New("blocklist needs a subcommand: info, push, add, remove, test, export")
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "info":
		if len(args) != 0 {
			return nil, errors.New("blocklist info takes no arguments")
		}
		return e.info, nil
	case "push":
		if len(args) != 1 {
			return nil, errors.New("blocklist push takes one FILE (- for stdin)")
		}
		return e.push(args[0])
	case "add", "remove":
		if len(args) == 0 {
			return nil, fmt.Errorf("blocklist %s takes one or more CIDRs", sub)
		}
		var bad []string
		for _, a := range args {
			if _, err := blocklist.ParseEntry(a); err != nil {
				bad = append(bad, err.Error())
			}
		}
		if len(bad) > 0 {
			return nil, fmt.Errorf("blocklist %s: %s", sub, strings.Join(bad, "; "))
		}
		if sub == "add" {
			return func(ctx context.Context) int { return e.delta(ctx, args, nil) }, nil
		}
		return func(ctx context.Context) int { return e.delta(ctx, nil, args) }, nil
	case "test":
		if len(args) != 1 {
			return nil, errors.New("blocklist test takes one IP address")
		}
		if a, err := netip.ParseAddr(args[0]); err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("blocklist test: %q is not an IP address (without a zone)", args[0])
		}
		return func(ctx context.Context) int { return e.test(ctx, args[0]) }, nil
	case "export":
		if len(args) > 1 {
			return nil, errors.New("blocklist export takes at most one FILE")
		}
		if e.opt.json {
			// The export is the snapshot format push takes back, whole.
			return nil, errors.New("blocklist export writes the text snapshot format; --json does not apply (blocklist info --json has the version and counts)")
		}
		out := ""
		if len(args) == 1 {
			out = args[0]
		}
		return func(ctx context.Context) int { return e.export(ctx, out) }, nil
	}
	return nil, fmt.Errorf("unknown blocklist subcommand %q", sub)
}

// settings is what the config file may set.
type settings struct {
	targets                []string
	targetsFile, tokenFile string
	ca, cert, key, sni     string
	tls                    bool
	timeout                time.Duration
	parallel               int
}

func readSettings(path string) (settings, error) {
	var s settings
	f, err := os.Open(path)
	if err != nil {
		return s, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	rel := func(p string) string { // paths are relative to the file
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(filepath.Dir(path), p)
	}
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			k, v, ok = strings.Cut(line, " ")
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || v == "" {
			return s, fmt.Errorf("read config %s: line %d: want \"key = value\"", path, n)
		}
		switch k {
		case "target":
			s.targets = append(s.targets, v)
		case "targets":
			s.targetsFile = rel(v)
		case "token_file":
			s.tokenFile = rel(v)
		case "ca_file":
			s.ca = rel(v)
		case "cert_file":
			s.cert = rel(v)
		case "key_file":
			s.key = rel(v)
		case "server_name":
			s.sni = v
		case "tls":
			s.tls, err = strconv.ParseBool(v)
		case "timeout":
			s.timeout, err = time.ParseDuration(v)
		case "parallel":
			s.parallel, err = strconv.Atoi(v)
		default:
			return s, fmt.Errorf("read config %s: line %d: unknown key %q", path, n, k)
		}
		if err != nil {
			return s, fmt.Errorf("read config %s: line %d: %s: %w", path, n, k, err)
		}
	}
	return s, sc.Err()
}

func readTargets(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read targets: %w", err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("read targets %s: no target in the file", path)
	}
	return out, nil
}

func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read token: %w", err)
	}
	tok, err := checkToken(string(b))
	if err != nil {
		return "", fmt.Errorf("read token %s: %w", path, err)
	}
	return tok, nil
}

// checkToken returns the token in s, which must hold it alone (surrounding
// white space aside). A file holding more, such as the output of an older
// "token new" with the config lines, would otherwise be sent as a header
// no server accepts and be reported as an unreachable target.
func checkToken(s string) (string, error) {
	tok := strings.TrimSpace(s)
	switch {
	case tok == "":
		return "", errors.New("empty: want the token alone (gatewayctl token new > FILE writes one)")
	case strings.ContainsAny(tok, "\r\n"):
		lines := len(strings.FieldsFunc(tok, func(r rune) bool { return r == '\n' || r == '\r' }))
		return "", fmt.Errorf("%d lines: want the token alone on one line (gatewayctl token new > FILE writes one; the management.tokens lines belong in gatewayd.yaml)", lines)
	case strings.IndexFunc(tok, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		return "", errors.New("white space or control characters inside the token: want the token alone")
	}
	return tok, nil
}

// connect builds one client per target: flags win over the environment,
// which wins over the config file.
func (e *env) connect() error {
	o := e.opt
	var s settings
	if o.config != "" {
		var err error
		if s, err = readSettings(o.config); err != nil {
			return err
		}
	}
	targets := o.targets
	switch {
	case len(targets) > 0:
	case o.targetsFile != "":
		t, err := readTargets(o.targetsFile)
		if err != nil {
			return err
		}
		targets = t
	case len(s.targets) > 0:
		targets = s.targets
	case s.targetsFile != "":
		t, err := readTargets(s.targetsFile)
		if err != nil {
			return err
		}
		targets = t
	default:
		targets = []string{"127.0.0.1:9901"}
	}
	if o.targetsFile != "" && len(o.targets) > 0 {
		return errors.New("--target and --targets are exclusive")
	}
	token := o.token
	var err error
	switch {
	case token != "":
		token, err = checkToken(token)
	case o.tokenFile != "":
		token, err = readToken(o.tokenFile)
	case os.Getenv("EDGEGUARD_TOKEN") != "":
		if token, err = checkToken(os.Getenv("EDGEGUARD_TOKEN")); err != nil {
			err = fmt.Errorf("read token from $EDGEGUARD_TOKEN: %w", err)
		}
	case s.tokenFile != "":
		token, err = readToken(s.tokenFile)
	}
	if err != nil {
		return err
	}
	pick := func(flag, file string) string {
		if flag != "" {
			return flag
		}
		return file
	}
	copt := client.Options{
		Token: token, CAFile: pick(o.ca, s.ca), CertFile: pick(o.cert, s.cert), KeyFile: pick(o.key, s.key),
		ServerName: pick(o.serverName, s.sni), Timeout: o.timeout,
	}
	if copt.Timeout == 0 {
		copt.Timeout = s.timeout
	}
	if o.parallel == 0 {
		o.parallel = s.parallel
	}
	if o.parallel <= 0 {
		o.parallel = 16
	}
	useTLS := o.tls || s.tls || copt.CAFile != "" || copt.CertFile != ""
	seen := map[string]bool{}
	for _, t := range targets {
		tg, err := client.ParseTarget(t, useTLS)
		if err != nil {
			return err
		}
		if seen[tg.URL+tg.Socket] {
			return fmt.Errorf("target %q is listed twice", t)
		}
		seen[tg.URL+tg.Socket] = true
		c, err := client.New(tg, copt)
		if err != nil {
			return err
		}
		e.clients = append(e.clients, c)
	}
	return nil
}

// exitFor maps one target's error to an exit code.
func exitFor(err error) int {
	switch {
	case err == nil:
		return exitOK
	case client.IsAPIError(err):
		return exitRefused
	}
	return exitUnreachable
}

// worst is the exit code of a fleet call: the highest over the targets.
func worst[T any](rs []client.Result[T]) int {
	code := exitOK
	for _, r := range rs {
		code = max(code, exitFor(r.Err))
	}
	return code
}

func (e *env) status(ctx context.Context) int {
	rs := client.Fanout(ctx, e.clients, e.opt.parallel, func(ctx context.Context, c *client.Client) (api.Status, error) {
		return c.Status(ctx)
	})
	if e.opt.json {
		return printJSON(e, rs)
	}
	t := newTable(e.stdout, "TARGET", "RESULT", "UPTIME", "CONFIG", "ENFORCER", "BLOCKLIST", "APPLIED", "BANS", "DROPPED")
	for _, r := range rs {
		if r.Err != nil {
			t.row(r.Target.Name, errWord(r.Err), "", "", "", "", "", "", r.Err.Error())
			continue
		}
		st := r.Value
		enf := st.Enforcer.Mode
		for _, i := range st.Enforcer.Interfaces {
			enf += " " + i.Name + ":" + i.Mode
		}
		bl, applied := "-", "-"
		if b := st.Blocklist; b != nil {
			bl = fmt.Sprintf("v%d %d entries", b.Version, b.Entries)
			applied = fmt.Sprintf("v%d in %s", b.AppliedVersion, roundDur(time.Duration(b.ApplyDuration)))
			if b.LastError != "" {
				applied += " (last error: " + b.LastError + ")"
			}
		}
		dropped := st.Enforcer.Counters["drop_blocklist"] + st.Enforcer.Counters["drop_banned"]
		cfg := fmt.Sprintf("v%d", st.Config.Version)
		if len(st.RestartPending) > 0 {
			cfg += " (" + pendingDetail(st.RestartPending) + ")"
		}
		bans := strconv.Itoa(st.Enforcer.Bans)
		if st.Enforcer.BansSetAside != "" {
			bans += " (damaged state set aside: " + st.Enforcer.BansSetAside + ")"
		}
		t.row(r.Target.Name, "ok", st.Uptime, cfg, enf, bl, applied, bans, strconv.FormatUint(dropped, 10))
	}
	t.flush()
	return worst(rs)
}

func (e *env) reload(ctx context.Context) int {
	rs := client.Fanout(ctx, e.clients, e.opt.parallel, func(ctx context.Context, c *client.Client) (api.ReloadResponse, error) {
		return c.Reload(ctx)
	})
	if e.opt.json {
		return printJSON(e, rs)
	}
	t := newTable(e.stdout, "TARGET", "RESULT", "CONFIG", "DETAIL")
	for _, r := range rs {
		switch {
		case r.Err != nil:
			t.row(r.Target.Name, errWord(r.Err), "", r.Err.Error())
		case !r.Value.Swapped:
			t.row(r.Target.Name, "unchanged", fmt.Sprintf("v%d", r.Value.Version), pendingDetail(r.Value.RestartPending))
		default:
			detail := pendingDetail(r.Value.RestartPending)
			if len(r.Value.RestartRequired) > 0 {
				detail = "restart needed: " + strings.Join(r.Value.RestartRequired, ", ") + " changed, applied only when gatewayd restarts"
			}
			t.row(r.Target.Name, "reloaded", fmt.Sprintf("v%d", r.Value.Version), detail)
		}
	}
	t.flush()
	return worst(rs)
}

// pendingDetail says which restart-only keys wait for a restart.
func pendingDetail(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	return "restart pending: " + strings.Join(keys, ", ")
}

func (e *env) info(ctx context.Context) int {
	rs := client.Fanout(ctx, e.clients, e.opt.parallel, func(ctx context.Context, c *client.Client) (blocklist.Info, error) {
		return c.Info(ctx)
	})
	if e.opt.json {
		return printJSON(e, rs)
	}
	t := newTable(e.stdout, "TARGET", "RESULT", "VERSION", "ENTRIES", "IPV4", "IPV6", "APPLIED", "UPDATED", "DETAIL")
	for _, r := range rs {
		if r.Err != nil {
			t.row(r.Target.Name, errWord(r.Err), "", "", "", "", "", "", r.Err.Error())
			continue
		}
		in := r.Value
		detail := in.LastError
		if in.Restore != nil && len(in.Restore.SetAside) > 0 {
			detail = strings.TrimSpace(detail + " damaged state files set aside at start: " + strings.Join(in.Restore.SetAside, ", "))
		}
		if !in.Persistent {
			detail = strings.TrimSpace(detail + " no management.state_dir: pushes are refused")
		}
		updated := "-"
		if !in.UpdatedAt.IsZero() {
			updated = in.UpdatedAt.Format(time.RFC3339)
		}
		t.row(r.Target.Name, "ok", strconv.FormatUint(in.Version, 10), strconv.Itoa(in.Entries), strconv.Itoa(in.IPv4), strconv.Itoa(in.IPv6),
			strconv.FormatUint(in.AppliedVersion, 10), updated, detail)
	}
	t.flush()
	return worst(rs)
}

// push reads and checks the file once, then streams it to every target.
func (e *env) push(path string) (command, error) {
	var body []byte
	var err error
	if path == "-" {
		body, err = io.ReadAll(e.stdin)
	} else {
		body, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("blocklist push: %w", err)
	}
	format := blocklist.FormatText
	switch e.opt.format {
	case "json":
		format = blocklist.FormatJSON
	case "text":
	case "":
		if strings.HasSuffix(path, ".json") || startsJSON(body) {
			format = blocklist.FormatJSON
		}
	default:
		return nil, fmt.Errorf("blocklist push: --format must be text or json, got %q", e.opt.format)
	}
	version := e.opt.listVersion
	var fileVersion uint64
	var hasFileVersion bool
	if !e.opt.noCheck {
		l, err := blocklist.Parse(bytes.NewReader(body), format, blocklist.Limits{})
		if err != nil {
			var pe *blocklist.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("blocklist push: %s: %d bad lines, nothing sent:\n%s", path, pe.Total, lineReport(pe.Lines, pe.Total))
			}
			return nil, fmt.Errorf("blocklist push: %s: %w", path, err)
		}
		fileVersion, hasFileVersion = l.Version, l.HasVersion
	} else if format == blocklist.FormatJSON {
		// Unchecked, the file's version still decides: sent with another
		// one, the push would be refused, or be stale.
		if fileVersion, hasFileVersion, err = jsonListVersion(body); err != nil {
			return nil, fmt.Errorf("blocklist push: %s: %w", path, err)
		}
	}
	if hasFileVersion {
		if fileVersion == 0 {
			return nil, fmt.Errorf("blocklist push: %s: version 0 is not a version (versions start at 1), nothing sent", path)
		}
		if version != 0 && fileVersion != version {
			return nil, fmt.Errorf("blocklist push: --version %d disagrees with the file's version %d", version, fileVersion)
		}
		version = fileVersion
	}
	if version == 0 {
		version = uint64(time.Now().UnixMilli())
	}
	return func(ctx context.Context) int { return e.pushAll(ctx, body, format, version) }, nil
}

// jsonListVersion reads the top-level "version" of a JSON blocklist
// without parsing its entries.
func jsonListVersion(body []byte) (v uint64, ok bool, err error) {
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimPrefix(body, utf8BOM)))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return 0, false, nil // a bare array has no version; the daemon judges the rest
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return 0, false, fmt.Errorf("not a JSON blocklist: %w", err)
		}
		if t != "version" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return 0, false, fmt.Errorf("not a JSON blocklist: %w", err)
			}
			continue
		}
		var n json.Number
		if err := dec.Decode(&n); err != nil {
			return 0, false, fmt.Errorf("\"version\" is not a number: %w", err)
		}
		v, err := strconv.ParseUint(n.String(), 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("\"version\" %s is not a whole number from 1", n)
		}
		return v, true, nil
	}
	return 0, false, nil
}

var utf8BOM = []byte("\ufeff")

func startsJSON(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && (b[0] == '[' || b[0] == '{')
}

func lineReport(lines []blocklist.LineError, total int) string {
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "  %s\n", l.Error())
	}
	if total > len(lines) {
		fmt.Fprintf(&b, "  ... and %d more\n", total-len(lines))
	}
	return strings.TrimRight(b.String(), "\n")
}

func (e *env) pushAll(ctx context.Context, body []byte, format blocklist.Format, version uint64) int {
	var sent atomic.Int64
	total := int64(len(body)) * int64(len(e.clients))
	bar := startProgress(e.stderr, !e.opt.noProgress && !e.opt.json, total, &sent, len(e.clients))
	rs := client.Fanout(ctx, e.clients, e.opt.parallel, func(ctx context.Context, c *client.Client) (blocklist.Result, error) {
		return c.Push(ctx, &countingReader{r: bytes.NewReader(body), n: &sent}, format, version)
	})
	bar.stop()
	return e.printResults(rs, version)
}

func (e *env) delta(ctx context.Context, add, remove []string) int {
	rs := client.Fanout(ctx, e.clients, e.opt.parallel, func(ctx context.Context, c *client.Client) (blocklist.Result, error) {
		return c.Delta(ctx, 0, add, remove)
	})
	return e.printResults(rs, 0)
}

// printResults prints the per-host table of a push or delta.
func (e *env) printResults(rs []client.Result[blocklist.Result], version uint64) int {
	if e.opt.json {
		return printJSON(e, rs)
	}
	t := newTable(e.stdout, "TARGET", "RESULT", "VERSION", "ENTRIES", "CHANGE", "TIME", "DETAIL")
	for _, r := range rs {
		if r.Err != nil {
			word, detail := errWord(r.Err), r.Err.Error()
			var ae *client.APIError
			if errors.As(r.Err, &ae) {
				if ae.Body.CurrentVersion != nil && version != 0 {
					detail = fmt.Sprintf("%s (push was v%d)", detail, version)
				}
				if len(ae.Body.BadLines) > 0 {
					detail = fmt.Sprintf("%d bad lines, nothing changed:\n%s", ae.Body.BadTotal, lineReport(ae.Body.BadLines, ae.Body.BadTotal))
				}
			}
			t.row(r.Target.Name, word, "", "", "", roundDur(r.Duration), detail)
			continue
		}
		v := r.Value
		word := "ok"
		if v.Unchanged {
			word = "unchanged"
		}
		change := fmt.Sprintf("+%d -%d", v.Added, v.Removed)
		if v.Received > 0 || v.Added+v.Removed+v.Absent+v.Present == 0 {
			change = fmt.Sprintf("%d received, %d duplicate, %d covered", v.Received, v.Duplicates, v.Covered)
		}
		detail := fmt.Sprintf("apply %s, persist %s", roundDur(time.Duration(v.ApplyTime)), roundDur(time.Duration(v.PersistTime)))
		if v.Present > 0 {
			more := ""
			if v.Present > len(v.PresentEntries) {
				more = fmt.Sprintf(" and %d more", v.Present-len(v.PresentEntries))
			}
			detail = fmt.Sprintf("already present: %s%s; ", strings.Join(v.PresentEntries, " "), more) + detail
		}
		if v.Absent > 0 {
			detail = fmt.Sprintf("%d to remove were absent; ", v.Absent) + detail
		}
		if v.Unchanged {
			detail = "nothing changed: " + detail
		}
		t.row(r.Target.Name, word, fmt.Sprintf("v%d", v.Version), strconv.Itoa(v.Entries), change, roundDur(r.Duration), detail)
	}
	t.flush()
	return worst(rs)
}

func (e *env) test(ctx context.Context, ip string) int {
	rs := client.Fanout(ctx, e.clients, e.opt.parallel, func(ctx context.Context, c *client.Client) (api.TestResult, error) {
		return c.Test(ctx, ip)
	})
	code := worst(rs)
	for _, r := range rs {
		if r.Err == nil && !r.Value.Blocked && code == exitOK {
			code = exitNotBlocked
		}
	}
	if e.opt.json {
		printJSON(e, rs)
		return code
	}
	t := newTable(e.stdout, "TARGET", "RESULT", "BLOCKED", "BY", "VERSION")
	for _, r := range rs {
		if r.Err != nil {
			t.row(r.Target.Name, errWord(r.Err), "", r.Err.Error(), "")
			continue
		}
		v := r.Value
		by := strings.Join(v.Entries, " ")
		if v.Banned {
			by = strings.TrimSpace(by + " ban until " + v.BanUntil.Format(time.RFC3339))
		}
		if len(v.AllowedBy) > 0 {
			allowed := "allowlisted " + strings.Join(v.AllowedBy, " ")
			if by != "" {
				allowed += " (overrides " + by + ")"
			}
			by = allowed
		}
		if by == "" {
			by = "-"
		}
		t.row(r.Target.Name, "ok", strconv.FormatBool(v.Blocked), by, fmt.Sprintf("v%d", v.Version))
	}
	t.flush()
	return code
}

func (e *env) export(ctx context.Context, path string) int {
	if len(e.clients) != 1 {
		fmt.Fprintf(e.stderr, "gatewayctl: blocklist export reads one target, got %d\n", len(e.clients))
		return exitUsage
	}
	var w io.Writer = e.stdout
	var f *os.File
	if path != "" {
		var err error
		if f, err = os.CreateTemp(filepath.Dir(path), ".gatewayctl-export-*"); err != nil {
			fmt.Fprintf(e.stderr, "gatewayctl: blocklist export: %v\n", err)
			return exitUsage
		}
		defer os.Remove(f.Name())
		w = f
	}
	if err := e.clients[0].Export(ctx, w); err != nil {
		fmt.Fprintf(e.stderr, "gatewayctl: blocklist export: %s: %v\n", e.clients[0].Target.Name, err)
		return exitFor(err)
	}
	if f != nil {
		if err := f.Close(); err != nil {
			fmt.Fprintf(e.stderr, "gatewayctl: blocklist export: %v\n", err)
			return exitUsage
		}
		if err := os.Rename(f.Name(), path); err != nil {
			fmt.Fprintf(e.stderr, "gatewayctl: blocklist export: %v\n", err)
			return exitUsage
		}
	}
	return exitOK
}

func (e *env) ban(ctx context.Context, ip string) int {
	rs := client.Fanout(ctx, e.clients, e.opt.parallel, func(ctx context.Context, c *client.Client) (api.Ban, error) {
		return c.Ban(ctx, ip, e.opt.banFor)
	})
	if e.opt.json {
		return printJSON(e, rs)
	}
	t := newTable(e.stdout, "TARGET", "RESULT", "SOURCE", "UNTIL")
	for _, r := range rs {
		if r.Err != nil {
			t.row(r.Target.Name, errWord(r.Err), ip, r.Err.Error())
			continue
		}
		until := r.Value.Until.Format(time.RFC3339)
		if p := r.Value.Replaced; p != nil {
			until += " (was " + p.Format(time.RFC3339) + ")"
		}
		t.row(r.Target.Name, "banned", r.Value.IP, until)
	}
	t.flush()
	for _, r := range rs {
		if r.Err == nil && r.Value.Note != "" {
			fmt.Fprintf(e.stderr, "gatewayctl: %s: ban of %s has %s\n", r.Target.Name, r.Value.IP, r.Value.Note)
		}
	}
	return worst(rs)
}

func (e *env) unban(ctx context.Context, ip string) int {
	rs := client.Fanout(ctx, e.clients, e.opt.parallel, func(ctx context.Context, c *client.Client) (api.UnbanResult, error) {
		return c.Unban(ctx, ip)
	})
	if e.opt.json {
		return printJSON(e, rs)
	}
	t := newTable(e.stdout, "TARGET", "RESULT", "SOURCE")
	for _, r := range rs {
		word := r.Value.Result // unbanned, or not banned (nothing changed)
		if r.Value.CoveredBy != "" {
			word += " (still banned by " + r.Value.CoveredBy + ": unban that network)"
		}
		if r.Err != nil {
			word = errWord(r.Err) + ": " + r.Err.Error()
		}
		t.row(r.Target.Name, word, ip)
	}
	t.flush()
	return worst(rs)
}

func (e *env) bans(ctx context.Context) int {
	rs := client.Fanout(ctx, e.clients, e.opt.parallel, func(ctx context.Context, c *client.Client) (api.BanList, error) {
		return c.Bans(ctx)
	})
	if e.opt.json {
		return printJSON(e, rs)
	}
	t := newTable(e.stdout, "TARGET", "SOURCE", "UNTIL", "REMAINING", "NOTE") // an address or an IPv6 network
	for _, r := range rs {
		if r.Err != nil {
			t.row(r.Target.Name, errWord(r.Err), "", r.Err.Error(), "")
			continue
		}
		if len(r.Value.Bans) == 0 {
			t.row(r.Target.Name, "-", "", "", "")
		}
		for _, b := range r.Value.Bans {
			t.row(r.Target.Name, b.IP, b.Until.Format(time.RFC3339), time.Duration(b.Remaining).String(), b.Note)
		}
	}
	t.flush()
	return worst(rs)
}

// token makes or hashes tokens locally; it never contacts a target.
func (e *env) token(args []string) (command, error) {
	if len(args) != 1 || (args[0] != "new" && args[0] != "hash") {
		return nil, errors.New("token takes new or hash")
	}
	if args[0] == "hash" {
		return func(context.Context) int {
			b, err := io.ReadAll(io.LimitReader(e.stdin, 4096))
			tok := strings.TrimSpace(string(b))
			if err != nil || tok == "" {
				fmt.Fprintln(e.stderr, "gatewayctl: token hash: give the token on stdin")
				return exitUsage
			}
			fmt.Fprintln(e.stdout, api.HashToken(tok))
			return exitOK
		}, nil
	}
	name := e.opt.name
	if name == "" {
		name = "operator"
	}
	return func(context.Context) int {
		var raw [32]byte
		if _, err := rand.Read(raw[:]); err != nil {
			fmt.Fprintf(e.stderr, "gatewayctl: token new: %v\n", err)
			return exitUsage
		}
		tok := "egt_" + base64.RawURLEncoding.EncodeToString(raw[:])
		// The token alone on stdout, so that "gatewayctl token new > ops.token"
		// writes a working token file; what goes into gatewayd.yaml on stderr.
		fmt.Fprintln(e.stdout, tok)
		fmt.Fprintf(e.stderr, "# for gatewayd.yaml (the token itself never goes there):\nmanagement:\n  tokens:\n    - {name: %s, hash: %s, role: admin}\n", name, api.HashToken(tok))
		return exitOK
	}, nil
}

// roundDur keeps two or three significant digits.
func roundDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < 100*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}
