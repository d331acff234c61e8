#!/usr/bin/env bash
# The run command: installs what is missing, builds, and runs gwr in the
# foreground on its built-in defaults (Ctrl-C stops it). On a machine without
# OpenClaw (no `openclaw` command and nothing on the gateway port), it shows
# the demo instead: gwr watching and repairing a bundled simulated gateway.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
scripts/build.sh -DGWR_BUILD_TESTS=OFF -DGWR_BUILD_BENCH=OFF
port="${GATEWAY_PORT:-18789}"
if ! command -v openclaw >/dev/null 2>&1 && ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "run.sh: no OpenClaw gateway on this machine; showing the demo on a simulated one (scripts/demo.sh)." >&2
  exec scripts/demo.sh
fi
echo "run.sh: starting gwr; in another terminal, build/bin/gwrctl doctor checks the whole set-up (each failing item with its fix)." >&2
exec build/bin/gwr-supervisor "$@"
