package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/edgeguard/edgeguard/internal/handover"
	"github.com/edgeguard/edgeguard/internal/sdnotify"
	"github.com/edgeguard/edgeguard/internal/statelock"
	"github.com/edgeguard/edgeguard/policy"
	"github.com/edgeguard/edgeguard/policy/config"
	"github.com/edgeguard/edgeguard/policy/mgmt"
)

// upgradeTimeout bounds a successor's start: restoring a blocklist of
// millions of entries takes seconds (the unit's TimeoutStartSec is 120s).
const upgradeTimeout = 2 * time.Minute

// stateLockKey hands the state directory's lock (statelock) to the
// successor; stateLock is this process's, nil without a state directory.
const stateLockKey = "state lock"

var stateLock *os.File

// keyedListener is a data listener's socket (before any wrapping) and the
// key a successor finds it under: its name and configured address.
type keyedListener struct {
	key string
	ln  net.Listener
}

func mgmtTCPKey(c config.Management) string {
	return "management tcp " + c.Address + " " + c.BindDevice
}

func mgmtUnixKey(c config.Management) string { return "management unix " + c.UnixSocket }

// ownSocketPath makes a Unix listener this process took over remove its
// path when closed, as one it bound itself would (a successor's, or the
// kept copy after a failed upgrade); nil and TCP listeners are left alone.
func ownSocketPath(ln net.Listener) {
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(true)
	}
}

// upgrade is a binary upgrade under way (SIGUSR2).
type upgrade struct {
	result chan upgradeResult
	cancel context.CancelFunc
}

type upgradeResult struct {
	err          error
	successor    *handover.Successor // ready, when err is nil
	mg           *mgmt.Server        // the management server, when it was never stopped
	pid          int
	version      string
	mgmt         mgmt.Options // to start the management server again after a failure
	closeInherit func()       // closes the management listeners kept for that
}

// startUpgrade hands this process's listeners to the gatewayd binary now at
// its own path, in the background (the main loop keeps pinging the
// watchdog). The management server stops first, calls in flight finishing,
// so that no blocklist push or ban lands after the successor has read the
// state directory; its sockets are handed over too, and calls arriving in
// between wait in their accept queue. The data listeners keep accepting
// until the successor is ready. Then the successor becomes systemd's main
// process (handOff, from the main loop, which then pings no more) and this
// one drains. If the successor fails, exits or is not ready within
// upgradeTimeout, it is killed and the result carries the management
// server, or what restarts it here.
func startUpgrade(data []keyedListener, mg *mgmt.Server, mgOpt mgmt.Options, enf *policy.Enforcement,
	notify *sdnotify.Notifier, log *slog.Logger) *upgrade {
	ctx, cancel := context.WithTimeout(context.Background(), upgradeTimeout)
	u := &upgrade{result: make(chan upgradeResult, 1), cancel: cancel}
	go func() {
		defer cancel()
		u.result <- runUpgrade(ctx, data, mg, mgOpt, enf, notify, log)
	}()
	return u
}

// done is the channel the result comes on; nil (never ready) without an
// upgrade.
func (u *upgrade) done() <-chan upgradeResult {
	if u == nil {
		return nil
	}
	return u.result
}

// abort ends the upgrade at once (the successor is killed unless it was
// already confirmed) and returns its result.
func (u *upgrade) abort() upgradeResult {
	u.cancel()
	res := <-u.result
	if res.closeInherit != nil {
		res.closeInherit()
	}
	return res
}

