#!/usr/bin/env bash
# The run command: installs what is missing, builds, and runs gwr in the
# foreground on its built-in defaults (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
scripts/build.sh -DGWR_BUILD_TESTS=OFF -DGWR_BUILD_BENCH=OFF
exec build/bin/gwr-supervisor "$@"
