// HTML escaping and the 4096 limit, checked against the same HTML rules the
// fake Telegram server applies (tests/fakes/telegram/telegram_text.h).
#include <gtest/gtest.h>

#include "common/text.h"
#include "telegram-bridge/html_text.h"
#include "tests/fakes/telegram/telegram_text.h"

namespace gwr::telegram {
namespace {

namespace tt = gwr::testing::telegram_text;

TEST(HtmlText, EscapesWhatHtmlModeReserves) {
  EXPECT_EQ(html_escape("a < b && c > d \"q\""), "a &lt; b &amp;&amp; c &gt; d &quot;q&quot;");
  const std::string log_line = "2026-02-25 <error> connect(): ECONNREFUSED & <script>alert(1)</script> &amp;";
  const auto parsed = tt::parse_html(html_escape(log_line));
  ASSERT_TRUE(parsed.ok) << parsed.error;
  EXPECT_EQ(parsed.visible, log_line);  // shown exactly as it was
}

TEST(HtmlText, InvalidUtf8AndControlCharactersAreRepaired) {
  const std::string bad = "ok \xff\xfe bytes\x01\x02 and \xe2\x82 cut\n\ttabs";
  const std::string clean = printable_utf8(bad);
  EXPECT_TRUE(tt::is_valid_utf8(clean));
  EXPECT_NE(clean.find("\xEF\xBF\xBD"), std::string::npos);
  EXPECT_EQ(clean.find('\x01'), std::string::npos);
  EXPECT_NE(clean.find("\n\ttabs"), std::string::npos);
  EXPECT_TRUE(tt::is_valid_utf8(html_escape(bad)));
  // Overlong encodings and surrogates are not UTF-8 either.
  EXPECT_TRUE(tt::is_valid_utf8(printable_utf8("\xc0\xaf \xed\xa0\x80")));
}

TEST(HtmlText, CountsUtf16UnitsLikeTelegram) {
  EXPECT_EQ(utf16_units("abc"), 3u);
  EXPECT_EQ(utf16_units("жж"), 2u);
  EXPECT_EQ(utf16_units("🔧"), 2u);  // outside the BMP: a surrogate pair
  EXPECT_EQ(utf16_units("🔧ж"), tt::utf16_units("🔧ж"));
}

TEST(HtmlText, ClipCutsOnCharacterBoundaries) {
  EXPECT_EQ(clip("short", 10), "short");
  EXPECT_EQ(clip("abcdefghij", 5), "abcd…");
  std::string emoji;
  for (int i = 0; i < 10; ++i) emoji += "🔧";
  const std::string c = clip(emoji, 6);
  EXPECT_TRUE(tt::is_valid_utf8(c));
  EXPECT_LE(utf16_units(c), 6u);
  EXPECT_EQ(c, "🔧🔧…");
}

TEST(HtmlText, FitHtmlLeavesShortMessagesAlone) {
  const std::string msg = "<b>Gateway healthy</b>\npid 12";
  EXPECT_EQ(fit_html(msg), msg);
}

TEST(HtmlText, FitHtmlTruncatesToTheLimitWithValidMarkup) {
  std::string msg = "<b>Last events</b>\n<pre>";
  for (int i = 0; i < 2000; ++i) msg += "line " + std::to_string(i) + " &lt;x&gt; жж 🔧\n";
  msg += "</pre>";
  const std::string fitted = fit_html(msg);
  EXPECT_LE(utf16_units(fitted), kMaxMessageUnits);
  EXPECT_TRUE(tt::is_valid_utf8(fitted));
  const auto parsed = tt::parse_html(fitted);
  ASSERT_TRUE(parsed.ok) << parsed.error;
  EXPECT_NE(fitted.find("(truncated)"), std::string::npos);
  EXPECT_EQ(fitted.substr(fitted.size() - 6), "</pre>");
  EXPECT_LE(tt::utf16_units(parsed.visible), 4096u);
}

TEST(HtmlText, FitHtmlNeverCutsInsideAnEntityOrAMultibyteCharacter) {
  for (size_t limit = 40; limit < 90; ++limit) {
    std::string msg = "<i>";
    for (int i = 0; i < 40; ++i) msg += "&amp;ж🔧";
    msg += "</i>";
    const std::string fitted = fit_html(msg, limit);
    EXPECT_LE(utf16_units(fitted), limit) << limit;
    EXPECT_TRUE(tt::is_valid_utf8(fitted)) << limit;
    const auto parsed = tt::parse_html(fitted);
    EXPECT_TRUE(parsed.ok) << limit << ": " << parsed.error << " in " << fitted;
  }
}

}  // namespace
}  // namespace gwr::telegram
