// The outbox in SQLite: order, coalesced edits, crash recovery, offsets.
#include <gtest/gtest.h>

#include "telegram-bridge/bridge_store.h"
#include "tests/support/test_support.h"

namespace gwr::telegram {
namespace {

using gwr::testing::TempDir;

Outgoing send(const std::string& text, const std::string& incident = "", bool opens = false) {
  Outgoing o = make_message(text);
  o.incident = incident;
  o.opens_incident = opens;
  return o;
}

Outgoing edit(const std::string& text, const std::string& incident) {
  Outgoing o = make_message(text);
  o.kind = Outgoing::Kind::kEdit;
  o.incident = incident;
  return o;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = BridgeStore::open(dir_ / "telegram.db");
    ASSERT_TRUE(s) << s.message();
    store_ = std::move(*s);
  }
  TempDir dir_;
  std::unique_ptr<BridgeStore> store_;
};

TEST_F(StoreTest, RowsOfAChatGoOutInOrder) {
  ASSERT_TRUE(store_->enqueue(1, send("a"), 100));
  ASSERT_TRUE(store_->enqueue(1, send("b"), 101));
  ASSERT_TRUE(store_->enqueue(2, send("x"), 102));
  auto heads = store_->queue_heads();
  ASSERT_EQ(heads.size(), 2u);
  EXPECT_EQ(heads[0].message.text, "a");
  EXPECT_EQ(heads[1].message.text, "x");
  ASSERT_TRUE(store_->mark_sending(heads[0].id, 1, 200));
  ASSERT_TRUE(store_->mark_sent(heads[0], 55, 201));
  heads = store_->queue_heads();
  EXPECT_EQ(heads[0].message.text, "b");
  EXPECT_EQ(store_->count_pending(), 2);
}

TEST_F(StoreTest, EditsOfAThreadWhoseFirstMessageWaitsRewriteIt) {
  ASSERT_TRUE(store_->enqueue(1, send("opening", "repair:1", true), 100));
  ASSERT_TRUE(store_->enqueue(1, edit("progress 1", "repair:1"), 101));
  ASSERT_TRUE(store_->enqueue(1, edit("progress 2", "repair:1"), 102));
  auto rows = store_->rows();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].message.text, "progress 2");
  EXPECT_TRUE(rows[0].message.opens_incident);
  // Once the opening is out, edits queue; a newer edit replaces a waiting one.
  ASSERT_TRUE(store_->mark_sending(rows[0].id, 1, 103));
  ASSERT_TRUE(store_->mark_sent(rows[0], 900, 104));
  auto inc = store_->incident("repair:1");
  ASSERT_TRUE(inc);
  EXPECT_EQ(inc->message_id, 900);
  EXPECT_EQ(inc->chat_id, 1);
  ASSERT_TRUE(store_->enqueue(1, edit("progress 3", "repair:1"), 105));
  Outgoing reply = send("recovered", "repair:1");
  reply.reply_to_incident = true;
  ASSERT_TRUE(store_->enqueue(1, reply, 106));
  ASSERT_TRUE(store_->enqueue(1, edit("final", "repair:1"), 107));
  rows = store_->rows("queued");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].message.text, "final");  // in the earlier edit's place, before the reply
  EXPECT_EQ(rows[1].message.text, "recovered");
  EXPECT_TRUE(rows[1].message.reply_to_incident);
}

TEST_F(StoreTest, SendingRowsOfADeadProcessAreQueuedAgain) {
  ASSERT_TRUE(store_->enqueue(1, send("a"), 100));
  auto heads = store_->queue_heads();
  ASSERT_TRUE(store_->mark_sending(heads[0].id, 1, 101));
  EXPECT_TRUE(store_->queue_heads().empty());
  store_.reset();
  auto reopened = BridgeStore::open(dir_ / "telegram.db");
  ASSERT_TRUE(reopened);
  EXPECT_EQ((*reopened)->requeue_interrupted(200), 1);
  heads = (*reopened)->queue_heads();
  ASSERT_EQ(heads.size(), 1u);
  EXPECT_EQ(heads[0].attempts, 1);
  EXPECT_EQ((*reopened)->requeue_interrupted(201), 0);
}

TEST_F(StoreTest, RetryTimesAndReachability) {
  ASSERT_TRUE(store_->enqueue(1, send("a"), 100));
  ASSERT_TRUE(store_->enqueue(2, send("b"), 100));
  auto heads = store_->queue_heads();
  ASSERT_TRUE(store_->requeue(heads[0].id, 5000, "unreachable", "refused", 101));
  ASSERT_TRUE(store_->requeue(heads[1].id, 7000, "rate_limited", "429", 101));
  ASSERT_TRUE(store_->clear_unreachable_waits());
  heads = store_->queue_heads();
  EXPECT_EQ(heads[0].next_attempt_at_ms, 0);     // may go now
  EXPECT_EQ(heads[1].next_attempt_at_ms, 7000);  // retry_after still holds
}

TEST_F(StoreTest, OffsetsMarkersSeenEventsAndWarnings) {
  EXPECT_EQ(store_->last_update_id(), 0);
  ASSERT_TRUE(store_->set_last_update_id(41));
  ASSERT_TRUE(store_->set_last_update_id(40));  // never goes back
  EXPECT_EQ(store_->last_update_id(), 41);
  EXPECT_FALSE(store_->marker("update:42"));
  ASSERT_TRUE(store_->put_marker("update:42", "in_progress", 1));
  EXPECT_EQ(store_->marker("update:42").value_or(""), "in_progress");
  ASSERT_TRUE(store_->delete_marker("update:42"));
  EXPECT_FALSE(store_->marker("update:42"));
  EXPECT_FALSE(store_->seen_event("k"));
  ASSERT_TRUE(store_->add_seen_event("k", 1));
  EXPECT_TRUE(store_->seen_event("k"));
  ASSERT_TRUE(store_->save_warning({"key", "text", 1, 2, 0}));
  ASSERT_EQ(store_->warnings().size(), 1u);
  EXPECT_EQ(store_->warnings()[0].last_sent_ms, 2);
  ASSERT_TRUE(store_->delete_warning("key"));
  EXPECT_TRUE(store_->warnings().empty());
  pb::PlannerIncident inc;
  inc.set_repair_id(1);
  const char raw[] = "bytes \0 and € survive";
  inc.add_lines(std::string(raw, sizeof raw - 1));
  ASSERT_TRUE(store_->save_incident_state("repair:1", inc.SerializeAsString(), 5));
  ASSERT_EQ(store_->incident_states().size(), 1u);
  pb::PlannerIncident back;
  ASSERT_TRUE(back.ParseFromString(store_->incident_states()[0]));
  EXPECT_EQ(back.lines(0), inc.lines(0)) << "stored as bytes (a NUL and all), not as text";
  ASSERT_TRUE(store_->forget_incident_state("repair:1"));
  EXPECT_TRUE(store_->incident_states().empty());
  EXPECT_TRUE(store_->incident("repair:1"));  // the message id stays for late replies
}

TEST_F(StoreTest, PruneKeepsWhatIsPending) {
  const int64_t now = 30LL * 86'400'000;
  ASSERT_TRUE(store_->enqueue(1, send("old sent"), 1));
  ASSERT_TRUE(store_->enqueue(1, send("old queued"), 1));
  auto heads = store_->queue_heads();
  ASSERT_TRUE(store_->mark_sent(heads[0], 1, 2));
  store_->prune(now);
  const auto rows = store_->rows();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].message.text, "old queued");
}

}  // namespace
}  // namespace gwr::telegram
