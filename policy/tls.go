package policy

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/edgeguard/edgeguard/policy/config"
)

// ListenerTLSConfig builds the TLS configuration of data listener i, or
// returns nil when it serves plain HTTP. With client_auth request the
// handshake asks for a client certificate and verifies one if sent; with
// require a verified certificate is needed to connect. The certificate's
// identity is read per request by the auth stage (dataplane/auth/certauth).
// Every policy compiles its listeners' configurations (a file that does not
// load rejects the reload); Holder.ListenerTLS serves the running one.
func ListenerTLSConfig(c *config.Config, i int) (*tls.Config, error) {
	l := c.Listeners[i]
	t := l.TLS
	if t == nil {
		return nil, nil
	}
	key := fmt.Sprintf("listeners[%d].tls", i)
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("%s: load cert_file/key_file: %w", key, err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"}, // the data plane speaks HTTP/1.1
	}
	if t.MinVersion == "1.3" {
		cfg.MinVersion = tls.VersionTLS13
	}
	switch t.ClientAuth {
	case config.ClientAuthRequest:
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	case config.ClientAuthRequire:
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	default:
		cfg.ClientAuth = tls.NoClientCert
		return cfg, nil
	}
	pemData, err := os.ReadFile(t.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("%s.client_ca_file: %w", key, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		return nil, fmt.Errorf("%s.client_ca_file: %s holds no PEM certificate", key, t.ClientCAFile)
	}
	cfg.ClientCAs = pool
	return cfg, nil
}

// ListenerTLS returns the TLS configuration to open data listener i with
// (nil for plain HTTP). Each handshake takes the certificate, client CA and
// client_auth mode of the running policy, so a reload with renewed
// certificates (new paths, or new contents: the config digest covers the
// files) takes effect for new connections without a restart. Whether the
// listener speaks TLS at all is fixed at start.
func (h *Holder) ListenerTLS(i int) *tls.Config {
	p := h.Current()
	start := p.listenerTLS[i]
	if start == nil {
		return nil
	}
	// The socket is the listener of this name and address; a reload that
	// reorders or renames listeners must not hand it another one's
	// certificate or client-auth settings.
	name, addr := p.Config.Listeners[i].Name, p.Config.Listeners[i].Address
	return &tls.Config{
		NextProtos: start.NextProtos,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			cur := h.Current()
			for j, l := range cur.Config.Listeners {
				if l.Name == name && l.Address == addr && cur.listenerTLS[j] != nil {
					return cur.listenerTLS[j], nil
				}
			}
			return start, nil // gone, moved or turned to plain HTTP: that needs a restart
		},
	}
}

// ManagementTLSConfig loads the server certificate and, for mTLS, the client CAs. A
// client certificate is verified whenever one is presented (a bad one
// fails the handshake); whether a call needs one is decided per request,
// so that tokens and public health checks work without a certificate.
// Every policy compiles it (a file that does not load rejects the reload,
// and check-config reports it).
func ManagementTLSConfig(cfg config.Management) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("load management.tls_cert_file/tls_key_file: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if cfg.ClientCAFile != "" {
		pem, err := os.ReadFile(cfg.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("load management.client_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("load management.client_ca_file %s: no PEM certificate found", cfg.ClientCAFile)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return tc, nil
}

// ManagementTLS returns the management listener's TLS configuration of
// this policy (nil without management TLS).
func (p *Policy) ManagementTLS() *tls.Config { return p.managementTLS }
