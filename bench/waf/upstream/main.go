// Command upstream is the WAF benchmark's backend: it answers every request,
// whatever its method, path, headers or body, with 200 and one small fixed
// JSON body. It must never answer anything else, because the benchmark counts
// every non-200 answer as a refusal by the gateway in front of it. Requests it
// served are counted at /__upstream/stats; one that net/http refuses before
// the handler would reach the gateway's access log as a 4xx without an
// edgeguard reason code, which the summary reports.
//
// The body also satisfies GoTestWAF's GraphQL probe ({"data":{"__typename":...}}
// for GET /graphql?query={__typename}), so GoTestWAF sends its GraphQL test
// cases too instead of skipping them.
//
//	upstream -addr 127.0.0.1:18482
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// body is what every request gets. It is JSON for clients that parse the
// answer, and a GraphQL answer for GoTestWAF's availability probe.
var body = []byte(`{"ok":true,"data":{"__typename":"Query"}}` + "\n")

// maxDrain bounds how much of a request body is read; the gateway's own
// limit (server.max_request_body_bytes, 1 MiB by default) is far below it.
const maxDrain = 64 << 20

var served, drainErrors atomic.Int64

func handle(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/__upstream/stats" {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"served":%d,"drain_errors":%d}`+"\n", served.Load(), drainErrors.Load())
		return
	}
	served.Add(1)
	// Read the body so that the connection can be reused and a gateway
	// that streams it never blocks; its content does not matter.
	if _, err := io.Copy(io.Discard, io.LimitReader(r.Body, maxDrain)); err != nil {
		drainErrors.Add(1)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:18482", "listen address (loopback)")
	flag.Parse()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("listen %s: %v", *addr, err)
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(handle),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 20, // far above the gateway's limit: never the one that refuses
		ErrorLog:          log.New(os.Stderr, "upstream: ", log.LstdFlags),
	}
	done := make(chan struct{})
	go func() {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
		<-sigs
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		close(done)
	}()
	log.Printf("upstream: listening on %s", ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("serve: %v", err)
	}
	<-done
	log.Printf("upstream: served %d requests, %d body read errors", served.Load(), drainErrors.Load())
}
