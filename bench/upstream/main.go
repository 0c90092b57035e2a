// Command upstream is the benchmark suite's backend, the same binary behind
// every gateway in every scenario: a fasthttp server that answers any GET
// with one ~100-byte JSON document and any request with a body with the
// body's size, so a correctness check can prove a POST arrived whole.
//
//	upstream -addr 127.0.0.1:18600
package main

import (
	"flag"
	"log"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/valyala/fasthttp"
)

// Body is the GET answer: about 100 bytes, like a small API response.
const Body = `{"id":"3f2a9c1e-7b4d-4e8a-9c1f-2d3e4f5a6b7c","status":"ok","items":[1,2,3],"region":"edge-1"}` + "\n"

var body = []byte(Body)

func handle(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("application/json")
	if n := len(ctx.Request.Body()); n > 0 || ctx.IsPost() || ctx.IsPut() {
		buf := make([]byte, 0, 32)
		buf = append(buf, `{"received_bytes":`...)
		buf = strconv.AppendInt(buf, int64(n), 10)
		buf = append(buf, "}\n"...)
		ctx.SetBody(buf)
		return
	}
	ctx.SetBody(body)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:18600", "listen address")
	flag.Parse()
	srv := &fasthttp.Server{
		Handler:                       handle,
		Name:                          "upstream",
		NoDefaultDate:                 true,
		NoDefaultContentType:          true,
		DisableHeaderNamesNormalizing: true,
		MaxRequestBodySize:            64 << 20,
		Concurrency:                   1 << 16,
	}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		_ = srv.Shutdown()
	}()
	log.Printf("upstream: listening on %s", *addr)
	if err := srv.ListenAndServe(*addr); err != nil {
		log.Fatalf("upstream: %v", err)
	}
}
