#include "common/duration.h"

#include <gtest/gtest.h>

namespace gwr {
namespace {

using std::chrono::milliseconds;

TEST(Duration, ParsesEveryUnit) {
  EXPECT_EQ(parse_duration("250ms").value(), milliseconds(250));
  EXPECT_EQ(parse_duration("10s").value(), milliseconds(10'000));
  EXPECT_EQ(parse_duration("30m").value(), milliseconds(1'800'000));
  EXPECT_EQ(parse_duration("2h").value(), milliseconds(7'200'000));
  EXPECT_EQ(parse_duration("1d").value(), milliseconds(86'400'000));
  EXPECT_EQ(parse_duration("1h30m").value(), milliseconds(5'400'000));
  EXPECT_EQ(parse_duration(" 5s ").value(), milliseconds(5000));
  EXPECT_EQ(parse_duration("0s").value(), milliseconds(0));
}

TEST(Duration, RejectsGarbageWithAReason) {
  for (const char* bad : {"", "10", "s", "10x", "-5s", "1.5s", "10 s", "ms10", "10sec", "99999999999999999999s"}) {
    auto r = parse_duration(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_FALSE(r.message().empty());
    }
  }
  EXPECT_NE(parse_duration("10").message().find("unit"), std::string::npos);
}

TEST(Duration, FormatsShortestExactForm) {
  EXPECT_EQ(format_duration(milliseconds(0)), "0s");
  EXPECT_EQ(format_duration(milliseconds(250)), "250ms");
  EXPECT_EQ(format_duration(milliseconds(90'000)), "1m30s");
  EXPECT_EQ(format_duration(milliseconds(1'800'000)), "30m");
  EXPECT_EQ(format_duration(milliseconds(1'500)), "1s500ms");
}

TEST(Duration, RoundTrips) {
  for (int64_t ms : {1LL, 999LL, 1000LL, 61'001LL, 3'600'000LL, 90'061'001LL}) {
    EXPECT_EQ(parse_duration(format_duration(milliseconds(ms))).value(), milliseconds(ms));
  }
}

}  // namespace
TEST(Duration, HumanFormIsRoundedToTwoUnits) {
  EXPECT_EQ(human_duration(-5), "0ms");
  EXPECT_EQ(human_duration(850), "850ms");
  EXPECT_EQ(human_duration(4'250), "4.2s");
  EXPECT_EQ(human_duration(42'999), "42s");
  EXPECT_EQ(human_duration(60'000), "1m");
  EXPECT_EQ(human_duration(185'000), "3m5s");
  EXPECT_EQ(human_duration((2 * 60 + 1) * 60'000LL + 59'000), "2h1m");
  EXPECT_EQ(human_duration(76 * 3'600'000LL), "3d4h");
  EXPECT_EQ(human_duration(48 * 3'600'000LL), "2d");
}

}  // namespace gwr
