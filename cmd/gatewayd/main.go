// Command gatewayd is the edgeguard appliance: it loads the configuration,
// starts the data and management listeners, and handles signals. It holds no
// logic of its own; see the dataplane and policy packages.
//
//	gatewayd [--config FILE]       run (embedded loopback default without --config)
//	gatewayd check-config FILE     validate FILE, print every error, exit 1 if any
//	gatewayd tune [FILE]           print host settings that matter, with recommendations
//	gatewayd version               print the version (also --version)
//
// Signals: SIGHUP reloads the configuration, SIGUSR1 reopens the access
// log and the security event file, SIGUSR2 upgrades: it starts the gatewayd binary now installed at this
// one's path, hands it the listening sockets and, once it serves, drains
// and exits (upgrade.go); SIGTERM and SIGINT drain in-flight requests and
// exit 0. Under systemd
// (Type=notify) it reports READY, RELOADING, STOPPING and watchdog pings
// over $NOTIFY_SOCKET (internal/sdnotify).
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/edgeguard/edgeguard/dataplane/accesslog"
	"github.com/edgeguard/edgeguard/dataplane/connfilter"
	"github.com/edgeguard/edgeguard/dataplane/secevent"
	"github.com/edgeguard/edgeguard/dataplane/server"
	"github.com/edgeguard/edgeguard/dataplane/tracing"
	"github.com/edgeguard/edgeguard/internal/demoupstream"
	"github.com/edgeguard/edgeguard/internal/handover"
	"github.com/edgeguard/edgeguard/internal/sdnotify"
	"github.com/edgeguard/edgeguard/internal/statelock"
	"github.com/edgeguard/edgeguard/internal/tune"
	"github.com/edgeguard/edgeguard/policy"
	"github.com/edgeguard/edgeguard/policy/blocklist"
	"github.com/edgeguard/edgeguard/policy/config"
	"github.com/edgeguard/edgeguard/policy/mgmt"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	configPath, code, exit := parseArgs(os.Args[1:], os.Stdout, os.Stderr)
	if exit {
		os.Exit(code)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	slog.SetDefault(log) // packages without a logger of their own (upstream health) log here
	if err := run(configPath, log); err != nil {
		log.Error("gatewayd failed", "error", err)
		os.Exit(1)
	}
}

const usage = `usage:
  gatewayd [--config FILE]       run (embedded loopback default without --config)
  gatewayd check-config FILE     validate FILE, print every error, exit 1 if any
  gatewayd tune [FILE]           print host settings that matter, with recommendations
  gatewayd version               print the version (also: --version)

Flags:`

// parseArgs reads the command line. Unless exit is false (run the daemon
// with configPath), the command is done and the process exits with code. An
// argument it does not know is a usage error (exit 2): a typo'd subcommand
// must not start the daemon with the demo config.
func parseArgs(args []string, stdout, stderr io.Writer) (configPath string, code int, exit bool) {
	if len(args) > 0 {
		switch args[0] {
		case "check-config":
			return "", checkConfig(args[1:]), true
		case "tune":
			return "", tuneCmd(args[1:], stdout, stderr), true
		case "version":
			if len(args) > 1 {
				fmt.Fprintf(stderr, "gatewayd version: unexpected argument %q\nusage: gatewayd version\n", args[1])
				return "", 2, true
			}
			fmt.Fprintln(stdout, "gatewayd", version)
			return "", 0, true
		case "help":
			args = append([]string{"-h"}, args[1:]...)
		}
	}
	fs := flag.NewFlagSet("gatewayd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // printed below: to stdout when asked for
	printUsage := func(w io.Writer) {
		fmt.Fprintln(w, usage)
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	path := fs.String("config", os.Getenv("EDGEGUARD_CONFIG"), "configuration file (default: embedded loopback demo config)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout)
			return "", 0, true
		}
		printUsage(stderr) // after the flag package's error
		return "", 2, true
	}
	if fs.NArg() > 0 {
		what := "argument"
		if fs.NArg() == len(args) { // the first word: meant as a subcommand
			what = "command"
		}
		fmt.Fprintf(stderr, "gatewayd: unknown %s %q\n", what, fs.Arg(0))
		printUsage(stderr)
		return "", 2, true
	}
	if *showVersion {
		fmt.Fprintln(stdout, "gatewayd", version)
		return "", 0, true
	}
	return *path, 0, false
}

func checkConfig(args []string) int {
	const usage = "usage: gatewayd check-config FILE\n\nValidate FILE as gatewayd would load it (.yaml, .yml, .json or .toml) and print\nevery problem with its key path; exit 0 when it is valid, 1 when not."
	if len(args) == 1 && isHelp(args[0]) {
		fmt.Println(usage)
		return 0
	}
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, usage)
		return 2
	}
	l, err := config.Load(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// Compile as gatewayd would (key files, schemas of every stage), so
	// that a file check-config passes is one gatewayd accepts.
	warnings, err := policy.Check(l)
	if err != nil {
		fmt.Fprintf(os.Stderr, "invalid config %s:\n%v\n", args[0], err)
		return 1
	}
	for _, w := range append(l.Config.Warnings(), warnings...) {
		fmt.Fprintf(os.Stderr, "warning: %s\n", w)
	}
	fmt.Printf("%s: OK (%d listeners, %d upstreams, %d routes)\n", args[0], len(l.Config.Listeners), len(l.Config.Upstreams), len(l.Config.Routes))
	return 0
}