func runUpgrade(ctx context.Context, data []keyedListener, mg *mgmt.Server, mgOpt mgmt.Options, enf *policy.Enforcement,
	notify *sdnotify.Notifier, log *slog.Logger) (res upgradeResult) {
	exe, err := os.Executable() // the path, even after `make install` replaced the file
	if err != nil {
		return upgradeResult{err: fmt.Errorf("find the gatewayd binary: %w", err), mg: mg}
	}
	log.Info("upgrade: starting the new gatewayd and handing it the listeners", "binary", exe)
	_ = notify.Status("upgrading: starting " + exe)
	var pass []handover.Listener
	defer func() {
		for _, l := range pass {
			l.File.Close()
		}
	}()
	for _, d := range data {
		f, err := d.ln.(*net.TCPListener).File()
		if err != nil {
			return upgradeResult{err: fmt.Errorf("hand over listener %q: %w", d.key, err), mg: mg}
		}
		pass = append(pass, handover.Listener{Key: d.key, File: f})
	}

	if stateLock != nil {
		d, err := statelock.Dup(stateLock)
		if err != nil {
			return upgradeResult{err: err, mg: mg}
		}
		pass = append(pass, handover.Listener{Key: stateLockKey, File: d})
	}

	// Keep the management sockets open across the server's shutdown.
	tcp, unix := mg.Listeners()
	mgOpt.TCPListener, mgOpt.UnixListener = nil, nil
	var kept []net.Listener
	keep := func(ln net.Listener, key string) (net.Listener, error) {
		if ln == nil {
			return nil, nil
		}
		if ul, ok := ln.(*net.UnixListener); ok {
			ul.SetUnlinkOnClose(false) // the path stays for the successor
		}
		f, dup, err := dupListener(ln)
		if err != nil {
			return nil, fmt.Errorf("hand over listener %q: %w", key, err)
		}
		pass = append(pass, handover.Listener{Key: key, File: f})
		kept = append(kept, dup)
		return dup, nil
	}
	if mgOpt.TCPListener, err = keep(tcp, mgmtTCPKey(mgOpt.Config)); err == nil {
		mgOpt.UnixListener, err = keep(unix, mgmtUnixKey(mgOpt.Config))
	}
	res.mgmt = mgOpt
	res.closeInherit = func() {
		for _, ln := range kept {
			ln.Close()
		}
	}
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if serr := mg.Shutdown(stopCtx); serr != nil {
		log.Warn("upgrade: management calls still in flight were cut off", "error", serr)
	}
	if err != nil {
		res.err = err
		return res
	}
	// Bans decided until now are on disk for the successor to restore;
	// from here on the file is the successor's (this process's later bans
	// still apply, but would overwrite the successor's changes), unless
	// the upgrade fails.
	if bs := enf.BanStore; bs != nil {
		if err := bs.Sync(); err != nil {
			log.Warn("upgrade: write bans before the hand-over", "error", err)
		}
		bs.Freeze()
		defer func() {
			if res.successor == nil {
				if err := bs.Thaw(); err != nil {
					log.Warn("upgrade failed: write bans", "error", err)
				}
			}
		}()
	}
	if h := mgOpt.Policies; h != nil {
		h.FreezeState(true) // the anomaly detector's learnt state likewise
		defer func() {
			if res.successor == nil {
				h.FreezeState(false)
			}
		}()
	}

	// Health checks, metrics and status go on being answered while the
	// successor starts (load balancers would otherwise see the node down
	// for as long as it takes, up to upgradeTimeout); changes wait for it.
	interim := startInterim(mgOpt, log)
	defer stopInterim(interim, log)

	s, err := handover.Start(exe, os.Args[1:], sdnotify.SuccessorEnv(os.Environ()), pass)
	if err != nil {
		res.err = err
		return res
	}
	if err := s.WaitReady(ctx); err != nil {
		s.Abort()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("%w (not ready within %v)", err, upgradeTimeout)
		}
		res.err = err
		return res
	}
	res.closeInherit()
	return upgradeResult{successor: s, pid: s.Pid(), version: s.Version}
}

// handOff makes a ready successor the main process: systemd is told
// (MAINPID=), then the successor. The caller sends systemd nothing more
// (NotifyAccess=main would refuse it), no watchdog ping included, and
// drains.
func (r upgradeResult) handOff(notify *sdnotify.Notifier, log *slog.Logger) {
	if err := notify.MainPID(r.pid, "serving; took over from pid "+fmt.Sprint(os.Getpid())); err != nil {
		log.Error("upgrade: tell systemd the new main process", "pid", r.pid, "error", err)
	}
	if err := r.successor.Confirm(); err != nil {
		log.Warn("upgrade: confirm to the new gatewayd", "error", err)
	}
}

// startInterim serves the management API in handover mode (reads only) on
// copies of the kept listeners, so that closing it leaves those for the
// successor, or for the server restarted after a failed upgrade. It
// returns nil when it cannot: the upgrade goes on without it.
func startInterim(opt mgmt.Options, log *slog.Logger) *mgmt.Server {
	dup := func(ln net.Listener) (net.Listener, error) {
		if ln == nil {
			return nil, nil
		}
		f, d, err := dupListener(ln)
		if err == nil {
			f.Close()
		}
		return d, err
	}
	var err error
	opt.Handover = true
	tcp, unix := opt.TCPListener, opt.UnixListener
	if opt.TCPListener, err = dup(tcp); err == nil {
		opt.UnixListener, err = dup(unix)
	}
	if err == nil {
		var s *mgmt.Server
		if s, err = mgmt.Start(opt); err == nil {
			return s
		}
	}
	for _, ln := range []net.Listener{opt.TCPListener, opt.UnixListener} {
		if ln != nil {
			ln.Close()
		}
	}
	log.Warn("upgrade: management calls wait for the new gatewayd (no interim server)", "error", err)
	return nil
}

func stopInterim(s *mgmt.Server, log *slog.Logger) {
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		log.Warn("upgrade: interim management calls cut off", "error", err)
	}
}

// dupListener returns a copy of listener ln's socket as a file (what the
// hand-over passes on) and a listener on that copy (what this process
// serves on meanwhile): closing either leaves ln's socket open.
func dupListener(ln net.Listener) (*os.File, net.Listener, error) {
	f, err := ln.(interface{ File() (*os.File, error) }).File()
	if err != nil {
		return nil, nil, err
	}
	dup, err := net.FileListener(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, dup, nil
}
