//go:build tools

// Package deps pins the modules the project is growing into until code imports them.
package deps

import (
	_ "github.com/VictoriaMetrics/metrics"
	_ "github.com/cilium/ebpf"
	_ "github.com/golang-jwt/jwt/v5"
	_ "github.com/spf13/viper"
	_ "github.com/valyala/fasthttp"
	_ "github.com/valyala/fastjson"
	_ "golang.org/x/sys/unix"
	_ "golang.org/x/time/rate"
)
