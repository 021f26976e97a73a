#!/usr/bin/env bash
# bench/compare.sh: the same xmppload scenarios against xmppd, Prosody and
# ejabberd, one server at a time, and a table with the ratios.
#
# Each server runs pinned to CPU $SERVER_CPU (xmppd's private PostgreSQL is
# its child, so it is pinned too; ejabberd keeps Mnesia and Prosody SQLite
# in their own process), the load tool to CPU $LOAD_CPU: every figure is
# per server core. Configs come from bench/{xmppd,prosody,ejabberd}/ with
# @DIR@ and @PORT@ filled in; data, logs and one self-signed certificate
# (shared by all three) go to a temporary directory that is removed at the
# end unless KEEP=1. Prosody and ejabberd are installed from Debian when
# absent. Every step is bounded (timeout), and the servers started here
# are stopped on exit.
#
# Scenarios: idle, login, chat and muc (ladders passing with p99 < 1 s),
# chat50 and muc50 (the same ladders passing with p99 < $TARGET_P99, the
# bar of issue #7's targets), mam, and chatoff: the chat ladder with each
# server's message archive turned off (a restart with a changed config,
# put back afterwards).
#
# Settings (environment): SERVERS, USERS, LOGIN_N, LOGIN_C, IDLE_N,
# CHAT_RATE, CHAT_DURATION, LADDER_STEPS, TARGET_P99, CHATOFF_RATE, MUC_N,
# MUC_SENDERS, MUC_RATE, MAM_N, MAM_FILL, MAM_PAGE, MAM_RATE, SCENARIOS,
# SERVER_CPU, LOAD_CPU, OUT, QUIET_PCT, QUIET_WAIT.
# Before each run the load tool's CPU must be quiet (at most QUIET_PCT %
# busy over two seconds, waiting up to QUIET_WAIT seconds for it): other
# work on the machine skews every figure 2-10x. BUSY_OK=1 runs anyway
# and marks the run's summary.
# TABLE_ONLY=1 OUT=bench/results/X.md only rewrites the table from the runs
# already in bench/results/X/ (for instance after rerunning one server
# with SERVERS=... OUT=bench/results/X.md).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

SERVERS=${SERVERS:-"xmppd prosody ejabberd"}
SCENARIOS=${SCENARIOS:-"idle login chat chat50 muc muc50 mam chatoff"}
USERS=${USERS:-200}                 # accounts load0 .. load$((USERS-1)) on every server
LOGIN_N=${LOGIN_N:-1000}
LOGIN_C=${LOGIN_C:-50}
IDLE_N=${IDLE_N:-2000}              # over the $USERS accounts
CHAT_RATE=${CHAT_RATE:-500}         # the ladder's first rate, msgs/s
CHAT_DURATION=${CHAT_DURATION:-10s}
LADDER_STEPS=${LADDER_STEPS:-6}
TARGET_P99=${TARGET_P99:-50ms}      # chat50, muc50: the p99 a step must stay under
CHATOFF_RATE=${CHATOFF_RATE:-2000}  # chatoff: the ladder's first rate, msgs/s
MUC_N=${MUC_N:-100}
MUC_SENDERS=${MUC_SENDERS:-10}
MUC_RATE=${MUC_RATE:-80}            # the ladder's first rate, msgs/s sent to the room
MAM_N=${MAM_N:-20}
MAM_FILL=${MAM_FILL:-250}
MAM_PAGE=${MAM_PAGE:-50}
MAM_RATE=${MAM_RATE:-100}           # fill rate, msgs/s: below every server's chat capacity
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
QUIET_PCT=${QUIET_PCT:-15}          # the load tool's CPU: how busy it may be before a run
QUIET_WAIT=${QUIET_WAIT:-600}       # seconds to wait for it to be that quiet
STAMP=$(date -u +%Y-%m-%d-%H%M)
OUT=${OUT:-bench/results/$STAMP.md}
declare -A PORT=([xmppd]=15222 [prosody]=15322 [ejabberd]=15422)

