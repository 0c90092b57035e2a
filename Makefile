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

.PHONY: all build run test test-race bench bench-suite lint bpf fuzz clean install uninstall lab

all: build

## build: compile gatewayd and gatewayctl into bin/ (no clang needed: BPF objects are committed)
build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

## run: start gatewayd on 127.0.0.1:8080 with the embedded default config and demo upstream
run: build
	./$(BIN)/gatewayd

## lab: build bin/lab beside gatewayd and gatewayctl; then, as root: bin/lab up (see deploy/lab, README "Lab")
lab: build
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/lab ./deploy/lab

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

## install: binaries, systemd unit, service user, example configs, /etc/edgeguard and the state
## directory (DESTDIR and PREFIX honoured; an existing /etc/edgeguard/gatewayd.yaml is kept)
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
DOCDIR      ?= $(PREFIX)/share/doc/edgeguard
SYSCONFDIR  ?= /etc
STATEDIR    ?= /var/lib/edgeguard
install: build
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(DOCDIR)/examples
	install -m 0755 $(BIN)/gatewayd $(BIN)/gatewayctl $(DESTDIR)$(BINDIR)/
	sed -e 's|/usr/local/bin|$(BINDIR)|g' -e 's|/usr/local/share/doc/edgeguard|$(DOCDIR)|g' \
	    -e 's|/etc/edgeguard|$(SYSCONFDIR)/edgeguard|g' deploy/systemd/edgeguard.service > $(DESTDIR)$(UNITDIR)/edgeguard.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/edgeguard.service
	install -m 0644 deploy/systemd/edgeguard.sysusers $(DESTDIR)$(SYSUSERSDIR)/edgeguard.conf
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/
	install -m 0644 deploy/examples/*.yaml $(DESTDIR)$(DOCDIR)/examples/
	install -d -m 0750 $(DESTDIR)$(SYSCONFDIR)/edgeguard
	[ -e $(DESTDIR)$(SYSCONFDIR)/edgeguard/gatewayd.yaml ] || \
	    install -m 0640 deploy/examples/minimal.yaml $(DESTDIR)$(SYSCONFDIR)/edgeguard/gatewayd.yaml
	install -d -m 0700 $(DESTDIR)$(STATEDIR)
	@if [ -z "$(DESTDIR)" ]; then \
	  if command -v systemd-sysusers >/dev/null 2>&1; then systemd-sysusers $(SYSUSERSDIR)/edgeguard.conf; \
	  elif ! id edgeguard >/dev/null 2>&1; then useradd --system --home-dir $(STATEDIR) --shell /usr/sbin/nologin edgeguard; fi; \
	  chown edgeguard:edgeguard $(STATEDIR); chgrp edgeguard $(SYSCONFDIR)/edgeguard $(SYSCONFDIR)/edgeguard/gatewayd.yaml; \
	  if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	  echo "installed; edit $(SYSCONFDIR)/edgeguard/gatewayd.yaml, then: systemctl enable --now edgeguard"; \
	fi

## uninstall: remove what install put in place; the configuration and the state directory stay
## unless changed by nothing (PURGE=1 removes them and the edgeguard user too)
uninstall:
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl disable --now edgeguard 2>/dev/null || true; fi
	rm -f $(DESTDIR)$(BINDIR)/gatewayd $(DESTDIR)$(BINDIR)/gatewayctl $(DESTDIR)$(UNITDIR)/edgeguard.service \
	    $(DESTDIR)$(SYSUSERSDIR)/edgeguard.conf
	rm -rf $(DESTDIR)$(DOCDIR)
	if cmp -s deploy/examples/minimal.yaml $(DESTDIR)$(SYSCONFDIR)/edgeguard/gatewayd.yaml || [ -n "$(PURGE)" ]; then \
	    rm -f $(DESTDIR)$(SYSCONFDIR)/edgeguard/gatewayd.yaml; fi
	@if [ -n "$(PURGE)" ]; then rm -rf $(DESTDIR)$(SYSCONFDIR)/edgeguard $(DESTDIR)$(STATEDIR); \
	  if [ -z "$(DESTDIR)" ]; then rm -rf /sys/fs/bpf/edgeguard; userdel edgeguard 2>/dev/null || true; fi; fi
	-rmdir $(DESTDIR)$(SYSCONFDIR)/edgeguard $(DESTDIR)$(STATEDIR) 2>/dev/null
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
	@[ -z "$(PURGE)" ] && { [ ! -d $(DESTDIR)$(SYSCONFDIR)/edgeguard ] || echo "kept $(SYSCONFDIR)/edgeguard"; \
	  [ ! -d $(DESTDIR)$(STATEDIR) ] || echo "kept $(STATEDIR) (blocklist and bans)"; } || true

clean:
	rm -rf $(BIN)
