#!/usr/bin/env bash
# bench/waf/run.sh: how much of GoTestWAF's attack corpus a gatewayd blocks,
# how many of its benign requests pass, and the same for libinjection's
# SQLi/XSS/benign sample files, for one route-level configuration.
#
#   bench/waf/run.sh                                   # today's gateway, no WAF (the baseline)
#   bench/waf/run.sh 'waf: {libinjection: block}'      # tier 1
#   bench/waf/run.sh 'waf: {crs: {mode: block, paranoia: 1}}'
#
# The argument is YAML written into the one route of bench/waf/gatewayd.yaml
# (at the route's indentation; several lines are fine), so any route key can
# be measured this way. The run:
#   1. builds gatewayd (from this tree), the echo upstream, the replay and
#      the summary programs into $BIN (go build, so only what changed);
#   2. writes the config into $OUT, checks it (gatewayd check-config), starts
#      the upstream and gatewayd on loopback and waits until a request passes;
#   3. runs GoTestWAF against the gateway, with every 4xx counted as blocked
#      and 200 as passed (the upstream answers every request 200, so a 4xx is
#      always the gateway's refusal; 403 is the WAF's, other 4xx come from the
#      request hygiene and are shown apart), and summarizes its report;
#   4. replays libinjection's samples as GET /?q=<sample>;
#   5. prints the SUMMARY lines last and appends them to $ROOT/history.txt.
# Every process it starts is stopped when it exits (trap), every step has a
# time limit, and every address must be on loopback.
#
# Inputs that are not in this repository (nothing of theirs is copied here):
#   GOTESTWAF         a gotestwaf binary (github.com/wallarm/gotestwaf; measured
#                     with v0.5.7, commit 67dfd7a). Default: $GOTESTWAF_DIR/gotestwaf,
#                     else gotestwaf on PATH.
#   GOTESTWAF_DIR     that project's checkout, for its testcases/ and config.yaml
#                     (default /tmp/gotestwaf)
#   LIBINJECTION_DATA the data/ directory of a github.com/libinjection/libinjection
#                     checkout (default /tmp/libinjection/data)
# Other settings (environment):
#   ROOT=/tmp/edgeguard-waf-bench   BIN=$ROOT/bin   OUT=$ROOT/runs/<time>-<label>
#   LABEL (default: the snippet, or "none")
#   GATEWAY_ADDR=127.0.0.1:18480  MGMT_ADDR=127.0.0.1:18481  UPSTREAM_ADDR=127.0.0.1:18482
#   GOTESTWAF_WORKERS=5  GOTESTWAF_TIMEOUT=15m  REPLAY_WORKERS=4  REPLAY_TIMEOUT=10m
#   SKIP_GOTESTWAF=1 or SKIP_REPLAY=1 to run one half only
# Exit status: 0 when every step ran (whatever the rates), 1 otherwise.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
snippet=${1-}

ROOT=${ROOT:-/tmp/edgeguard-waf-bench}
BIN=${BIN:-$ROOT/bin}
GOTESTWAF_DIR=${GOTESTWAF_DIR:-/tmp/gotestwaf}
LIBINJECTION_DATA=${LIBINJECTION_DATA:-/tmp/libinjection/data}
GATEWAY_ADDR=${GATEWAY_ADDR:-127.0.0.1:18480}
MGMT_ADDR=${MGMT_ADDR:-127.0.0.1:18481}
UPSTREAM_ADDR=${UPSTREAM_ADDR:-127.0.0.1:18482}
GOTESTWAF_WORKERS=${GOTESTWAF_WORKERS:-5}
GOTESTWAF_TIMEOUT=${GOTESTWAF_TIMEOUT:-15m}
REPLAY_WORKERS=${REPLAY_WORKERS:-4}
REPLAY_TIMEOUT=${REPLAY_TIMEOUT:-10m}
SKIP_GOTESTWAF=${SKIP_GOTESTWAF:-}
SKIP_REPLAY=${SKIP_REPLAY:-}

if [[ -z ${LABEL:-} ]]; then
	LABEL=$(tr -s ' \t\n' ' ' <<<"${snippet:-none}" | sed 's/^ //; s/ $//')
fi
slug=$(printf '%s' "$LABEL" | tr -c 'A-Za-z0-9._-' '_' | cut -c1-60)
OUT=${OUT:-$ROOT/runs/$(date -u +%Y%m%dT%H%M%SZ)-$slug}

log() { printf '%s waf-bench: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
	log "$*"
	exit 1
}

