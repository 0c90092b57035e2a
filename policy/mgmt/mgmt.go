// Package mgmt is the management plane's HTTP server: metrics, liveness,
// readiness and status for operators, and the management API that changes
// the running gateway (blocklist pushes and deltas, bans, config reload).
// It listens only on the management address (optionally bound to one
// device) and/or a Unix socket, authenticates every call that is not
// explicitly public (bearer tokens checked against hashes, client
// certificates, Unix peer user ids), and drives the blocklist store.
//
// It never shares a listener or a mux with the data plane, data listeners
// never serve its routes, and it never holds a token in clear.
package mgmt

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/edgeguard/edgeguard/bpf"
	"github.com/edgeguard/edgeguard/bpf/enforce"
	"github.com/edgeguard/edgeguard/policy"
	"github.com/edgeguard/edgeguard/policy/blocklist"
	"github.com/edgeguard/edgeguard/policy/config"
	"github.com/edgeguard/edgeguard/policy/mgmt/api"
)

// Options wires the server to the running daemon.
type Options struct {
	// Config is the management section: listeners, credentials, limits.
	Config   config.Management
	Policies *policy.Holder
	Draining func() bool // true once shutdown began: /readyz then fails
	Dropped  func() uint64
	Version  string
	Log      *slog.Logger
	// Enforcement is the running source filter (XDP or user space); nil when none.
	Enforcement *policy.Enforcement
	// Blocklist is the store the API changes; nil serves no blocklist API.
	Blocklist *blocklist.Store
	// BanDefault is the ban length when a ban request names none.
	BanDefault time.Duration
	// TCPListener and UnixListener, when set, are already listening on
	// management.address and management.unix_socket (handed over by the
	// process this one replaces): Start serves on them instead of binding.
	TCPListener, UnixListener net.Listener
	// Handover serves while an upgrade waits for its successor: reads
	// (health, readiness, metrics, status, lists) as usual, changes
	// refused with 503 and Retry-After, as the successor is about to own
	// the state directory.
	Handover bool
}

// Server is the running management listener(s).
type Server struct {
	opt     Options
	auth    perPolicy[*authenticator] // see authenticator
	tls     perPolicy[*tls.Config]    // see serverTLS
	srv     *http.Server
	tcp     net.Listener // nil when management.address is off
	unix    net.Listener // nil without management.unix_socket
	rawTCP  net.Listener // tcp before TLS
	started time.Time
	writes  chan struct{} // one blocklist change parses and applies at a time
	wg      sync.WaitGroup
}

// authenticator returns the authenticator of the running policy, so that a
// reload that revokes or adds a token, changes public access or the client
// CA takes effect at once (the listeners themselves need a restart).
func (s *Server) authenticator() *authenticator {
	return s.auth.get(s.opt.Policies, func(p *policy.Policy, _ *authenticator) *authenticator {
		return newAuthenticator(p.Config.Management)
	})
}

// Start opens the configured listeners and serves until Shutdown.
func Start(opt Options) (*Server, error) {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	cfg := opt.Config
	s := &Server{opt: opt, started: time.Now(), writes: make(chan struct{}, 1)}
	var version uint64
	if opt.Policies != nil {
		version = opt.Policies.Current().Version
	}
	s.auth.set(version, newAuthenticator(cfg))
	var err error
	if cfg.Address != config.ManagementOff {
		if opt.Policies != nil && !cfg.AllowDataAddress {
			host, _, _ := net.SplitHostPort(cfg.Address)
			a, _ := netip.ParseAddr(host)
			if err := checkDataInterfaces(a.Unmap(), opt.Policies.Current().Config.XDP.Interfaces); err != nil {
				return nil, err
			}
		}
		if s.tcp, err = s.listenTCP(cfg, opt.TCPListener); err != nil {
			return nil, err
		}
	}
	if cfg.UnixSocket != "" {
		s.unix = opt.UnixListener
		if s.unix == nil {
			s.unix, err = listenUnix(cfg.UnixSocket)
		}
		if err != nil {
			if s.tcp != nil {
				s.tcp.Close()
			}
			return nil, err
		}
	}
	s.srv = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ConnContext:       connContext,
		ErrorLog:          slog.NewLogLogger(opt.Log.Handler(), slog.LevelWarn),
	}
	for _, ln := range []net.Listener{s.tcp, s.unix} {
		if ln == nil {
			continue
		}
		s.wg.Go(func() {
			if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				opt.Log.Error("management listener stopped", "address", ln.Addr().String(), "error", err)
			}
		})
	}
	if !cfg.HasCredentials() {
		opt.Log.Warn("management API: no tokens or client CA configured; only public endpoints (and root on the Unix socket) are served",
			"public", cfg.Public, "unix_socket", cfg.UnixSocket)
	}
	return s, nil
}