WORK=$(mktemp -d /tmp/xmppbench.XXXXXX)
chmod 755 "$WORK"
RUNNING="" # the server now running, stopped by stop_server
log() { echo "compare: $*" >&2; }

RESULTS=${OUT%.md}
mkdir -p "$RESULTS"
if [ "${TABLE_ONLY:-0}" != 1 ]; then
# --- install -----------------------------------------------------------------
missing=""
command -v prosody >/dev/null || missing="$missing prosody"
command -v ejabberdctl >/dev/null || missing="$missing ejabberd"
dpkg -s lua-dbi-sqlite3 >/dev/null 2>&1 || missing="$missing lua-dbi-sqlite3"
command -v jq >/dev/null || missing="$missing jq" # the table
if [ -n "$missing" ]; then
	log "installing$missing"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >"$WORK/apt.log"
	# Where the packages started their system services, stop them: they
	# would take CPU from the measured server.
	if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
		systemctl stop prosody ejabberd 2>/dev/null || true
	fi
fi

# --- build and certificate ---------------------------------------------------
log "building xmppd and xmppload in $WORK/bin"
go build -o "$WORK/bin/xmppd" ./cmd/xmppd
go build -o "$WORK/bin/xmppload" ./cmd/xmppload
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-subj /CN=localhost -addext "subjectAltName=DNS:localhost,DNS:conference.localhost" \
	-keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

