#!/usr/bin/env bash
# Installs, with apt-get, the Debian 12 packages gwr needs that are missing
# (on macOS: the same set from Homebrew, with brew install).
#   scripts/deps.sh build   # to build and run gwr
#   scripts/deps.sh test    # also what the tests and benchmarks use
set -euo pipefail

profile="${1:-build}"

if [[ "$(uname -s)" == Darwin ]]; then
  command -v brew >/dev/null || { echo "deps.sh: on macOS gwr's libraries come from Homebrew (https://brew.sh); install it first" >&2; exit 1; }
  # curl and sqlite are macOS's own; so are ps, lsof, perl and xmllint.
  # bash: the simulated gateway's CLI (the demo's, the tests') needs bash 4.4
  # or later, and macOS's /bin/bash is 3.2.
  formulae=(cmake pkg-config protobuf zeromq cppzmq yaml-cpp spdlog fmt nlohmann-json cpp-httplib bash)
  if [[ "$profile" == "test" ]]; then
    formulae+=(googletest)
  fi
  missing=()
  for f in "${formulae[@]}"; do
    brew list --versions "$f" >/dev/null 2>&1 || missing+=("$f")
  done
  if ((${#missing[@]} > 0)); then
    echo "deps.sh: brew install ${missing[*]}" >&2
    brew install "${missing[@]}"
  fi
  exit 0
fi

packages=(
  build-essential cmake pkg-config
  protobuf-compiler libprotobuf-dev
  libzmq3-dev cppzmq-dev
  libyaml-cpp-dev libspdlog-dev libfmt-dev
  libcurl4-openssl-dev libsqlite3-dev nlohmann-json3-dev
  libcpp-httplib-dev libssl-dev zlib1g-dev libbrotli-dev
)
# Tools checked by command, not package: a node from elsewhere (e.g.
# NodeSource) must not be "replaced" by Debian's older one.
commands=()
if [[ "$profile" == "test" ]]; then
  # googletest; curl for the fakes' self-checks; node+npm fetch the real
  # OpenClaw for the end-to-end tests; monit is the bench's point of comparison.
  # clang builds the Tier 3 validator's libFuzzer target; lsof is what the
  # POSIX platform build (-DGWR_PLATFORM=posix, tested too) asks about sockets.
  # prometheus: its promtool checks gwr-web's /metrics and the shipped alert rules.
  packages+=(libgtest-dev libgmock-dev curl ca-certificates procps lsof libxml2-utils clang libclang-rt-14-dev dpkg-dev)
  # chromium renders gwr-web's status page in a test (headless).
  commands+=("node:nodejs" "npm:npm" "monit:monit" "promtool:prometheus" "chromium:chromium")
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
for c in "${commands[@]}"; do
  if ! command -v "${c%%:*}" >/dev/null 2>&1; then
    missing+=("${c#*:}")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=()
if [[ "$(id -u)" != 0 ]]; then
  command -v sudo >/dev/null || { echo "deps.sh: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; then
  "${sudo[@]}" apt-get update
  "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi
