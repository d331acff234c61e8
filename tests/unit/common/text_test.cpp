// Text from outside gwr: valid UTF-8, cuts on character boundaries, and cuts
// before redaction that never leave part of a secret behind.
#include "common/text.h"

#include <functional>

#include <gtest/gtest.h>

#include "common/decode_watch.h"
#include "common/enum_names.h"
#include "common/message_text.h"
#include "common/redact.h"
#include "gwr.pb.h"

namespace gwr {
namespace {

const std::string kEuro = "\xE2\x82\xAC";  // €, three bytes

// Every substring of `secret` at least `min_len` long that `text` still holds.
std::vector<std::string> secret_parts_in(const std::string& text, const std::string& secret, size_t min_len = 4) {
  std::vector<std::string> found;
  for (size_t len = secret.size(); len >= min_len; --len) {
    for (size_t at = 0; at + len <= secret.size(); ++at) {
      const std::string part = secret.substr(at, len);
      if (text.find(part) != std::string::npos) found.push_back(part);
    }
    if (!found.empty()) break;
  }
  return found;
}

TEST(Utf8, ValidTextIsUnchangedAndInvalidBytesAreReplaced) {
  const std::string good = "ok é € 中文 🙂";
  EXPECT_TRUE(is_valid_utf8(good));
  EXPECT_EQ(valid_utf8(good), good);
  // A lone continuation byte, a cut sequence, an overlong '/', a surrogate, > U+10FFFF.
  for (const std::string& bad : {std::string("a\x80z"), std::string("a\xE2\x82"), std::string("\xC0\xAF"),
                                std::string("\xED\xA0\x80"), std::string("\xF4\x90\x80\x80"), std::string("\xFF")}) {
    EXPECT_FALSE(is_valid_utf8(bad));
    const std::string fixed = valid_utf8(bad);
    EXPECT_TRUE(is_valid_utf8(fixed)) << fixed;
    EXPECT_NE(fixed.find(kReplacementChar), std::string::npos);
  }
  EXPECT_EQ(valid_utf8("a\xFFz"), "a" + std::string(kReplacementChar) + "z");
}

TEST(Utf8, PrintableDropsControlCharacters) {
  EXPECT_EQ(printable_utf8("a\x1b[31mb\x07\tc\nd\xFF"), "a[31mb\tc\nd" + std::string(kReplacementChar));
}

TEST(Utf8, CutsLandOnCharacterBoundaries) {
  // The case that stopped every repair: 159 bytes, then a three-byte character.
  const std::string body = std::string(159, 'x').append(kEuro);
  EXPECT_EQ(utf8_prefix(body, 160), std::string(159, 'x'));
  EXPECT_EQ(utf8_prefix(body, 162), body);
  EXPECT_EQ(utf8_prefix(body, 161), std::string(159, 'x'));
  EXPECT_EQ(utf8_suffix(kEuro + "abc", 4), "abc");
  EXPECT_EQ(utf8_suffix(kEuro + "abc", 6), kEuro + "abc");
  for (size_t n = 0; n <= body.size(); ++n) {
    EXPECT_TRUE(is_valid_utf8(utf8_prefix(body, n))) << n;
    EXPECT_TRUE(is_valid_utf8(utf8_suffix(body, n))) << n;
  }
  const std::string chinese = "诊断：网关的事件循环被阻塞";
  for (size_t n = 0; n <= chinese.size() + 2; ++n) {
    EXPECT_TRUE(is_valid_utf8(clip_end(chinese, n))) << n;
    EXPECT_LE(clip_end(chinese, n).size(), n);
    EXPECT_TRUE(is_valid_utf8(clip_middle(chinese + chinese + chinese, n + 30))) << n;
  }
}

TEST(Utf8, ClipMiddleSaysHowMuchWasCut) {
  const std::string text = std::string(100, 'a').append(100, 'b');
  const std::string clipped = clip_middle(text, 80);
  EXPECT_LE(clipped.size(), 80u);
  EXPECT_EQ(clipped.front(), 'a');
  EXPECT_EQ(clipped.back(), 'b');
  // ("bytes" in the marker has one 'b' of its own.)
  const size_t kept = static_cast<size_t>(std::count(clipped.begin(), clipped.end(), 'a') +
                                          std::count(clipped.begin(), clipped.end(), 'b') - 1);
  EXPECT_NE(clipped.find("[... " + std::to_string(200 - kept) + " bytes cut ...]"), std::string::npos) << clipped;
}

TEST(Utf8, WordCutsNeverSplitAWord) {
  EXPECT_EQ(head_words("alpha beta gamma", 100), "alpha beta gamma");
  EXPECT_EQ(head_words("alpha beta gamma", 8), "alpha ");     // "beta" would be cut: dropped whole
  EXPECT_EQ(head_words("alpha beta gamma", 10), "alpha beta");  // the cut falls on the space
  EXPECT_EQ(head_words("alphabetagamma", 5), "");
  EXPECT_EQ(tail_words("alpha beta gamma", 7), " gamma");   // "beta" would be cut: dropped whole
  EXPECT_EQ(tail_words("alpha beta gamma", 6), " gamma");   // the cut falls on the space
  EXPECT_EQ(tail_words("alpha beta gamma", 5), "gamma");
  EXPECT_EQ(tail_words("alphabetagamma", 5), "");
}

TEST(Redaction, ASecretStraddlingACutLeavesNoPart) {
  const std::string secret = "987654321:AAHstraddleSTRADDLEstraddleSTRADDLEzz";  // a bot token
  Redactor redactor({"hunter2-very-secret-value"});
  for (const std::string& s : {secret, std::string("hunter2-very-secret-value"),
                               std::string("sk-live0123456789abcdefghij")}) {
    std::string text(190, 'x');  // (appended, not operator+: GCC 12's -Warray-bounds misfires on that)
    text += " token: ";
    text += s;
    text += " and more after it\n";
    for (size_t cut = 180; cut < text.size(); ++cut) {
      // Raw text cut first (as a read window or an output bound does), then redacted.
      const std::string head = redactor.redact(head_words(text, cut));
      const std::string tail = redactor.redact(tail_words(text, text.size() - cut));
      EXPECT_TRUE(secret_parts_in(head, s).empty()) << "cut " << cut << ": " << head.substr(180);
      EXPECT_TRUE(secret_parts_in(tail, s).empty()) << "cut " << cut << ": " << tail;
      // Redacted first, then cut anywhere: the mask may be cut, never the secret.
      const std::string after = clip_end(redactor.redact(text), cut - 150);
      EXPECT_TRUE(secret_parts_in(after, s).empty()) << after;
    }
  }
}

TEST(MessageText, RepairsEveryStringFieldSoTheMessageDecodes) {
  pb::Event ev;
  ev.set_protocol_version(pb::PROTOCOL_VERSION_CURRENT);
  auto* h = ev.mutable_gateway_health();
  h->set_state(pb::DOWN);
  h->add_findings()->set_detail(std::string("HTTP 500: ").append(159, 'x').append("\xE2\x82"));  // € cut
  h->add_checks()->set_detail("bad \xFF byte");
  // What gwr 1.0 did: such bytes make the whole message undecodable.
  pb::Event broken;
  EXPECT_FALSE(broken.ParseFromString(ev.SerializeAsString()));
  EXPECT_EQ(make_valid_utf8(ev), 2u);
  pb::Event decoded;
  ASSERT_TRUE(decoded.ParseFromString(ev.SerializeAsString()));
  EXPECT_EQ(decoded.gateway_health().state(), pb::DOWN);
  EXPECT_EQ(make_valid_utf8(ev), 0u) << "valid text is left alone";
}

// What the bus and the control sockets send: the bytes decode, whatever the
// strings held; a message that was fine is sent as it was.
TEST(MessageText, SerializeDecodableRepairsOnlyWhatWouldNotDecode) {
  pb::Event ev;
  ev.set_protocol_version(pb::PROTOCOL_VERSION_CURRENT);
  auto* h = ev.mutable_gateway_health();
  h->set_state(pb::DOWN);
  h->add_findings()->set_detail("HTTP 500: Preis 5 \xE2\x82\xAC");  // a whole €: valid
  std::string bytes;
  EXPECT_EQ(serialize_decodable(ev, bytes), 0u);
  EXPECT_EQ(bytes, ev.SerializeAsString());
  h->add_checks()->set_detail("cut \xE2\x82");  // a € cut in two
  h->mutable_findings(0)->set_subject("bad \xFF byte");
  EXPECT_EQ(serialize_decodable(ev, bytes), 2u);
  pb::Event decoded;
  ASSERT_TRUE(decoded.ParseFromString(bytes));
  EXPECT_EQ(decoded.gateway_health().findings(0).detail(), "HTTP 500: Preis 5 \xE2\x82\xAC");
  EXPECT_TRUE(is_valid_utf8(decoded.gateway_health().checks(0).detail()));
}

// The enum names and bus topics gwr spells itself (no reflection at run
// time) are protobuf's, for every value gwr.proto declares.
TEST(EnumNames, MatchTheDescriptors) {
  auto each = [](const google::protobuf::EnumDescriptor* d, const std::function<std::string(int)>& ours) {
    for (int i = 0; i < d->value_count(); ++i) {
      EXPECT_EQ(ours(d->value(i)->number()), d->value(i)->name()) << d->full_name();
    }
  };
  each(pb::Finding::Kind_descriptor(), [](int v) { return finding_kind_name(static_cast<pb::Finding::Kind>(v)); });
  each(pb::Cause_descriptor(), [](int v) { return cause_name(static_cast<pb::Cause>(v)); });
  each(pb::Error::Code_descriptor(), [](int v) { return error_code_name(static_cast<pb::Error::Code>(v)); });
  each(pb::RepairEvent::Kind_descriptor(), [](int v) { return repair_event_kind_name(static_cast<pb::RepairEvent::Kind>(v)); });
  each(pb::DeferReason_descriptor(), [](int v) { return defer_reason_name(static_cast<pb::DeferReason>(v)); });
  EXPECT_EQ(finding_kind_name(static_cast<pb::Finding::Kind>(9999)), "");
  const auto* body = pb::Event::descriptor()->FindOneofByName("body");
  ASSERT_NE(body, nullptr);
  for (int i = 0; i < body->field_count(); ++i) {
    EXPECT_EQ(event_topic(static_cast<pb::Event::BodyCase>(body->field(i)->number())), body->field(i)->name());
  }
  EXPECT_EQ(event_topic(pb::Event::BODY_NOT_SET), "");
}

TEST(MessageText, StoredBytesFromAnOlderGwrStillParse) {
  pb::RepairStep step;
  step.set_name("restart");
  step.set_output("exit 1: \xFF\xFE garbage");
  step.set_tier(2);
  const std::string stored = step.SerializeAsString();  // what a 1.0 history row may hold
  pb::RepairStep plain;
  EXPECT_FALSE(plain.ParseFromString(stored));
  pb::RepairStep repaired;
  ASSERT_TRUE(parse_repairing_utf8(repaired, stored));
  EXPECT_EQ(repaired.name(), "restart");
  EXPECT_EQ(repaired.tier(), 2u);
  EXPECT_TRUE(is_valid_utf8(repaired.output()));
  EXPECT_FALSE(parse_repairing_utf8(repaired, "\xFF\xFF\xFF not a message"));
}

TEST(MessageText, RedactsEveryStringField) {
  pb::RepairEvent e;
  e.set_details("the key is hunter2-very-secret-value");
  e.mutable_step()->set_output("Authorization: Bearer abcdefghijklmnop");
  e.add_rejected_lines("curl -H token=hunter2-very-secret-value");
  redact_strings(e, Redactor({"hunter2-very-secret-value"}));
  EXPECT_EQ(e.SerializeAsString().find("hunter2"), std::string::npos);
  EXPECT_EQ(e.SerializeAsString().find("abcdefghijklmnop"), std::string::npos);
}

TEST(DecodeWatch, RaisesOnceWhenMessagesKeepFailingAndClearsAfterQuiet) {
  DecodeWatch w("repairer");
  int64_t t = 1'000'000;
  EXPECT_TRUE(w.on_drop("gateway_health", t).empty());
  EXPECT_TRUE(w.on_drop("gateway_health", t + 1000).empty());
  const auto raised = w.on_drop("gateway_health", t + 2000);
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].kind(), pb::Alert::UNDECODABLE_MESSAGES);
  EXPECT_EQ(raised[0].component(), "repairer");
  EXPECT_EQ(raised[0].topic(), "gateway_health");
  EXPECT_EQ(raised[0].count(), 3u);
  EXPECT_FALSE(raised[0].cleared());
  EXPECT_TRUE(w.on_drop("gateway_health", t + 3000).empty()) << "said once per episode";
  EXPECT_EQ(w.active().size(), 1u);
  EXPECT_TRUE(w.on_tick(t + 60'000).empty()) << "not quiet long enough";
  const auto cleared = w.on_tick(t + 3000 + 120'000);
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_TRUE(cleared[0].cleared());
  EXPECT_TRUE(w.active().empty());
}

TEST(DecodeWatch, ScatteredDropsAreNotAnEpisode) {
  DecodeWatch w("prober");
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(w.on_drop("reprobe", i * 61'000).empty()) << i;
}

}  // namespace
}  // namespace gwr

namespace gwr {
namespace {

TEST(OneLineUtf8, ControlCharactersBecomeSpacesAndBadBytesReplacementCharacters) {
  EXPECT_EQ(one_line_utf8("a\nb\tc\x01" "d"), "a b c d");
  EXPECT_EQ(one_line_utf8("\xff" "x"), "\xEF\xBF\xBD" "x");
  EXPECT_EQ(one_line_utf8("€ ok"), "€ ok");
}

}  // namespace
}  // namespace gwr