func tuneCmd(args []string, stdout, stderr io.Writer) int {
	const usage = "usage: gatewayd tune [FILE]\n\nPrint the sysctls, limits and NIC facts that matter to gatewayd (with FILE: for the\nxdp.interfaces it names), what is recommended and why. Changes nothing."
	if len(args) == 1 && isHelp(args[0]) {
		fmt.Fprintln(stdout, usage)
		return 0
	}
	if len(args) > 1 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	var ifaces []string
	if len(args) == 1 {
		l, err := config.Load(args[0])
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		ifaces = l.Config.XDP.Interfaces
	}
	tune.Write(stdout, ifaces)
	return 0
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

func run(configPath string, log *slog.Logger) (err error) {
	// Take signals from the start: a SIGTERM during start-up must drain and
	// exit cleanly, not kill the process with listeners half open.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTERM, syscall.SIGINT)
	// Started by a running gatewayd to replace it (SIGUSR2): its listening
	// sockets come first; a failure below is reported to it, and it goes on.
	pred, err := handover.FromEnv()
	if err != nil {
		return err
	}
	if pred != nil {
		log.Info("taking over from the running gatewayd", "listeners", pred.Keys())
		defer func() {
			if err != nil {
				pred.Failed(err)
			}
		}()
	}
	load := config.LoadDefault
	if configPath != "" {
		load = func() (*config.Loaded, error) { return config.Load(configPath) }
	}
	first, err := load()
	if err != nil {
		return err
	}
	for _, w := range first.Config.Warnings() {
		log.Warn("config: " + w)
	}
	// One gatewayd per state directory, before anything of it (or of the
	// pinned XDP objects) is touched; a successor takes its predecessor's
	// lock.
	if dir := first.Config.Management.StateDir; dir != "" {
		lock, err := statelock.Acquire(dir, pred.File(stateLockKey))
		if err != nil {
			return err
		}
		defer lock.Close()
		stateLock = lock
	}
	// With pinned XDP objects (a restart or an upgrade) the program on the
	// interface is swapped in place and the maps are adopted: no packet
	// passes unfiltered in between. Maps of another layout are recreated,
	// and the previous program filters with the previous ones until the
	// state is restored (enf.Activate below).
	enf, err := policy.OpenEnforcement(first.Config.XDP, log)
	if err != nil {
		return err
	}
	// XDP stays attached and pinned: filtering goes on while gatewayd is
	// down. A closure, not "defer enf.Close()": that would bind the
	// enforcer of now, and PersistBans puts the ban store in front of it,
	// whose Close writes bans still pending (a limiter's ban that could
	// not be written was lost at a clean stop).
	defer func() { _ = enf.Close() }()
	// The persisted bans and blocklist are restored into the enforcer before
	// any data listener accepts a connection.
	mc := first.Config.Management
	if err := enf.PersistBans(mc.StateDir, log); err != nil {
		return err
	}
	events, err := openEvents(first.Config.SecurityEvents)
	if err != nil {
		return err
	}
	defer events.Close()
	// Bans the XDP burst meter writes in the kernel are logged, counted and
	// persisted like the others from here on.
	enf.WatchBurstBans(log, events)
	blocks, err := blocklist.Open(blocklist.Options{Dir: mc.StateDir, Applier: enf, MaxEntries: mc.MaxEntries, Log: log})
	if err != nil {
		return err
	}
	defer blocks.Close()
	spans, err := openTracing(first.Config.Tracing)
	if err != nil {
		return err
	}
	defer spans.Close() // after the drain: the last requests' spans go out too
	opt := policy.Options{Enforcer: enf, BanDefault: first.Config.XDP.BanDefault, Events: events, Tracing: spans != nil}
	if policy.UsesDemo(first.Config) {
		demo, err := demoupstream.Start()
		if err != nil {
			return err
		}
		defer demo.Close()
		opt.DemoAddr = demo.Addr()
		log.Info("built-in demo upstream started", "address", demo.Addr())
	}
	holder, err := policy.NewHolder(load, opt, log)
	if err != nil {
		return err
	}
	defer holder.Close()
	// Bans, blocklist and allowlist are in the enforcer's maps: an XDP
	// program that had to start from new, empty maps takes over from the
	// previous one only now.
	if err := enf.Activate(); err != nil {
		return err
	}
	cfg := holder.Current().Config

	access, err := accesslog.Open(cfg.AccessLog.Path, cfg.AccessLog.Buffer)
	if err != nil {
		return err
	}
	defer access.Close()

	data := make([]keyedListener, 0, len(cfg.Listeners)) // raw sockets, for a successor
	listeners := make([]net.Listener, 0, len(cfg.Listeners))
	for i, l := range cfg.Listeners {
		tlsCfg := holder.ListenerTLS(i)
		key := "data " + l.Name + " " + l.Address
		ln, err := pred.Listener(key)
		if err == nil && ln == nil {
			ln, err = net.Listen("tcp", l.Address)
		}
		if err != nil {
			return fmt.Errorf("listen %s (%s): %w", l.Name, l.Address, err)
		}
		data = append(data, keyedListener{key, ln})
		if enf.Listener != nil {
			ln = connfilter.Wrap(ln, enf.Listener)
		}
		if tlsCfg != nil {
			ln = tls.NewListener(ln, tlsCfg)
		}
		listeners = append(listeners, ln)
		log.Info("data listener started", "name", l.Name, "address", ln.Addr().String(), "tls", tlsCfg != nil)
	}
	srv := server.New(holder, access, log)
	srv.SetEvents(events)
	srv.SetTracing(spans)
	srv.Serve(listeners...)

	mgOpt := mgmt.Options{
		Config: cfg.Management, Policies: holder, Draining: srv.Draining,
		Dropped: access.Dropped, Version: version, Log: log, Enforcement: enf,
		Blocklist: blocks, BanDefault: cfg.XDP.BanDefault,
	}
	if mgOpt.TCPListener, err = pred.Listener(mgmtTCPKey(cfg.Management)); err != nil {
		return err
	}
	if mgOpt.UnixListener, err = pred.Listener(mgmtUnixKey(cfg.Management)); err != nil {
		return err
	}
	ownSocketPath(mgOpt.UnixListener)
	mg, err := mgmt.Start(mgOpt)
	if err != nil {
		return err
	}
	log.Info("management listener started", "address", mg.Addr())
	if configPath != "" {
		stop, err := policy.WatchFile(configPath, holder, 200*time.Millisecond)
		if err != nil {
			log.Warn("config file not watched: reload with SIGHUP or gatewayctl reload", "error", err)
		} else {
			defer stop()
		}
	}

	// Ready for systemd (Type=notify): the blocklist and bans were restored
	// before the listeners opened, and every listener accepts. A successor
	// tells its predecessor, which makes it the main process first.
	notify := sdnotify.FromEnv()
	if pred != nil {
		ctx, cancel := context.WithTimeout(context.Background(), upgradeTimeout)
		err := pred.Ready(ctx, version)
		cancel()
		if err != nil {
			log.Warn("predecessor did not confirm the hand-over; serving anyway", "error", err)
		}
		log.Info("took over from the previous gatewayd", "pid", os.Getpid(), "version", version)
	}
	if err := notify.Ready(fmt.Sprintf("serving, config v%d", holder.Current().Version)); err != nil {
		log.Warn("notify systemd", "error", err)
	}
	watchdog, stopWatchdog := notify.Ticker()
	defer stopWatchdog()
	var up *upgrade // the binary upgrade under way, if any
	for {
		select {
		case <-watchdog: // from this loop, so that a stuck loop stops the pings
			_ = notify.Ping()
		case res := <-up.done():
			up = nil
			if res.err != nil {
				log.Error("upgrade failed; this gatewayd goes on serving", "error", res.err)
				if mg = res.mg; mg == nil {
					if mg, err = mgmt.Start(res.mgmt); err != nil {
						return fmt.Errorf("restart management listener after a failed upgrade: %w", err)
					}
					ownSocketPath(res.mgmt.UnixListener)
				}
				_ = notify.Ready(fmt.Sprintf("serving, config v%d; upgrade failed: %v", holder.Current().Version, res.err))
				continue
			}
			// The successor serves: it becomes the service's main
			// process, and this one drains what it has in flight and exits.
			res.handOff(notify, log)
			log.Info("handed over to the new gatewayd; draining", "successor_pid", res.pid, "successor_version", res.version)
			return shutdown(srv, nil, holder.Current().Limits.ShutdownGrace, log)
		case sig := <-sigs:
			switch sig {
			case syscall.SIGHUP:
				_ = notify.Reloading()
				_, _ = holder.Reload("SIGHUP") // logged and counted by Reload
				_ = notify.Ready(fmt.Sprintf("serving, config v%d", holder.Current().Version))
			case syscall.SIGUSR1:
				if err := access.Reopen(); err != nil {
					log.Error("reopen access log", "error", err)
				}
				if err := holder.Events().Reopen(); err != nil {
					log.Error("reopen security events", "error", err)
				}
			case syscall.SIGUSR2:
				if up != nil {
					log.Warn("upgrade already under way; SIGUSR2 ignored")
					continue
				}
				up = startUpgrade(data, mg, mgOpt, enf, notify, log)
				mg = nil // stopped by the upgrade; started again if it fails
			default:
				if up != nil {
					res := up.abort()
					if res.err == nil { // ready just as the signal came: it serves now
						res.handOff(notify, log)
						return shutdown(srv, nil, holder.Current().Limits.ShutdownGrace, log)
					}
					mg = res.mg // nil unless it was never stopped
				}
				_ = notify.Stopping()
				return shutdown(srv, mg, holder.Current().Limits.ShutdownGrace, log)
			}
		}
	}
}

func shutdown(srv *server.Server, mg *mgmt.Server, grace time.Duration, log *slog.Logger) error {
	log.Info("shutting down: draining in-flight requests", "grace", grace)
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		log.Warn("drain deadline passed; remaining connections closed")
		err = nil
	}
	if mg != nil {
		_ = mg.Shutdown(ctx)
	}
	log.Info("stopped")
	return err
}

func openTracing(c config.Tracing) (*tracing.Exporter, error) {
	return tracing.New(tracing.Options{Endpoint: c.OTLPEndpoint, ServiceName: c.ServiceName, Queue: c.Queue,
		Batch: c.Batch, Interval: c.Interval, Timeout: c.Timeout})
}

func openEvents(c config.SecurityEvents) (*secevent.Log, error) {
	return secevent.Open(secevent.Options{Path: c.Path, MaxSize: c.MaxSize, MaxAge: c.MaxAge, MaxFiles: c.MaxFiles,
		Buffer: c.Buffer, Window: c.AggregateWindow})
}
