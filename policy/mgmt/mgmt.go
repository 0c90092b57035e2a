// Package mgmt is the management plane's HTTP server: metrics, liveness,
// readiness and status for operators, on its own listener. It never shares a
// listener or a mux with the data plane, and data listeners never serve its
// routes.
package mgmt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/edgeguard/edgeguard/policy"
)

// Status is what /status reports.
type Status struct {
	Version          string           `json:"version"`
	Uptime           string           `json:"uptime"`
	Config           ConfigStatus     `json:"config"`
	Upstreams        []UpstreamStatus `json:"upstreams"`
	Draining         bool             `json:"draining"`
	Enforcer         EnforcerStatus   `json:"enforcer"`
	AccessLogDropped uint64           `json:"access_log_dropped"`
}

// EnforcerStatus says how blocked sources are dropped.
type EnforcerStatus struct {
	Mode     string `json:"mode"`     // native, generic, mixed, userspace...
	Fallback bool   `json:"fallback"` // true: user space at accept time, not XDP
	Why      string `json:"fallback_reason,omitempty"`
}

// ConfigStatus describes the running policy.
type ConfigStatus struct {
	Version  uint64    `json:"version"`
	Source   string    `json:"source"`
	Digest   string    `json:"digest"`
	LoadedAt time.Time `json:"loaded_at"`
}

// UpstreamStatus lists one pool's targets.
type UpstreamStatus struct {
	Name    string         `json:"name"`
	Targets []TargetStatus `json:"targets"`
}

// TargetStatus is one upstream target's health.
type TargetStatus struct {
	Address             string     `json:"address"`
	Healthy             bool       `json:"healthy"`
	EjectedUntil        *time.Time `json:"ejected_until,omitempty"`
	InFlight            int        `json:"in_flight"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
}

// Options wires the server to the running daemon.
type Options struct {
	Address  string
	Policies *policy.Holder
	Draining func() bool // true once shutdown began: /readyz then fails
	Dropped  func() uint64
	Version  string
	Log      *slog.Logger
	// Enforcement is the running source filter (XDP or user space); nil when none.
	Enforcement *policy.Enforcement
}

// Server is the running management listener.
type Server struct {
	opt     Options
	srv     *http.Server
	ln      net.Listener
	started time.Time
}

// Start listens on opt.Address and serves until Shutdown.
func Start(opt Options) (*Server, error) {
	ln, err := net.Listen("tcp", opt.Address)
	if err != nil {
		return nil, fmt.Errorf("start management listener: %w", err)
	}
	s := &Server{opt: opt, ln: ln, started: time.Now()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		metrics.WritePrometheus(w, true)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /status", s.status)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(opt.Log.Handler(), slog.LevelWarn)}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			opt.Log.Error("management listener stopped", "error", err)
		}
	}()
	return s, nil
}

// Addr is the address the listener is bound to.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops the listener, waiting for calls in flight until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("stop management listener: %w", err)
	}
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if s.opt.Draining != nil && s.opt.Draining() {
		http.Error(w, "draining", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	p := s.opt.Policies.Current()
	st := Status{
		Version: s.opt.Version,
		Uptime:  time.Since(s.started).Round(time.Second).String(),
		Config:  ConfigStatus{Version: p.Version, Source: p.Source, Digest: p.Digest, LoadedAt: p.LoadedAt},
	}
	if s.opt.Draining != nil {
		st.Draining = s.opt.Draining()
	}
	if e := s.opt.Enforcement; e != nil {
		st.Enforcer = EnforcerStatus{Mode: e.Mode(), Fallback: e.Listener != nil, Why: e.Why}
	}
	if s.opt.Dropped != nil {
		st.AccessLogDropped = s.opt.Dropped()
	}
	for _, name := range p.PoolNames() {
		us := UpstreamStatus{Name: name}
		for _, t := range p.Pool(name).Status() {
			ts := TargetStatus{Address: t.Address, Healthy: t.Healthy, InFlight: t.InFlight, ConsecutiveFailures: t.ConsecutiveFailures}
			if t.EjectedUntil.After(time.Now()) {
				ts.EjectedUntil = &t.EjectedUntil
			}
			us.Targets = append(us.Targets, ts)
		}
		st.Upstreams = append(st.Upstreams, us)
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(st)
}
