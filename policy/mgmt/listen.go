package mgmt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/edgeguard/edgeguard/policy"
	"github.com/edgeguard/edgeguard/policy/config"
)

// listenTCP opens the TCP listener on cfg.Address, bound to cfg.BindDevice
// when set, with TLS when a certificate is configured. An inherited
// listener (already bound as configured) is used instead of a new one.
func (s *Server) listenTCP(cfg config.Management, inherited net.Listener) (net.Listener, error) {
	ln := inherited
	if ln == nil {
		var err error
		if ln, err = bindTCP(cfg); err != nil {
			return nil, err
		}
	}
	s.rawTCP = ln
	if cfg.TLSCertFile == "" {
		return ln, nil
	}
	var tc *tls.Config
	if h := s.opt.Policies; h != nil {
		tc = h.Current().ManagementTLS() // compiled with the policy: no second read of the files
	}
	if tc == nil { // no policy holder: load the files here
		var err error
		if tc, err = policy.ManagementTLSConfig(cfg); err != nil {
			ln.Close()
			return nil, err
		}
	}
	s.tls.set(s.auth.cur.Load().version, tc)
	// Each handshake takes the certificate and client CAs of the running
	// policy, so a reload with a renewed certificate or CA takes effect.
	return tls.NewListener(ln, &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		return s.serverTLS(), nil
	}}), nil
}

func bindTCP(cfg config.Management) (net.Listener, error) {
	lc := net.ListenConfig{}
	if dev := cfg.BindDevice; dev != "" {
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, dev)
			}); err != nil {
				return err
			}
			if serr != nil {
				return fmt.Errorf("bind to device %s (management.bind_device): %w", dev, serr)
			}
			return nil
		}
	}
	ln, err := lc.Listen(context.Background(), "tcp", cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("listen on management.address %s: %w", cfg.Address, err)
	}
	return ln, nil
}

// checkDataInterfaces refuses a management host that is an address of one
// of the data interfaces (xdp.interfaces): the management API would be
// reachable from the data network. Interfaces that do not exist are
// skipped (XDP reports them). Loopback and wildcard hosts are not checked.
func checkDataInterfaces(host netip.Addr, ifaces []string) error {
	if !host.IsValid() || host.IsLoopback() || host.IsUnspecified() {
		return nil
	}
	for _, name := range ifaces {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			continue
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			return fmt.Errorf("check management.address against %s: %w", name, err)
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Unmap() == host {
				return fmt.Errorf("management.address %s is an address of data interface %s (xdp.interfaces): put the management listener on the management network, or set management.allow_data_address", host, name)
			}
		}
	}
	return nil
}

// serverTLS returns the TLS configuration of the running policy.
func (s *Server) serverTLS() *tls.Config {
	return s.tls.get(s.opt.Policies, func(p *policy.Policy, prev *tls.Config) *tls.Config {
		// Compile loaded them: a policy whose files do not load is never
		// published (the reload is rejected).
		if tc := p.ManagementTLS(); tc != nil {
			return tc
		}
		return prev
	})
}

// listenUnix opens the Unix socket with mode 0600. A stale socket left by
// a crashed daemon is replaced; a live one (another daemon) or a file that
// is not a socket is an error, never removed.
func listenUnix(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("listen on management.unix_socket %s: exists and is not a socket", path)
		}
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("listen on management.unix_socket %s: another process serves it", path)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("listen on management.unix_socket %s: probe stale socket: %w", path, err)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("listen on management.unix_socket %s: remove stale socket: %w", path, err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on management.unix_socket %s: %w", path, err)
	}
	// Callers are also authenticated by their user id (see peerUID); the
	// mode keeps everyone else from connecting at all.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("listen on management.unix_socket %s: chmod: %w", path, err)
	}
	return ln, nil
}

// peerUID returns the user id of the process at the other end of a Unix
// socket connection (SO_PEERCRED).
func peerUID(c net.Conn) (uint32, bool) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || cerr != nil {
		return 0, false
	}
	return cred.Uid, true
}
