#pragma once

namespace gwr {
inline constexpr const char* kGwrVersion = "1.0.0";
}  // namespace gwr
