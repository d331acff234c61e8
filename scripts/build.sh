#!/usr/bin/env bash
# Configures and builds gwr into build/ (binaries in build/bin).
#   scripts/build.sh [extra cmake args...]
# The platform seam is this machine's own unless the arguments name one
# (-DGWR_PLATFORM=posix): a tree scripts/test.sh left relinked for POSIX
# goes back to the default here.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="$(nproc 2>/dev/null || echo 2)"
if [[ "$(uname -s)" == Darwin ]]; then
  # Homebrew's packages (under /opt/homebrew on Apple silicon); all the cores.
  export CMAKE_PREFIX_PATH="${CMAKE_PREFIX_PATH:-$(brew --prefix)}"
  jobs="$(sysctl -n hw.ncpu)"
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGWR_PLATFORM= "$@" >/dev/null
cmake --build build -j"$jobs"
