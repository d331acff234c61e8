#!/usr/bin/env bash
# One command for every figure: builds, runs each benchmark and writes the
# markdown report to bench/RESULTS.md (and prints it). About 25 minutes.
#   bench/report.sh [--quick]     --quick: fewer repetitions (about 10 minutes)
# A benchmark that fails (exits non-zero: failed runs, missed chaos targets)
# is marked in the report and the others still run; the report is written
# either way, and the script then exits 1 naming the failed benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[[ "${1:-}" == "--quick" ]] && quick=1
scripts/deps.sh test
scripts/build.sh -DGWR_BUILD_TESTS=ON -DGWR_BUILD_BENCH=ON >/dev/null
b=build/bench
out=bench/RESULTS.md
n() { if [[ $quick == 1 ]]; then echo "$2"; else echo "$1"; fi; }
failed=$(mktemp)
trap 'rm -f "$failed"' EXIT
# Runs one benchmark; a non-zero exit is noted in the report and in $failed.
bench() {
  local rc=0
  "$@" || rc=$?
  if [[ $rc != 0 ]]; then
    echo
    echo "**$(basename "$1") FAILED (exit status $rc): see its FAILED or result line above.**"
    echo "$(basename "$1") (exit $rc)" >>"$failed"
  fi
}
{
  echo "# gwr benchmark results"
  echo
  echo "Generated $(date -u +%Y-%m-%dT%H:%M:%SZ) by bench/report.sh$( [[ $quick == 1 ]] && echo ' --quick')"
  echo "on $(uname -sr), $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GB", $2/1048576}' /proc/meminfo) RAM,"
  echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); gwr $(build/bin/gwrctl version 2>/dev/null | head -1 | awk '{print $2}')."
  echo
  bench "$b/restart_latency" "$(n 60 30)"
  echo
  bench "$b/footprint" "$(n 60 20)" --gateway
  echo
  bench "$b/detection" "$(n 60 30)" 20 "$(n 20 10)"
  echo
  bench "$b/causes" "$(n 3 1)"
  echo
  bench "$b/recovery" "$(n 20 10)"
  echo
  if [[ -x "$b/telegram_latency" ]]; then bench "$b/telegram_latency" "$(n 60 50)"; echo; fi
  bench "$b/fleet" --nodes 20 --events "$(n 500 200)" --calls "$(n 2000 1000)"
  echo
  bench "$b/vs_monit" "$(n 10 4)" "$(n 5 2)" $( [[ $quick == 1 ]] && echo --no-typical )
  echo
  bench "$b/chaos" --duration "$(n 5m 90s)" --seed 11
} | tee "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out" >&2
if [[ -s "$failed" ]]; then
  echo "benchmarks that FAILED: $(paste -sd, "$failed" | sed 's/,/, /g')" >&2
  exit 1
fi
