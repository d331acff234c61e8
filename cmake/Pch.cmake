# Precompiled headers. Nearly every translation unit parses the generated
# gwr.pb.h (24k lines), nlohmann/json, zmq.hpp and, in tests, GoogleTest:
# about three quarters of a typical 10 s compile. Two donors precompile them
# once: gwr_common for the daemon's code and gwr_test_support (the same plus
# GoogleTest) for tests and benches; the other targets reuse a donor's PCH.
# A target may reuse a PCH only when its definitions and flags match the
# donor's (GCC rejects the PCH otherwise, and -Winvalid-pch -Werror would say
# so), which holds for everything linking gwr_common. GWR_PCH=OFF builds
# without them, which also proves no source relies on a header it does not
# include.
option(GWR_PCH "Precompile the headers most sources share (faster builds)" ON)

set(GWR_PCH_CORE_HEADERS
  <algorithm> <chrono> <cstdint> <cstring> <filesystem> <functional> <map>
  <memory> <optional> <string> <string_view> <vector>
  <nlohmann/json.hpp> <zmq.hpp> "${PROJECT_BINARY_DIR}/proto/gwr.pb.h")
set(GWR_PCH_TEST_HEADERS ${GWR_PCH_CORE_HEADERS} <gtest/gtest.h> <gmock/gmock.h>)

# gwr_pch_donor(<target> CORE|TEST): <target> precompiles the headers.
function(gwr_pch_donor target kind)
  if(GWR_PCH)
    target_precompile_headers(${target} PRIVATE ${GWR_PCH_${kind}_HEADERS})
  endif()
endfunction()

# gwr_pch_reuse(<target> <donor>): <target> reuses <donor>'s PCH.
function(gwr_pch_reuse target donor)
  if(GWR_PCH)
    target_precompile_headers(${target} REUSE_FROM ${donor})
  endif()
endfunction()
