package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/edgeguard/edgeguard/bench/suite/attack"
	"github.com/edgeguard/edgeguard/bench/suite/micro"
	"github.com/edgeguard/edgeguard/bench/suite/targets"
)

// attacks runs the XDP flood and the throttling timeline (root only; each
// reports why it skipped otherwise).
func (s *suite) attacks(ctx context.Context, bins binaries) {
	progress := func(m string) { s.progress("%s", m) }
	dir := filepath.Join(s.work, "flood")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.note("XDP flood not run: %v", err)
		return
	}
	s.progress("XDP flood: edgeguard's XDP program against an nftables set")
	fl, err := attack.XDPFlood(ctx, attack.FloodOptions{Gatewayd: bins.gatewayd, WorkDir: dir, Quick: s.o.quick, Progress: progress})
	switch {
	case err != nil:
		s.note("XDP flood failed: %v", err)
	case fl != nil:
		s.run.XDPFlood = fl
		if fl.Skipped != "" {
			s.note("XDP flood skipped: %s", fl.Skipped)
		}
	}
	if v := targets.VersionOf("nft", "--version"); v != "" {
		s.run.Versions["nft"] = v
	}
	if ctx.Err() != nil {
		return
	}
	dir = filepath.Join(s.work, "throttle")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.note("throttling timeline not run: %v", err)
		return
	}
	s.progress("throttling timeline: one client at 3x its limit")
	th, err := attack.Throttle(ctx, attack.ThrottleOptions{Gatewayd: bins.gatewayd, WorkDir: dir, Quick: s.o.quick, Progress: progress})
	switch {
	case err != nil:
		s.note("throttling timeline failed: %v", err)
	case th != nil:
		s.run.Throttle = th
		if th.Skipped != "" {
			s.note("throttling timeline skipped: %s", th.Skipped)
		}
	}
}

// micro gathers the Go micro-benchmarks; a package that fails is noted.
func (s *suite) micro(ctx context.Context) {
	s.progress("Go micro-benchmarks")
	mb, cmds, err := micro.Run(ctx, s.root, s.o.quick, func(m string) { s.progress("%s", m) })
	s.run.Micro = mb
	s.run.Commands = append(s.run.Commands, cmds...)
	var fs micro.Failures
	if errors.As(err, &fs) {
		s.run.Notes = append(s.run.Notes, fs.Notes()...)
	} else if err != nil {
		s.note("micro-benchmarks not gathered: %v", err)
	}
}
