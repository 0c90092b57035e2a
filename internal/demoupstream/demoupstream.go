// Package demoupstream is gatewayd's built-in demo backend: a tiny HTTP
// server on loopback that answers /healthz and echoes what it received as
// JSON, so a new user can curl through the gateway with nothing else running.
// It is for demos and tests only and must never listen beyond loopback.
package demoupstream

import (
	"encoding/json"
	"fmt"
	"net"

	"github.com/valyala/fasthttp"
)

// Server is a running demo upstream.
type Server struct {
	ln  net.Listener
	srv *fasthttp.Server
}

// Start listens on an ephemeral loopback port and serves until Close.
func Start() (*Server, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start demo upstream: %w", err)
	}
	s := &Server{ln: ln, srv: &fasthttp.Server{Handler: handle, Name: "edgeguard-demo"}}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Addr is the host:port the demo upstream listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server.
func (s *Server) Close() error { return s.srv.Shutdown() }

type echo struct {
	Message   string            `json:"message"`
	Method    string            `json:"method"`
	Path      string            `json:"path"`
	Query     string            `json:"query,omitempty"`
	BodyBytes int               `json:"body_bytes"`
	Headers   map[string]string `json:"headers"`
}

// echoedHeaders are the headers the gateway sets, shown so users can see them.
var echoedHeaders = []string{"Host", "User-Agent", "X-Request-Id", "Traceparent", "X-Forwarded-For", "X-Forwarded-Proto", "X-Real-Ip"}

func handle(ctx *fasthttp.RequestCtx) {
	if string(ctx.Path()) == "/healthz" {
		ctx.SetBodyString("ok\n")
		return
	}
	e := echo{
		Message:   "hello from the edgeguard demo upstream",
		Method:    string(ctx.Method()),
		Path:      string(ctx.Path()),
		Query:     string(ctx.QueryArgs().QueryString()),
		BodyBytes: len(ctx.PostBody()),
		Headers:   map[string]string{},
	}
	for _, h := range echoedHeaders {
		if v := ctx.Request.Header.Peek(h); v != nil {
			e.Headers[h] = string(v)
		}
	}
	body, _ := json.MarshalIndent(e, "", "  ")
	ctx.SetContentType("application/json")
	ctx.SetBody(append(body, '\n'))
}
