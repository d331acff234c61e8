# Homebrew formula for gwr, the OpenClaw Gateway Repairer (macOS, from source).
#
#   brew install --build-from-source packaging/homebrew/gwr.rb          # the release tag below
#   brew install --HEAD --build-from-source packaging/homebrew/gwr.rb   # the main branch
#   brew services start gwr                                             # a LaunchAgent, like gwr-service's
#
# Recent Homebrew (since 2025) takes a formula only from a tap: put this one
# in a local tap first, then install it by name:
#   brew tap-new --no-git local/gwr
#   cp packaging/homebrew/gwr.rb "$(brew --repository local/gwr)/Formula/"
#   brew install --HEAD --build-from-source local/gwr/gwr
#
# Before the first release from this formula: put the repository's real
# owner in homepage, url and head (OWNER below), push the tag v1.0.0, then
# fill in the tarball's checksum, printed by
#   curl -fsSL https://github.com/OWNER/gwr/archive/refs/tags/v1.0.0.tar.gz | shasum -a 256
# (or `brew fetch --build-from-source packaging/homebrew/gwr.rb`, which prints it
# with the mismatch error). Until then only --HEAD installs work.
class Gwr < Formula
  desc "Watchdog that detects, repairs and reports OpenClaw gateway failures"
  homepage "https://github.com/OWNER/gwr"
  url "https://github.com/OWNER/gwr/archive/refs/tags/v1.0.0.tar.gz"
  sha256 "0000000000000000000000000000000000000000000000000000000000000000"
  head "https://github.com/OWNER/gwr.git", branch: "main"

  depends_on "cmake" => :build
  depends_on "pkg-config" => :build
  # Header-only: needed to build (the bundled demo's simulated gateway uses
  # cpp-httplib), not to run.
  depends_on "cpp-httplib" => :build
  depends_on "cppzmq" => :build
  depends_on "nlohmann-json" => :build
  # Linked by the binaries (abseil through protobuf's CMake package).
  depends_on "abseil"
  depends_on "fmt"
  depends_on "protobuf"
  depends_on "spdlog"
  depends_on "yaml-cpp"
  depends_on "zeromq"

  uses_from_macos "curl"
  uses_from_macos "sqlite"

  def install
    # GWR_PLATFORM defaults to posix on macOS (ps, lsof, polling).
    args = %w[
      -DGWR_BUILD_TESTS=OFF
      -DGWR_BUILD_BENCH=OFF
    ]
    system "cmake", "-S", ".", "-B", "build", *args, *std_cmake_args
    system "cmake", "--build", "build"
    system "cmake", "--install", "build"
  end

  def post_install
    # launchd opens the service's log files but creates no directory.
    (var/"log/gwr").mkpath
  end

  def caveats
    <<~EOS
      gwr reads ~/.config/gwr/gwr.yaml (and the .env beside it), else its
      built-in defaults; `gwr-service install` writes both and loads its own
      LaunchAgent (ai.openclaw.gwr), so use either that or `brew services`.
    EOS
  end

  service do
    run [opt_bin/"gwr-supervisor"]
    keep_alive true
    process_type :background
    environment_variables PATH: std_service_path_env
    log_path var/"log/gwr/gwr.log"
    error_log_path var/"log/gwr/gwr.err.log"
  end

  test do
    (testpath/"gwr.yaml").write <<~YAML
      gateway:
        port: 18789
        state_dir: "#{testpath}/.openclaw"
      paths:
        runtime_dir: "#{testpath}/run"
        state_dir: "#{testpath}/state"
        log_dir: "#{testpath}/log"
    YAML
    assert_match "config OK", shell_output("#{bin}/gwr-supervisor --config #{testpath}/gwr.yaml --check-config")
    # gwrctl prints its own version, and exits 3 while no daemon runs.
    assert_match(/^gwrctl \d+\.\d+\.\d+$/, shell_output("#{bin}/gwrctl --config #{testpath}/gwr.yaml version", 3))
  end
end