# Loopback only: the benchmark sends attack traffic.
for addr in "$GATEWAY_ADDR" "$MGMT_ADDR" "$UPSTREAM_ADDR"; do
	[[ $addr == 127.* || $addr == "[::1]:"* ]] || die "address $addr is not on loopback"
done
in_use() {
	local host=${1%:*}
	host=${host#[}
	(exec 3<>"/dev/tcp/${host%]}/${1##*:}") 2>/dev/null
}
for addr in "$GATEWAY_ADDR" "$MGMT_ADDR" "$UPSTREAM_ADDR"; do
	# A leftover server on the port would be measured instead of this build.
	! in_use "$addr" || die "$addr is already in use: stop what listens there or set GATEWAY_ADDR, MGMT_ADDR, UPSTREAM_ADDR"
done

if [[ -z $SKIP_GOTESTWAF ]]; then
	GOTESTWAF=${GOTESTWAF:-}
	if [[ -z $GOTESTWAF ]]; then
		if [[ -x $GOTESTWAF_DIR/gotestwaf ]]; then
			GOTESTWAF=$GOTESTWAF_DIR/gotestwaf
		else
			GOTESTWAF=$(command -v gotestwaf || true)
		fi
	fi
	[[ -n $GOTESTWAF && -x $GOTESTWAF ]] || die "no gotestwaf binary: set GOTESTWAF (github.com/wallarm/gotestwaf, built from source), or SKIP_GOTESTWAF=1"
	[[ -d $GOTESTWAF_DIR/testcases && -f $GOTESTWAF_DIR/config.yaml ]] ||
		die "GOTESTWAF_DIR=$GOTESTWAF_DIR has no testcases/ and config.yaml: point it at a gotestwaf checkout"
fi
if [[ -z $SKIP_REPLAY ]]; then
	compgen -G "$LIBINJECTION_DATA/sqli-*.txt" >/dev/null ||
		die "LIBINJECTION_DATA=$LIBINJECTION_DATA has no sqli-*.txt: point it at a libinjection checkout's data/ directory, or SKIP_REPLAY=1"
fi

mkdir -p "$BIN" "$OUT"
log "building into $BIN"
(cd "$repo" && go build -o "$BIN/gatewayd" ./cmd/gatewayd &&
	go build -o "$BIN/waf-upstream" ./bench/waf/upstream &&
	go build -o "$BIN/waf-replay" ./bench/waf/replay &&
	go build -o "$BIN/waf-summary" ./bench/waf/summary) || die "build failed"

# The config: markers replaced, the snippet indented under the route.
config=$OUT/gatewayd.yaml
SNIPPET=$snippet awk -v gw="$GATEWAY_ADDR" -v mg="$MGMT_ADDR" -v up="$UPSTREAM_ADDR" -v al="$OUT/access.log" '
	/@ROUTE_SNIPPET@/ {
		indent = substr($0, 1, index($0, "@") - 1)
		n = split(ENVIRON["SNIPPET"], lines, "\n")
		for (i = 1; i <= n; i++) if (lines[i] != "") print indent lines[i]
		next
	}
	{ gsub("@GATEWAY_ADDR@", gw); gsub("@MGMT_ADDR@", mg); gsub("@UPSTREAM_ADDR@", up); gsub("@ACCESS_LOG@", al); print }
' "$here/gatewayd.yaml" >"$config"
"$BIN/gatewayd" check-config "$config" >"$OUT/check-config.txt" 2>&1 || {
	cat "$OUT/check-config.txt" >&2
	die "the configuration with snippet '$snippet' is refused (see above)"
}

pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		# Bounded: gatewayd drains for at most shutdown_grace; then KILL.
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	done
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# bounded LIMIT CMD...: CMD under timeout, in the background so that a signal
# to this script is handled at once (the trap stops it with the others).
bounded() {
	timeout --kill-after=10s "$@" &
	local pid=$!
	pids+=("$pid")
	wait "$pid"
}

# wait_for URL: until it answers 200, at most 10 s.
wait_for() {
	for _ in $(seq 100); do
		[[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1" 2>/dev/null) == 200 ]] && return 0
		sleep 0.1
	done
	return 1
}

"$BIN/waf-upstream" -addr "$UPSTREAM_ADDR" >"$OUT/upstream.log" 2>&1 &
pids+=($!)
wait_for "http://$UPSTREAM_ADDR/__upstream/stats" || die "upstream did not start (see $OUT/upstream.log)"
"$BIN/gatewayd" --config "$config" >"$OUT/gatewayd.log" 2>&1 &
gw_pid=$!
pids+=("$gw_pid")
wait_for "http://$GATEWAY_ADDR/" || die "gatewayd did not pass a request within 10 s (see $OUT/gatewayd.log)"

# rotate_log NAME: the access log so far becomes NAME. gatewayd writes the
# queued lines to the old file before it opens the new one (SIGUSR1), and
# every line is queued before its response is sent, so the split is exact.
rotate_log() {
	mv "$OUT/access.log" "$OUT/$1"
	kill -USR1 "$gw_pid"
	for _ in $(seq 50); do [[ -e $OUT/access.log ]] && return 0; sleep 0.1; done
	die "gatewayd did not reopen its access log"
}
rotate_log startup-access.log

failed=0
summaries=()
start=$SECONDS
if [[ -z $SKIP_GOTESTWAF ]]; then
	log "GoTestWAF ($("$GOTESTWAF" --version 2>&1 | tail -1)) against http://$GATEWAY_ADDR/ [$LABEL]"
	t0=$SECONDS
	# --blockStatusCodes: every 4xx (see the header); --passStatusCodes: 200
	# only, so anything else is "unresolved" and shows. No WAF pre-check or
	# identification (the baseline has no WAF to find), no e-mail, no gRPC
	# (--grpcPort 0), no OpenAPI file: nothing but the gateway is contacted.
	if bounded "$GOTESTWAF_TIMEOUT" "$GOTESTWAF" \
		--url "http://$GATEWAY_ADDR/" \
		--configPath "$GOTESTWAF_DIR/config.yaml" --testCasesPath "$GOTESTWAF_DIR/testcases" \
		--skipWAFBlockCheck --skipWAFIdentification --noEmailReport --grpcPort 0 \
		--blockStatusCodes "$(seq -s, 400 499)" --passStatusCodes 200 \
		--workers "$GOTESTWAF_WORKERS" --sendDelay 0 --randomDelay 1 \
		--wafName "edgeguard [$LABEL]" --reportFormat json --reportPath "$OUT" --reportName gotestwaf \
		--logFormat text </dev/null >"$OUT/gotestwaf.log" 2>&1; then
		rotate_log gotestwaf-access.log
		log "GoTestWAF done in $((SECONDS - t0)) s"
		if "$BIN/waf-summary" -label "$LABEL" -report "$OUT/gotestwaf.json" -csv "$OUT/gotestwaf.csv" \
			-accesslog "$OUT/gotestwaf-access.log" >"$OUT/gotestwaf-summary.txt"; then
			cat "$OUT/gotestwaf-summary.txt"
			summaries+=("$(grep '^SUMMARY' "$OUT/gotestwaf-summary.txt")")
		else
			failed=1
		fi
	else
		rotate_log gotestwaf-access.log
		tail -20 "$OUT/gotestwaf.log" >&2
		log "GoTestWAF failed or timed out (log: $OUT/gotestwaf.log)"
		failed=1
	fi
fi

if [[ -z $SKIP_REPLAY ]]; then
	log "libinjection replay from $LIBINJECTION_DATA"
	t0=$SECONDS
	rc=0
	bounded "$REPLAY_TIMEOUT" "$BIN/waf-replay" -url "http://$GATEWAY_ADDR/" \
		-data "$LIBINJECTION_DATA" -label "$LABEL" -workers "$REPLAY_WORKERS" -deadline "$REPLAY_TIMEOUT" \
		-misses "$OUT/misses" >"$OUT/replay-summary.txt" || rc=$?
	rotate_log replay-access.log
	cat "$OUT/replay-summary.txt"
	summaries+=("$(grep '^SUMMARY' "$OUT/replay-summary.txt" || true)")
	if ((rc != 0)); then
		log "replay exited $rc"
		failed=1
	fi
	log "replay done in $((SECONDS - t0)) s"
fi
served=$(curl -s --max-time 2 "http://$UPSTREAM_ADDR/__upstream/stats" || echo '?')
log "upstream: $served; total $((SECONDS - start)) s; outputs in $OUT"

libinjection_rev=$(git -C "$LIBINJECTION_DATA" rev-parse --short HEAD 2>/dev/null || echo unknown)
tree_rev=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)
{
	echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) tree $tree_rev, libinjection data $libinjection_rev, out $OUT"
	printf '%s\n' "${summaries[@]}"
} | tee -a "$ROOT/history.txt"
exit "$failed"
