#!/usr/bin/env bash
# The test command: installs what is missing, builds with warnings as
# errors, and runs every test (unit, integration, end-to-end, chaos-short).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
scripts/build.sh -DGWR_WERROR=ON -DGWR_BUILD_TESTS=ON
cd build
ctest --output-on-failure -j"$(nproc 2>/dev/null || echo 2)" --timeout 600 "$@"
