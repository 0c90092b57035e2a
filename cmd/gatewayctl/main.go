// Command gatewayctl drives gatewayd's management API, on one host or a
// fleet: blocklist pushes and deltas, address tests, bans, status, reload.
// It parses flags, builds clients (package policy/mgmt/client), runs the
// command on every target in parallel and prints one result per host.
//
//	gatewayctl [flags] COMMAND [ARGS] [flags]
//
// Run "gatewayctl help" for the commands, flags and exit codes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/edgeguard/edgeguard/policy/mgmt/api"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes.
const (
	exitOK          = 0 // every target did it
	exitRefused     = 1 // a target refused (auth, stale version, bad lines, ...)
	exitUsage       = 2 // bad command line, config file or input file
	exitUnreachable = 3 // a target could not be reached (network, TLS, timeout)
	exitNotBlocked  = 4 // blocklist test: the address is not blocked (on some target)
)

const usage = `gatewayctl drives gatewayd's management API on one host or a fleet.

Usage: gatewayctl [flags] COMMAND [ARGS] [flags]

Commands:
  status                       status of each target (XDP mode, blocklist, bans, config)
  reload                       reload each target's configuration file
  blocklist info               blocklist version and size
  blocklist push FILE          replace the blocklist with FILE ("-": stdin); text
                               (one IP/CIDR per line, # and ; comments) or JSON
      --version N              list version (default: now, in Unix milliseconds);
                               a target holding a newer version refuses the push
      --format text|json       default: from the extension or the first byte
      --no-check               skip the local validation before sending
  blocklist add CIDR...        add entries (a delta: version = current + 1)
  blocklist remove CIDR...     remove entries
  blocklist test IP            is IP blocked, and by which entries or ban?
  blocklist export [FILE]      write the first target's list (default: stdout)
  ban IP [--for 10m]           drop IP for a while (default: the target's xdp.ban_default);
                               IP may be an IPv6 network of /32 or longer (2001:db8:1:2::/64)
  unban IP                     lift that ban
  bans                         list active bans
  top                          live view of one target: requests/s, status classes, busiest
                               clients, deny reasons, XDP drops, bans, upstreams, recent
                               security and anomaly events (Ctrl-C to quit)
      --interval D             refresh every D (default 2s)
      --rows N                 lines per list (default 10, at most 64)
      --once                   print one frame without colours and exit (--json: raw)
  token new [--name NAME]      make a random token: the token alone on stdout (so that
                               "token new > ops.token" writes a token file), the
                               management.tokens line for gatewayd.yaml on stderr
  token hash                   print the hash of a token read from stdin
  version                      print gatewayctl's version

Targets (default 127.0.0.1:9901):
  --target ADDR                host:port, http(s)://host:port or unix:/path; repeat or
                               separate with commas
  --targets FILE               one target per line (# comments)
  --config FILE                settings file (default $EDGEGUARD_CTL_CONFIG); lines of
                               "key = value" with keys target, targets, token_file,
                               ca_file, cert_file, key_file, server_name, tls,
                               timeout, parallel

Authentication:
  --token-file FILE            bearer token file (or $EDGEGUARD_TOKEN; --token TOKEN
                               also works but shows in the process list)
  --ca FILE                    CA of the management TLS certificate
  --cert FILE, --key FILE      client certificate (mTLS)
  --server-name NAME           name to verify in the server certificate
  --tls                        bare host:port targets use https

Output:
  --parallel N                 targets called at once (default 16)
  --timeout D                  per call, upload included (default 5m)
  --json                       machine-readable output
  --no-progress                no progress bar (shown for large pushes on a terminal)

Exit codes: 0 done everywhere; 1 refused by a target; 2 usage or input error;
3 a target unreachable; 4 (blocklist test) not blocked on some target.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, pos, err := parseArgs(args)
	if errors.Is(err, flag.ErrHelp) || (err == nil && len(pos) > 0 && pos[0] == "help") {
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	if err == nil && len(pos) == 0 {
		// No command is a usage error, so that a script whose command
		// variable came out empty does not read as success.
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(stderr, "gatewayctl: %v\n(see gatewayctl help)\n", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{opt: o, stdin: stdin, stdout: stdout, stderr: stderr}
	cmd, err := e.command(pos)
	if err != nil {
		fmt.Fprintf(stderr, "gatewayctl: %v\n(see gatewayctl help)\n", err)
		return exitUsage
	}
	return cmd(ctx)
}

// options are every flag, shared by all commands; parseArgs rejects flags
// given to a command that does not use them.
type options struct {
	targets     []string
	targetsFile string
	config      string
	token       string
	tokenFile   string
	ca          string
	cert, key   string
	serverName  string
	tls         bool
	timeout     time.Duration
	parallel    int
	json        bool
	noProgress  bool

	listVersion uint64
	format      string
	noCheck     bool
	banFor      time.Duration
	name        string
	interval    time.Duration
	rows        int
	once        bool
}

// commandFlags says which commands accept which command-specific flags.
var commandFlags = map[string]string{
	"version":  "blocklist push",
	"format":   "blocklist push",
	"no-check": "blocklist push",
	"for":      "ban",
	"name":     "token new",
	"interval": "top",
	"rows":     "top",
	"once":     "top",
}

func parseArgs(args []string) (*options, []string, error) {
	o := &options{}
	fs := flag.NewFlagSet("gatewayctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Func("target", "", func(s string) error {
		n := len(o.targets)
		for _, t := range strings.Split(s, ",") {
			if t = strings.TrimSpace(t); t != "" {
				o.targets = append(o.targets, t)
			}
		}
		if len(o.targets) == n {
			// --target "$HOST" with HOST unset would otherwise reach the
			// default target: the local gateway.
			return errors.New("--target is empty")
		}
		return nil
	})
	fs.StringVar(&o.targetsFile, "targets", "", "")
	fs.StringVar(&o.config, "config", os.Getenv("EDGEGUARD_CTL_CONFIG"), "")
	fs.StringVar(&o.token, "token", "", "")
	fs.StringVar(&o.tokenFile, "token-file", "", "")
	fs.StringVar(&o.ca, "ca", "", "")
	fs.StringVar(&o.cert, "cert", "", "")
	fs.StringVar(&o.key, "key", "", "")
	fs.StringVar(&o.serverName, "server-name", "", "")
	fs.BoolVar(&o.tls, "tls", false, "")
	fs.DurationVar(&o.timeout, "timeout", 0, "")
	fs.IntVar(&o.parallel, "parallel", 0, "")
	fs.BoolVar(&o.json, "json", false, "")
	fs.BoolVar(&o.noProgress, "no-progress", false, "")
	fs.Uint64Var(&o.listVersion, "version", 0, "")
	fs.StringVar(&o.format, "format", "", "")
	fs.BoolVar(&o.noCheck, "no-check", false, "")
	fs.DurationVar(&o.banFor, "for", 0, "")
	fs.StringVar(&o.name, "name", "", "")
	fs.DurationVar(&o.interval, "interval", 0, "")
	fs.IntVar(&o.rows, "rows", 0, "")
	fs.BoolVar(&o.once, "once", false, "")

	// Flags may come before, between and after positional arguments;
	// everything after "--" is positional.
	var pos, rest []string
	for i, a := range args {
		if a == "--" {
			args, rest = args[:i], args[i+1:]
			break
		}
	}
	for {
		if err := fs.Parse(args); err != nil {
			return nil, nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	pos = append(pos, rest...)
	cmd := strings.Join(pos[:min(len(pos), 2)], " ")
	var bad error
	fs.Visit(func(f *flag.Flag) {
		if want, ok := commandFlags[f.Name]; ok && bad == nil && !strings.HasPrefix(cmd, want) {
			bad = fmt.Errorf("--%s is a flag of %q", f.Name, want)
		}
		// An explicit --for 0s would ban for the server's default, not
		// for nothing: refuse it rather than guess.
		if f.Name == "for" && o.banFor <= 0 && bad == nil {
			bad = fmt.Errorf("--for must be positive, got %s (leave it out for xdp.ban_default)", o.banFor)
		}
		// 0 is what an absent flag leaves: given, it is a mistake.
		if f.Name == "rows" && o.rows <= 0 && bad == nil {
			bad = fmt.Errorf("--rows must be 1 to %d, got %d", api.TopMax, o.rows)
		}
		if f.Name == "interval" && o.interval <= 0 && bad == nil {
			bad = fmt.Errorf("--interval must be positive, got %s", o.interval)
		}
		if f.Name == "timeout" && o.timeout <= 0 && bad == nil {
			bad = fmt.Errorf("--timeout must be positive, got %s", o.timeout)
		}
		if f.Name == "version" && o.listVersion == 0 && bad == nil {
			bad = errors.New("--version must be at least 1 (leave it out to use the file's version, or the time in milliseconds)")
		}
		if f.Name == "parallel" && o.parallel <= 0 && bad == nil {
			bad = fmt.Errorf("--parallel must be at least 1, got %d", o.parallel)
		}
	})
	return o, pos, bad
}