# --- servers -----------------------------------------------------------------
# setup NAME: the server's directory with its config, certificate and owner.
setup() {
	local d=$WORK/$1 owner=${2:-root}
	mkdir -p "$d/data" "$d/certs"
	cp "$WORK/cert.pem" "$WORK/key.pem" "$d/"
	for f in "$REPO"/bench/"$1"/*; do
		sed -e "s|@DIR@|$d|g" -e "s|@PORT@|${PORT[$1]}|g" "$f" >"$d/$(basename "$f")"
	done
	chown -R "$owner:" "$d"
}

# $WORK/ejctl runs ejabberdctl for the node started here, as the ejabberd
# user (ejabberdctl would otherwise switch with su, which sets the
# open-files limit back to 1024), with its Erlang cookie in its directory.
cat >"$WORK/ejctl" <<EOF
#!/bin/sh
HOME=$WORK/ejabberd exec setpriv --reuid=ejabberd --regid=ejabberd --init-groups \\
	ejabberdctl --config $WORK/ejabberd/ejabberd.yml --ctl-config $WORK/ejabberd/ejabberdctl.cfg \\
	--node xmppbench@localhost --spool $WORK/ejabberd/data --logs $WORK/ejabberd "\$@"
EOF
chmod 755 "$WORK/ejctl"

# start_server NAME: starts it pinned and waits for its port.
start_server() {
	local d=$WORK/$1
	case $1 in
	xmppd)
		taskset -c "$SERVER_CPU" "$WORK/bin/xmppd" -c "$d/xmppd.toml" serve >>"$d/server.log" 2>&1 &
		echo $! >"$d/pid" ;;
	prosody)
		# setpriv execs: $! is Prosody itself, running as its own user.
		taskset -c "$SERVER_CPU" setpriv --reuid=prosody --regid=prosody --init-groups \
			prosody --config "$d/prosody.cfg.lua" -F >>"$d/server.log" 2>&1 &
		echo $! >"$d/pid" ;;
	ejabberd)
		taskset -c "$SERVER_CPU" "$WORK/ejctl" start >>"$d/server.log" 2>&1
		timeout 60 "$WORK/ejctl" started >>"$d/server.log" 2>&1 ;;
	esac
	RUNNING=$1
	for _ in $(seq 120); do
		if (exec 3<>"/dev/tcp/127.0.0.1/${PORT[$1]}") 2>/dev/null; then
			sleep 1
			return 0
		fi
		sleep 0.5
	done
	log "$1 did not open port ${PORT[$1]}; see $d/server.log"
	return 1
}

# stop_server: stops the server start_server started, and waits for it.
stop_server() {
	local d=$WORK/$RUNNING
	case $RUNNING in
	"") return 0 ;;
	ejabberd)
		"$WORK/ejctl" stop >>"$d/server.log" 2>&1 || true
		timeout 60 "$WORK/ejctl" stopped >>"$d/server.log" 2>&1 || true ;;
	*)
		local pid
		pid=$(cat "$d/pid")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
		kill -9 "$pid" 2>/dev/null || true ;;
	esac
	RUNNING=""
}

cleanup() {
	stop_server
	if [ "${KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# create_cmd NAME: the -create template of xmppload (password on stdin).
create_cmd() {
	local d=$WORK/$1
	case $1 in
	xmppd) echo "$WORK/bin/xmppd -c $d/xmppd.toml user add {user}@{domain}" ;;
	prosody) echo "prosodyctl --config $d/prosody.cfg.lua register {user} {domain} \"\$(cat)\"" ;;
	ejabberd) echo "$WORK/ejctl register {user} {domain} \"\$(cat)\"" ;;
	esac
}

# archive_off NAME: changes the server's config in its directory so that it
# archives no messages, keeping the original as CONFIG.orig.
archive_off() {
	local d=$WORK/$1 f
	case $1 in
	xmppd) f=$d/xmppd.toml ;;
	prosody) f=$d/prosody.cfg.lua ;;
	ejabberd) f=$d/ejabberd.yml ;;
	esac
	cp -p "$f" "$f.orig"
	case $1 in
	xmppd) printf '\n[archive]\nenabled = false\n' >>"$f" ;;
	prosody) sed -i 's/, "mam" }/ }/' "$f" ;;
	ejabberd) sed -i '/^  mod_mam:$/,/^    default: always$/d' "$f" ;;
	esac
	! cmp -s "$f" "$f.orig" || { log "$1: could not turn its archive off"; return 1; }
}

# archive_on NAME: puts back the config archive_off changed.
archive_on() {
	local f
	for f in "$WORK/$1"/*.orig; do mv "$f" "${f%.orig}"; done
}

# cpu_busy N: how busy CPU N was over the next two seconds, in percent.
cpu_busy() {
	local a b
	a=($(grep "^cpu$1 " /proc/stat))
	sleep 2
	b=($(grep "^cpu$1 " /proc/stat))
	# user nice system idle iowait irq softirq steal
	local busy=0 total=0 i
	for i in 1 2 3 4 5 6 7 8; do
		total=$((total + b[i] - a[i]))
		[ "$i" = 4 ] || [ "$i" = 5 ] || busy=$((busy + b[i] - a[i]))
	done
	echo $((total > 0 ? 100 * busy / total : 0))
}

# wait_quiet: returns once CPU $LOAD_CPU is at most $QUIET_PCT % busy (the
# server's own work is on $SERVER_CPU); after $QUIET_WAIT seconds gives
# up: exits, or with BUSY_OK=1 returns 1 so that the run is marked.
wait_quiet() {
	local busy end=$((SECONDS + QUIET_WAIT))
	while busy=$(cpu_busy "$LOAD_CPU"); [ "$busy" -gt "$QUIET_PCT" ]; do
		if [ "$SECONDS" -ge "$end" ]; then
			[ "${BUSY_OK:-0}" = 1 ] && { log "CPU $LOAD_CPU still $busy % busy: running anyway (BUSY_OK=1)"; return 1; }
			log "CPU $LOAD_CPU still $busy % busy after ${QUIET_WAIT}s: other work would skew the figures; stop it, or set BUSY_OK=1"
			exit 3
		fi
		log "CPU $LOAD_CPU is $busy % busy with other work; waiting"
		sleep 10
	done
}

# load NAME LABEL SCENARIO FLAGS...: one pinned, bounded xmppload run; its
# JSON and summary go to $RESULTS/NAME-LABEL.{json,txt}.
load() {
	local name=$1 label=$2 sc=$3 busy=""
	shift 3
	wait_quiet || busy="run on a busy machine (CPU $LOAD_CPU over $QUIET_PCT % before it)"
	log "$name: xmppload $sc $*"
	timeout 30m taskset -c "$LOAD_CPU" "$WORK/bin/xmppload" "$sc" -port "${PORT[$name]}" -timeout 25m "$@" \
		>"$RESULTS/$name-$label.json" 2>"$RESULTS/$name-$label.txt" || log "$name $label: not ok (see the summary)"
	[ -z "$busy" ] || echo "$busy" >>"$RESULTS/$name-$label.txt"
	cat "$RESULTS/$name-$label.txt" >&2
}

for s in $SERVERS; do
	case $s in
	xmppd) setup xmppd ;;
	prosody) setup prosody prosody ;;
	ejabberd) setup ejabberd ejabberd ;;
	*) log "unknown server $s"; exit 2 ;;
	esac
	start_server "$s"
	log "$s: creating $USERS accounts"
	load "$s" create login -n "$USERS" -c 20 -warmup=false -create "$(create_cmd "$s")" \
		-create-c "$([ "$s" = prosody ] && echo 1 || echo 2)" # SQLite: one writer at a time
	# A fresh server for the memory figure.
	stop_server
	start_server "$s"
	for sc in $SCENARIOS; do
		case $sc in
		idle) load "$s" idle idle -n "$IDLE_N" -accounts "$USERS" -c 100 ;;
		login) load "$s" login login -n "$LOGIN_N" -accounts "$USERS" -c "$LOGIN_C" ;;
		chat) load "$s" chat chat -n "$USERS" -c 50 -rate "$CHAT_RATE" -duration "$CHAT_DURATION" -ladder -ladder-steps "$LADDER_STEPS" ;;
		chat50) load "$s" chat50 chat -n "$USERS" -c 50 -rate "$CHAT_RATE" -duration "$CHAT_DURATION" -ladder -ladder-steps "$LADDER_STEPS" -max-p99 "$TARGET_P99" ;;
		chatoff)
			stop_server
			if archive_off "$s"; then
				start_server "$s"
				load "$s" chatoff chat -n "$USERS" -c 50 -rate "$CHATOFF_RATE" -duration "$CHAT_DURATION" -ladder -ladder-steps "$LADDER_STEPS"
				stop_server
			fi
			archive_on "$s"
			start_server "$s" ;;
		muc) load "$s" muc muc -n "$MUC_N" -c 25 -senders "$MUC_SENDERS" -rate "$MUC_RATE" -duration "$CHAT_DURATION" -ladder -ladder-steps "$LADDER_STEPS" ;;
		muc50) load "$s" muc50 muc -n "$MUC_N" -c 25 -senders "$MUC_SENDERS" -rate "$MUC_RATE" -duration "$CHAT_DURATION" -ladder -ladder-steps "$LADDER_STEPS" -max-p99 "$TARGET_P99" ;;
		mam) load "$s" mam mam -n "$MAM_N" -c 20 -fill "$MAM_FILL" -page "$MAM_PAGE" -rate "$MAM_RATE" -drain 30s ;;
		esac
	done
	stop_server
done
fi # TABLE_ONLY

# --- table -------------------------------------------------------------------
# val NAME SCENARIO JQ: a figure from a run's JSON, or "–".
val() {
	local f=$RESULTS/$1-$2.json
	[ -s "$f" ] && jq -r "($3) // \"–\" | if type == \"number\" then (. * 10 | round / 10) else . end" "$f" 2>/dev/null || echo "–"
}
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.3g", a / b; else printf "–" }'
}
BEST='(.result.steps | map(select(.pass)) | max_by(.rate_target))'
rows=(
	"login sessions/s (N=$LOGIN_N, C=$LOGIN_C);login;.result.logins.sessions_per_s;up"
	"login p99 ms;login;.result.logins.latency_ms.p99;down"
	"server CPU ms per login;login;.result.cpu.server_ms_per_login;down"
	"idle KiB per session (N=$IDLE_N);idle;.result.server.kib_per_session;down"
	"chat: highest rate passing, msgs/s ($USERS users);chat;.result.best_rate;up"
	"chat p50 ms at the server's own highest passing rate;chat;$BEST.latency_ms.p50;down"
	"chat p99 ms at the server's own highest passing rate;chat;$BEST.latency_ms.p99;down"
	"chat server µs per delivered msg at that rate;chat;$BEST.server_us_per_delivery;down"
	"chat p99 ms at the first rate, $CHAT_RATE/s;chat;.result.steps[0].latency_ms.p99;down"
	"chat loss % at the first rate, $CHAT_RATE/s;chat;.result.steps[0].loss_pct;down"
	"chat: highest rate with p99 < $TARGET_P99, msgs/s;chat50;.result.best_rate;up"
	"chat p99 ms at that rate;chat50;$BEST.latency_ms.p99;down"
	"chat, archive off: highest rate passing, msgs/s;chatoff;.result.best_rate;up"
	"chat, archive off: p99 ms at that rate;chatoff;$BEST.latency_ms.p99;down"
	"chat, archive off: server µs per delivered msg at that rate;chatoff;$BEST.server_us_per_delivery;down"
	"muc: highest delivered stanzas/s passing ($MUC_N occupants, $MUC_SENDERS senders);muc;$BEST.delivered_per_s;up"
	"muc p99 ms at the server's own highest passing rate;muc;$BEST.latency_ms.p99;down"
	"muc: highest delivered stanzas/s with p99 < $TARGET_P99;muc50;$BEST.delivered_per_s;up"
	"muc p99 ms at that rate;muc50;$BEST.latency_ms.p99;down"
	"mam page p50 ms (page $MAM_PAGE);mam;.result.pages_ms.p50;down"
	"mam page p99 ms;mam;.result.pages_ms.p99;down"
)
{
	echo "# xmppd, Prosody and ejabberd side by side, $STAMP UTC"
	echo
	echo "Made by \`bench/compare.sh\` (servers pinned to CPU $SERVER_CPU, xmppload to CPU $LOAD_CPU; figures per server core)."
	echo "Versions: xmppd $(git -C "$REPO" rev-parse --short HEAD)$(git -C "$REPO" diff --quiet HEAD -- . 2>/dev/null || echo '+changes'), Prosody $(dpkg-query -W -f '${Version}' prosody), ejabberd $(dpkg-query -W -f '${Version}' ejabberd)."
	echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs; other work on the machine skews every rate)."
	echo
	echo "| figure | xmppd | ejabberd | Prosody | xmppd/ejabberd | xmppd/Prosody | better |"
	echo "|---|---|---|---|---|---|---|"
	for row in "${rows[@]}"; do
		IFS=';' read -r label sc q dir <<<"$row"
		case " $SCENARIOS " in *" $sc "*) ;; *) continue ;; esac
		x=$(val xmppd "$sc" "$q"); e=$(val ejabberd "$sc" "$q"); p=$(val prosody "$sc" "$q")
		echo "| $label | $x | $e | $p | $(ratio "$x" "$e") | $(ratio "$x" "$p") | $([ "$dir" = up ] && echo higher || echo lower) |"
	done
	echo
	echo "Load average during each run (start → end):"
	echo
	for s in xmppd ejabberd prosody; do
		for sc in create $SCENARIOS; do
			[ -s "$RESULTS/$s-$sc.json" ] && echo "- $s $sc: $(jq -r '.loadavg | join(" → ")' "$RESULTS/$s-$sc.json"), ok: $(jq -r .ok "$RESULTS/$s-$sc.json")"
		done
	done
	echo
	echo "Summaries:"
	echo
	for s in xmppd ejabberd prosody; do
		for sc in create $SCENARIOS; do
			[ -s "$RESULTS/$s-$sc.txt" ] && { echo "$s $sc:"; echo '```'; cat "$RESULTS/$s-$sc.txt"; echo '```'; }
		done
	done
} >"$OUT"
log "wrote $OUT (JSON in $RESULTS/)"
cat "$OUT"
