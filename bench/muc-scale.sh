#!/usr/bin/env bash
# bench/muc-scale.sh: xmppd with many MUC rooms active at once (issue #6:
# "1,000 rooms of 20 occupants each active at once: no room's p99 over
# 100 ms"). xmppd starts as bench/compare.sh starts it — config
# bench/xmppd/xmppd.toml, its private PostgreSQL as its child, pinned to
# CPU $SERVER_CPU — and xmppload runs pinned to CPU $LOAD_CPU, both with at
# least 65536 open files. It creates $USERS accounts, then runs
# `xmppload muc -rooms` once per rate in $RATES, and the one-room case for
# comparison. JSON and summaries go to $OUT/; the server's log too. The
# temporary directory is removed at the end unless KEEP=1.
#
# Settings (environment): USERS, ROOMS, PER_ROOM, SENDERS, RATES, DURATION,
# ROOM_P99, CONC, ONE_N, ONE_SENDERS, ONE_RATE, SERVER_CPU, LOAD_CPU, OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

USERS=${USERS:-1000}
ROOMS=${ROOMS:-1000}
PER_ROOM=${PER_ROOM:-20}            # occupants per room: -n is ROOMS × PER_ROOM
SENDERS=${SENDERS:-1}               # per room
RATES=${RATES:-"500 1000 2000"}     # msgs/s sent, all rooms together
DURATION=${DURATION:-10s}
ROOM_P99=${ROOM_P99:-100ms}         # the issue's bar for every room
CONC=${CONC:-100}                   # logins and joins in flight
ONE_N=${ONE_N:-100}                 # the one-room comparison; ONE_N=0 skips it
ONE_SENDERS=${ONE_SENDERS:-10}
ONE_RATE=${ONE_RATE:-600}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
PORT=15222
OUT=${OUT:-bench/results/muc-scale-$(date -u +%Y-%m-%d-%H%M)}

log() { echo "muc-scale: $*" >&2; }
# Open files, inherited by xmppd, its PostgreSQL and xmppload: 65536, or the
# hard limit where that cannot be raised (no CAP_SYS_RESOURCE).
ulimit -n 65536 2>/dev/null || { ulimit -n "$(ulimit -Hn)"; log "open files limited to $(ulimit -n) (hard limit)"; }
WORK=$(mktemp -d /tmp/xmppmuc.XXXXXX)
chmod 755 "$WORK"
D=$WORK/xmppd
PID=""

stop_server() {
	[ -n "$PID" ] || return 0
	kill "$PID" 2>/dev/null || true
	for _ in $(seq 60); do kill -0 "$PID" 2>/dev/null || break; sleep 0.5; done
	kill -9 "$PID" 2>/dev/null || true
	PID=""
}
cleanup() {
	stop_server
	[ -f "$D/server.log" ] && cp "$D/server.log" "$OUT/xmppd.log"
	if [ "${KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$OUT" "$D/data"
log "building xmppd and xmppload in $WORK/bin"
go build -o "$WORK/bin/xmppd" ./cmd/xmppd
go build -o "$WORK/bin/xmppload" ./cmd/xmppload
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-subj /CN=localhost -addext "subjectAltName=DNS:localhost,DNS:conference.localhost" \
	-keyout "$D/key.pem" -out "$D/cert.pem" 2>/dev/null
sed -e "s|@DIR@|$D|g" -e "s|@PORT@|$PORT|g" bench/xmppd/xmppd.toml >"$D/xmppd.toml"

taskset -c "$SERVER_CPU" "$WORK/bin/xmppd" -c "$D/xmppd.toml" serve >>"$D/server.log" 2>&1 &
PID=$!
for _ in $(seq 120); do
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
	sleep 0.5
done
sleep 1
log "xmppd pid $PID, open files $(awk '/Max open files/ {print $4}' /proc/$PID/limits)"

# load LABEL SCENARIO FLAGS...: one pinned, bounded xmppload run.
load() {
	local label=$1 sc=$2
	shift 2
	log "xmppload $sc $* ($(cut -d' ' -f1-3 /proc/loadavg))"
	timeout 30m taskset -c "$LOAD_CPU" "$WORK/bin/xmppload" "$sc" -port "$PORT" -timeout 25m "$@" \
		>"$OUT/$label.json" 2>"$OUT/$label.txt" || log "$label: not ok (see the summary)"
	cat "$OUT/$label.txt" >&2
	log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
}

load create login -n "$USERS" -c 20 -warmup=false -create-c 2 \
	-create "$WORK/bin/xmppd -c $D/xmppd.toml user add {user}@{domain}"
for rate in $RATES; do
	load "rooms$ROOMS-rate$rate" muc -n $((ROOMS * PER_ROOM)) -accounts "$USERS" -c "$CONC" -rooms "$ROOMS" \
		-senders "$SENDERS" -rate "$rate" -duration "$DURATION" -max-room-p99 "$ROOM_P99"
done
if [ "$ONE_N" -gt 0 ]; then
	load "one-room-rate$ONE_RATE" muc -n "$ONE_N" -accounts "$USERS" -c 25 -senders "$ONE_SENDERS" \
		-rate "$ONE_RATE" -duration "$DURATION"
fi
log "server RSS $(awk '/VmRSS|VmHWM/ {printf "%s %s kB  ", $1, $2}' /proc/$PID/status)"
log "results in $OUT/"
