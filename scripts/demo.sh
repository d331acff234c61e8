#!/usr/bin/env bash
# The demo scripts/run.sh shows on a machine without OpenClaw: the real gwr,
# on its built-in defaults, watching a bundled simulated gateway (the test
# suite's fake gateway and fake `openclaw` CLI). It injects two faults the
# PRD names, so you see detection, the repair tier by tier and the outcome,
# then `gwrctl history`. gwr keeps running afterwards; Ctrl-C stops it all.
#
#   GATEWAY_PORT=18789     port of the simulated gateway (the gateway default)
#   GWR_DEMO_DIR=/tmp/gwr-demo   where the demo keeps its files
#   GWR_DEMO_EXIT=1        stop after the faults instead of running on
#   TELEGRAM_BOT_TOKEN / TELEGRAM_CHAT_ID   if set, the repairs are reported there too
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$repo/build/bin"
fakes="$repo/build/tests/fakes"
demo="${GWR_DEMO_DIR:-/tmp/gwr-demo}"
port="${GATEWAY_PORT:-18789}"

for f in "$bin/gwr-supervisor" "$bin/gwrctl" "$fakes/fake-gateway" "$fakes/fake-openclaw"; do
  [[ -x "$f" ]] || { echo "demo: $f is missing; run scripts/run.sh (it builds everything)" >&2; exit 1; }
done
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "demo: something already listens on 127.0.0.1:$port; stop it or set GATEWAY_PORT" >&2
  exit 1
fi

bold() { if [[ -t 1 ]]; then printf '\n\033[1m== %s\033[0m\n' "$*"; else printf '\n== %s\n' "$*"; fi; }

rm -rf "$demo"
mkdir -p "$demo/shim" "$demo/service" "$demo/home/.openclaw/agents/main/sessions"
# `openclaw` for gwr's built-in commands: the fake CLI with its own service home.
cat >"$demo/shim/openclaw" <<EOF
#!/usr/bin/env bash
exec "$fakes/fake-openclaw" --home "$demo/service" "\$@"
EOF
chmod +x "$demo/shim/openclaw"
# NAME is what the gateway calls itself: its comm on Linux (cut there to
# 15 bytes), its argv[0] on macOS; gwr looks for "openclaw-gateway".
cat >"$demo/service/config" <<EOF
GATEWAY_BIN=$fakes/fake-gateway
PORT=$port
STATE_DIR=$demo/home/.openclaw
MODE_FILE=$demo/service/gateway.mode
NAME=openclaw-gateway
EOF
# It behaves like OpenClaw <= 2026.7: a stale session lock wedges it.
echo stale_lock >"$demo/service/gateway.mode"

# Built-in defaults, with the demo's files kept apart from a real install.
export PATH="$demo/shim:$PATH"
export HOME="$demo/home"
export GATEWAY_PORT="$port"
export GWR_RUNTIME_DIR="$demo/run" GWR_STATE_DIR="$demo/state" GWR_LOG_DIR="$demo/log"
unset GWR_CONFIG
gwrctl() { "$bin/gwrctl" "$@"; }

gateway_state() {  # "healthy", "down", ... from the first line of `gwrctl status`
  gwrctl status 2>/dev/null | awk 'NR == 1 { print tolower($2) }'
}
repairs() {
  gwrctl history --json 2>/dev/null | grep -c '"status"' || true
}
healthy() { [[ "$(gateway_state)" == healthy ]]; }
one_repair() { [[ "$(repairs)" -ge 1 ]]; }
two_repairs_and_healthy() { [[ "$(repairs)" -ge 2 ]] && healthy; }
wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local limit="$1" what="$2"
  shift 2
  for ((i = 0; i < limit * 5; i++)); do
    if "$@"; then return 0; fi
    sleep 0.2
  done
  echo "demo: gave up waiting for $what" >&2
  return 1
}

supervisor=""
watcher=""
cleanup() {
  [[ -n "$watcher" ]] && kill -TERM "$watcher" 2>/dev/null || true
  [[ -n "$supervisor" ]] && kill -TERM "$supervisor" 2>/dev/null && wait "$supervisor" 2>/dev/null || true
  openclaw gateway stop --force >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bold "Starting the simulated OpenClaw gateway on 127.0.0.1:$port"
openclaw gateway start

bold "Starting gwr on its built-in defaults; \`gwrctl watch\` below tells what it sees and does"
# gwr's own JSON-lines logs go to $demo/log/ (and its stderr to a file);
# `gwrctl watch` is the readable feed of the same story.
"$bin/gwr-supervisor" 2>"$demo/gwr.stderr" &
supervisor=$!
wait_for 30 "gwr to see a healthy gateway" healthy
gwrctl status
echo
# The binary itself in the background, not the gwrctl function: $! must be
# the watcher's pid, or cleanup's kill leaves it running after the demo.
"$bin/gwrctl" watch &
watcher=$!

bold "Fault 1: the gateway crashes (kill -9). Expect: detection at once, Tier 1 restart."
kill -9 "$(cat "$demo/service/gateway.pid")"
wait_for 30 "the first repair" one_repair
wait_for 30 "a healthy gateway" healthy

bold "Fault 2: a stale session lock (its owner is dead) wedges the gateway. Expect: health fails 3 times, Tier 2 removes exactly that lock."
echo '{"pid":999999,"createdAt":1}' >"$demo/home/.openclaw/agents/main/sessions/crashed.jsonl.lock"
echo '{"pid":'$$',"createdAt":'"$(date +%s000)"'}' >"$demo/home/.openclaw/agents/main/sessions/in-use.jsonl.lock"
wait_for 60 "the second repair" two_repairs_and_healthy
echo "Locks left in the sessions directory (the live one must still be there):"
ls "$demo/home/.openclaw/agents/main/sessions"

sleep 1  # the feed's last lines
bold "gwrctl history"
gwrctl history
bold "gwrctl show 2"
gwrctl show 2

if [[ "${GWR_DEMO_EXIT:-0}" == 1 ]]; then
  exit 0
fi
bold "gwr keeps watching. Try: $bin/gwrctl status   (with GWR_RUNTIME_DIR=$demo/run)   Ctrl-C stops gwr and the simulated gateway."
wait "$supervisor"
