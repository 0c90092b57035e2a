# edgeguard: the two commands a new user needs are `make run` and `make test`.
GO       ?= go
BIN      := bin
PKGS     := ./...
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
# no_fs_access: Coraza (the CRS tier of the WAF) never touches the file system (no temporary files
# for uploads, no writable TMPDIR needed at start); validateSchema: an operator CRS never uses,
# whose dependencies add ~3.6 MB. Exported so the binaries tests build get them too.
export GOFLAGS := -tags=no_fs_access,coraza.disabled_operators.validateSchema

.PHONY: all build run test test-race bench bench-suite lint bpf fuzz clean

all: build

## build: compile gatewayd and gatewayctl into bin/ (no clang needed: BPF objects are committed)
build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

## run: start gatewayd on 127.0.0.1:8080 with the embedded default config and demo upstream
run: build
	./$(BIN)/gatewayd

## test: every test (privileged ones need root; EDGEGUARD_REQUIRE_PRIVILEGED=1 turns their skips into failures)
test: lint
	$(GO) test -count=1 -timeout 8m $(PKGS)
	$(GO) test -count=1 -race -timeout 8m ./dataplane/... ./policy/...

## bench: Go benchmarks of the hot paths and the bench/ suite
bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m $(PKGS)

## bench-suite: edgeguard against HAProxy and nginx, XDP against nftables, the throttling timeline and the
## micro-benchmarks, as bench/results/<time>/report.md (QUICK=1: under 2 minutes; OUT=dir; ARGS=more flags)
bench-suite:
	$(GO) run ./bench/suite $(if $(QUICK),-quick) $(if $(OUT),-out $(OUT)) $(ARGS)

## lint: go vet and a gofmt check
lint:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## bpf: regenerate the XDP objects and Go bindings (needs clang, llvm, libbpf-dev)
bpf:
	$(GO) generate ./bpf/...

## fuzz: run every fuzz target briefly (FUZZTIME=30s by default)
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf $(BIN)