// Addr is the TCP address the listener is bound to, or "unix:" and the
// socket path when there is no TCP listener.
func (s *Server) Addr() string {
	if s.tcp != nil {
		return s.tcp.Addr().String()
	}
	return "unix:" + s.opt.Config.UnixSocket
}

// Listeners returns the TCP (before TLS) and Unix listeners, nil where not
// configured, for handing them over to a successor process.
func (s *Server) Listeners() (tcp, unix net.Listener) { return s.rawTCP, s.unix }

// Shutdown stops the listeners, waiting for calls in flight until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	s.wg.Wait()
	if err != nil {
		return fmt.Errorf("stop management listener: %w", err)
	}
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request, _ principal) {
	if s.opt.Draining != nil && s.opt.Draining() {
		http.Error(w, "draining", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request, _ principal) {
	p := s.opt.Policies.Current()
	st := api.Status{
		Version: s.opt.Version,
		Uptime:  time.Since(s.started).Round(time.Second).String(),
		Config:  api.ConfigStatus{Version: p.Version, Source: p.Source, Digest: p.Digest, LoadedAt: p.LoadedAt},
	}
	st.RestartPending = s.opt.Policies.RestartPending()
	if s.opt.Draining != nil {
		st.Draining = s.opt.Draining()
	}
	if e := s.opt.Enforcement; e != nil {
		st.Enforcer = enforcerStatus(e)
	}
	if s.opt.Blocklist != nil {
		in := s.opt.Blocklist.Info()
		st.Blocklist = &in
	}
	if s.opt.Dropped != nil {
		st.AccessLogDropped = s.opt.Dropped()
	}
	for _, name := range p.PoolNames() {
		us := api.UpstreamStatus{Name: name}
		for _, t := range p.Pool(name).Status() {
			ts := api.TargetStatus{Address: t.Address, Healthy: t.Healthy, InFlight: t.InFlight, ConsecutiveFailures: t.ConsecutiveFailures}
			if t.EjectedUntil.After(time.Now()) {
				ts.EjectedUntil = &t.EjectedUntil
			}
			us.Targets = append(us.Targets, ts)
		}
		st.Upstreams = append(st.Upstreams, us)
	}
	writeJSON(w, http.StatusOK, st)
}

func enforcerStatus(e *policy.Enforcement) api.EnforcerStatus {
	es := api.EnforcerStatus{Mode: e.Mode(), Fallback: e.Listener != nil, Why: e.Why}
	if x, ok := e.Unwrap().(interface{ Attachments() []bpf.Attachment }); ok {
		for _, a := range x.Attachments() {
			es.Interfaces = append(es.Interfaces, api.InterfaceStatus{Name: a.Interface, Mode: a.Mode})
		}
	}
	if stats, err := e.Stats(); err != nil {
		es.StatsError = err.Error()
	} else {
		es.Counters = map[string]uint64{}
		for r := enforce.Reason(0); r < enforce.NumReasons; r++ {
			es.Counters[r.String()] = stats.Verdicts[r].Packets
		}
	}
	if bans, err := e.Bans(); err == nil {
		es.Bans = len(bans)
	}
	if e.BanStore != nil {
		es.BansSetAside = e.BanStore.SetAside()
	}
	return es
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
