// `gwrctl status`'s Notify lines: each channel, what is wrong and when it is
// tried again, what waits; the JSON carries the same.
#include "ctl/render.h"

#include <gtest/gtest.h>

namespace gwr::ctl {
namespace {

TEST(RenderTest, StatusShowsEachChannelAndWhatIsWrongWithIt) {
  StatusParts parts;
  parts.now_ms = 1'800'000'000'000;
  pb::NotifyStatusReply n;
  auto* t = n.add_channels();
  t->set_name("telegram");
  t->set_state(pb::ChannelStatus::OK);
  auto* d = n.add_channels();
  d->set_name("discord");
  d->set_state(pb::ChannelStatus::REJECTED);
  d->set_detail("HTTP 404 (check the address)");
  d->set_retry_at_ms(parts.now_ms + 300'000);
  d->set_queued(2);
  parts.notify = n;
  const std::string text = status_text(parts);
  EXPECT_NE(text.find("Notify     telegram  ok\n"), std::string::npos) << text;
  EXPECT_NE(text.find("discord   refused: HTTP 404 (check the address), next try in 5m (2 queued)"), std::string::npos)
      << text;
  const auto j = status_json(parts);
  ASSERT_EQ(j["notifications"].size(), 2u);
  EXPECT_EQ(j["notifications"][1]["state"], "refused");
  EXPECT_EQ(j["notifications"][1]["queued"], 2);
  // An older daemon that does not answer: no section at all.
  parts.notify.reset();
  EXPECT_EQ(status_text(parts).find("Notify"), std::string::npos);
  EXPECT_FALSE(status_json(parts).contains("notifications"));
}

}  // namespace
}  // namespace gwr::ctl
