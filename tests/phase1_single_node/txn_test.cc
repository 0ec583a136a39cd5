// Milestone 2: Store's transactions — the API contract, snapshot isolation shown one anomaly at a
// time, garbage collection of old versions, and a multi-threaded bank-transfer stress test.
//
// Every anomaly test builds its interleaving by hand with explicit TxnIds, so a failure names
// the exact schedule that went wrong. Snapshot isolation forbids dirty reads, non-repeatable
// reads, lost updates and read skew; it allows write skew, and Anomaly_WriteSkew_* shows it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/file_system.h"
#include "common/mem_file_system.h"
#include "common/random.h"
#include "common/status.h"
#include "common/testing/seed.h"
#include "common/testing/status_matchers.h"
#include "phase1_single_node/mem_engine.h"
#include "phase1_single_node/store.h"
#include "phase1_single_node/versioned_engine.h"
#include "tests/phase1_single_node/forwarding_engine.h"

namespace kv::phase1 {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;
using Value = std::optional<std::string>;

constexpr std::size_t kMaxKey = 1024;
constexpr std::size_t kMaxValue = 1024 * 1024;

class TxnTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK_AND_ASSIGN(store_, Store::Open(*fs_, "db")); }

  // The value of `key` as seen by a transaction `txn`; records a failure on error.
  Value Read(TxnId txn, std::string_view key) {
    Result<Value> got = store_->Get(txn, key);
    if (!got.has_value()) {
      ADD_FAILURE() << "Get(" << txn << ", '" << key << "') returned " << got.error().ToString();
      return std::nullopt;
    }
    return *got;
  }

  // The committed value of `key`, read by a fresh transaction that is then committed.
  Value Latest(std::string_view key) {
    TxnId t = store_->BeginTransaction();
    Value v = Read(t, key);
    EXPECT_OK(store_->Commit(t));
    return v;
  }

  // Commits one transaction that puts every (key, value) pair.
  void CommitPuts(const std::vector<std::pair<std::string, std::string>>& kvs) {
    TxnId t = store_->BeginTransaction();
    for (const auto& [k, v] : kvs) ASSERT_OK(store_->Put(t, k, v));
    ASSERT_OK(store_->Commit(t));
  }

  std::unique_ptr<FileSystem> fs_ = NewMemFileSystem();
  std::unique_ptr<Store> store_;  // Declared after fs_: destroyed before it.
};

std::int64_t ParseInt(const Value& v) {
  if (!v.has_value()) return -1'000'000;
  std::int64_t n = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || ptr != v->data() + v->size()) return -1'000'000;
  return n;
}

// --- The basic contract ---

TEST_F(TxnTest, Txn_OwnWrite_IsVisibleBeforeCommit) {
  TxnId t = store_->BeginTransaction();
  EXPECT_EQ(Read(t, "k"), std::nullopt);
  ASSERT_OK(store_->Put(t, "k", "v1"));
  EXPECT_EQ(Read(t, "k"), "v1");
  ASSERT_OK(store_->Put(t, "k", "v2"));
  EXPECT_EQ(Read(t, "k"), "v2");
  ASSERT_OK(store_->Commit(t));
}

TEST_F(TxnTest, Txn_Commit_IsVisibleToLaterTransactions) {
  TxnId t = store_->BeginTransaction();
  ASSERT_OK(store_->Put(t, "k1", "v1"));
  ASSERT_OK(store_->Put(t, "k2", "v2"));
  ASSERT_OK(store_->Commit(t));
  EXPECT_EQ(Latest("k1"), "v1");
  EXPECT_EQ(Latest("k2"), "v2");
  EXPECT_EQ(Latest("k3"), std::nullopt);
  EXPECT_EQ(store_->stats().active_transactions, 0u);
}

TEST_F(TxnTest, Txn_Delete_RemovesTheKeyForItselfAndLaterTransactions) {
  CommitPuts({{"k", "v"}, {"other", "o"}});
  TxnId t = store_->BeginTransaction();
  ASSERT_OK(store_->Delete(t, "k"));
  EXPECT_EQ(Read(t, "k"), std::nullopt) << "a transaction sees its own delete";
  ASSERT_OK(store_->Delete(t, "never-existed"));
  ASSERT_OK(store_->Commit(t));
  EXPECT_EQ(Latest("k"), std::nullopt);
  EXPECT_EQ(Latest("never-existed"), std::nullopt);
  EXPECT_EQ(Latest("other"), "o");
}

TEST_F(TxnTest, Txn_PutAfterDeleteInOneTransaction_LastWriteWins) {
  CommitPuts({{"k", "old"}});
  TxnId t = store_->BeginTransaction();
  ASSERT_OK(store_->Delete(t, "k"));
  ASSERT_OK(store_->Put(t, "k", "new"));
  EXPECT_EQ(Read(t, "k"), "new");
  ASSERT_OK(store_->Commit(t));
  EXPECT_EQ(Latest("k"), "new");
}

TEST_F(TxnTest, Txn_Abort_DiscardsItsWrites) {
  CommitPuts({{"k", "committed"}});
  const auto before = store_->stats();
  TxnId t = store_->BeginTransaction();
  ASSERT_OK(store_->Put(t, "k", "aborted"));
  ASSERT_OK(store_->Put(t, "new", "aborted"));
  ASSERT_OK(store_->Delete(t, "k"));
  ASSERT_OK(store_->Abort(t));
  EXPECT_EQ(Latest("k"), "committed");
  EXPECT_EQ(Latest("new"), std::nullopt);
  const auto after = store_->stats();
  EXPECT_EQ(after.aborts, before.aborts + 1);
  EXPECT_EQ(after.visible_ts, before.visible_ts) << "an abort commits nothing";
}

TEST_F(TxnTest, Txn_EmptyValue_IsAValueDistinctFromAbsent) {
  TxnId t = store_->BeginTransaction();
  ASSERT_OK(store_->Put(t, "empty", ""));
  EXPECT_EQ(Read(t, "empty"), std::optional<std::string>(""));
  ASSERT_OK(store_->Commit(t));
  EXPECT_EQ(Latest("empty"), std::optional<std::string>(""));
  EXPECT_EQ(Latest("absent"), std::nullopt);
}

TEST_F(TxnTest, Txn_DisjointWriters_BothCommit) {
  TxnId t1 = store_->BeginTransaction();
  TxnId t2 = store_->BeginTransaction();
  ASSERT_OK(store_->Put(t1, "a", "1"));
  ASSERT_OK(store_->Put(t2, "b", "2"));
  ASSERT_OK(store_->Commit(t1));
  // First committer wins only on a common key.
  ASSERT_OK(store_->Commit(t2));
  EXPECT_EQ(Latest("a"), "1");
  EXPECT_EQ(Latest("b"), "2");
}

TEST_F(TxnTest, Txn_UnknownId_IsInvalidArgumentEverywhere) {
  const TxnId unknown = 987654;
  EXPECT_STATUS(store_->Get(unknown, "k"), StatusCode::kInvalidArgument);
  EXPECT_STATUS(store_->Put(unknown, "k", "v"), StatusCode::kInvalidArgument);
  EXPECT_STATUS(store_->Delete(unknown, "k"), StatusCode::kInvalidArgument);
  EXPECT_STATUS(store_->Commit(unknown), StatusCode::kInvalidArgument);
  EXPECT_STATUS(store_->Abort(unknown), StatusCode::kInvalidArgument);
  EXPECT_STATUS(store_->ReadSet(unknown), StatusCode::kInvalidArgument);
  EXPECT_EQ(Latest("k"), std::nullopt) << "the Put on an unknown id wrote something";
  const auto stats = store_->stats();
  EXPECT_EQ(stats.active_transactions, 0u);
  EXPECT_EQ(stats.aborts, 0u);
}

TEST_F(TxnTest, Txn_EndedId_IsInvalidArgument) {
  TxnId committed = store_->BeginTransaction();
  ASSERT_OK(store_->Commit(committed));
  TxnId aborted = store_->BeginTransaction();
  ASSERT_OK(store_->Abort(aborted));
  for (TxnId t : {committed, aborted}) {
    EXPECT_STATUS(store_->Get(t, "k"), StatusCode::kInvalidArgument);
    EXPECT_STATUS(store_->Put(t, "k", "v"), StatusCode::kInvalidArgument);
    EXPECT_STATUS(store_->Delete(t, "k"), StatusCode::kInvalidArgument);
    EXPECT_STATUS(store_->Commit(t), StatusCode::kInvalidArgument);
    EXPECT_STATUS(store_->Abort(t), StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(Latest("k"), std::nullopt);
}

TEST_F(TxnTest, Txn_CommitTwice_SecondIsInvalidArgument) {
  TxnId t = store_->BeginTransaction();
  ASSERT_OK(store_->Put(t, "k", "v"));
  ASSERT_OK(store_->Commit(t));
  const auto before = store_->stats();
  EXPECT_STATUS(store_->Commit(t), StatusCode::kInvalidArgument);
  const auto after = store_->stats();
  EXPECT_EQ(after.commits, before.commits);
  EXPECT_EQ(after.visible_ts, before.visible_ts) << "the second Commit logged something";
  EXPECT_EQ(Latest("k"), "v");
}

TEST_F(TxnTest, Txn_DistinctTransactions_GetDistinctIds) {
  TxnId a = store_->BeginTransaction();
  TxnId b = store_->BeginTransaction();
  ASSERT_OK(store_->Commit(a));
  TxnId c = store_->BeginTransaction();
  EXPECT_NE(a, b);
  EXPECT_NE(a, c) << "an ended id was handed out again";
  EXPECT_NE(b, c);
  EXPECT_EQ(store_->stats().active_transactions, 2u);
  ASSERT_OK(store_->Abort(b));
  ASSERT_OK(store_->Abort(c));
}

TEST_F(TxnTest, Txn_BadKeyOrValue_IsInvalidArgumentAndTheTransactionStaysUnchanged) {
  const std::string long_key(kMaxKey + 1, 'k');
  const std::string big_value(kMaxValue + 1, 'v');
  TxnId t = store_->BeginTransaction();
  ASSERT_OK(store_->Put(t, "k", "good"));

  EXPECT_STATUS(store_->Put(t, "", "v"), StatusCode::kInvalidArgument);
  EXPECT_STATUS(store_->Put(t, long_key, "v"), StatusCode::kInvalidArgument);
  EXPECT_STATUS(store_->Put(t, "k", big_value), StatusCode::kInvalidArgument);
  EXPECT_STATUS(store_->Put(t, "fresh", big_value), StatusCode::kInvalidArgument);
  EXPECT_STATUS(store_->Delete(t, ""), StatusCode::kInvalidArgument);
  EXPECT_STATUS(store_->Delete(t, long_key), StatusCode::kInvalidArgument);
  EXPECT_STATUS(store_->Get(t, ""), StatusCode::kInvalidArgument);
  EXPECT_STATUS(store_->Get(t, long_key), StatusCode::kInvalidArgument);

  // Still usable, and its writes are what they were.
  EXPECT_EQ(Read(t, "k"), "good");
  EXPECT_EQ(Read(t, "fresh"), std::nullopt);
  ASSERT_OK(store_->Put(t, "k2", "also good"));
  ASSERT_OK(store_->Commit(t));

  EXPECT_EQ(Latest("k"), "good");
  EXPECT_EQ(Latest("k2"), "also good");
  EXPECT_EQ(Latest("fresh"), std::nullopt);
  EXPECT_EQ(Latest(std::string(kMaxKey, 'k')), std::nullopt) << "a truncated key was stored";
  EXPECT_EQ(store_->stats().engine.keys, 2u) << "only k and k2 were ever written";
}

TEST_F(TxnTest, Txn_KeyAndValueExactlyAtTheLimits_AreAccepted) {
  const std::string key(kMaxKey, 'k');
  const std::string value(kMaxValue, 'v');
  TxnId t = store_->BeginTransaction();
  ASSERT_OK(store_->Put(t, key, value));
  ASSERT_OK(store_->Commit(t));
  EXPECT_EQ(Latest(key), value);
}

TEST(TxnCustomLimits, StoreOptionsLimits_AreEnforced) {
  auto fs = NewMemFileSystem();
  StoreOptions options;
  options.limits = Limits{.max_key_bytes = 4, .max_value_bytes = 8};
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(*fs, "db", options));
  EXPECT_EQ(store->limits().max_key_bytes, 4u);
  TxnId t = store->BeginTransaction();
  EXPECT_OK(store->Put(t, "abcd", "12345678"));
  EXPECT_STATUS(store->Put(t, "abcde", "v"), StatusCode::kInvalidArgument);
  EXPECT_STATUS(store->Put(t, "abcd", "123456789"), StatusCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(Value v, store->Get(t, "abcd"));
  EXPECT_EQ(v, "12345678");
  ASSERT_OK(store->Commit(t));
}

// --- The RAII handle ---

TEST_F(TxnTest, Transaction_DroppedUncommitted_AbortsAndDiscardsWrites) {
  const auto before = store_->stats();
  {
    Transaction txn = store_->Begin();
    EXPECT_TRUE(txn.active());
    ASSERT_OK(txn.Put("k", "never"));
    ASSERT_OK_AND_ASSIGN(Value v, txn.Get("k"));
    EXPECT_EQ(v, "never");
    EXPECT_EQ(store_->stats().active_transactions, before.active_transactions + 1);
  }
  const auto after = store_->stats();
  EXPECT_EQ(after.aborts, before.aborts + 1);
  EXPECT_EQ(after.active_transactions, before.active_transactions);
  EXPECT_EQ(Latest("k"), std::nullopt);
}

TEST_F(TxnTest, Transaction_Committed_IsNotAbortedWhenDropped) {
  const auto before = store_->stats();
  {
    Transaction txn = store_->Begin();
    ASSERT_OK(txn.Put("k", "v"));
    ASSERT_OK(txn.Commit());
    EXPECT_FALSE(txn.active());
  }
  const auto after = store_->stats();
  EXPECT_EQ(after.aborts, before.aborts);
  EXPECT_EQ(after.commits, before.commits + 1);
  EXPECT_EQ(Latest("k"), "v");
}

TEST_F(TxnTest, Transaction_MovedFromHandle_DoesNothing) {
  const auto before = store_->stats();
  Transaction target = [&] {
    Transaction source = store_->Begin();
    EXPECT_OK(source.Put("k", "moved"));
    Transaction moved = std::move(source);
    EXPECT_FALSE(source.active());  // NOLINT(bugprone-use-after-move): that is the point.
    EXPECT_TRUE(moved.active());
    return moved;
  }();  // `source` is destroyed here, moved-from.
  EXPECT_EQ(store_->stats().aborts, before.aborts) << "the moved-from handle aborted";
  EXPECT_EQ(store_->stats().active_transactions, 1u);
  ASSERT_OK_AND_ASSIGN(Value v, target.Get("k"));
  EXPECT_EQ(v, "moved");
  ASSERT_OK(target.Commit());
  EXPECT_EQ(Latest("k"), "moved");
  EXPECT_EQ(store_->stats().aborts, before.aborts);
}

TEST_F(TxnTest, Transaction_MoveAssignment_AbortsTheOverwrittenTransaction) {
  const auto before = store_->stats();
  Transaction kept = store_->Begin();
  ASSERT_OK(kept.Put("kept", "yes"));
  Transaction replaced = store_->Begin();
  ASSERT_OK(replaced.Put("replaced", "yes"));
  const TxnId replaced_id = replaced.id();
  replaced = std::move(kept);
  EXPECT_EQ(store_->stats().aborts, before.aborts + 1);
  EXPECT_STATUS(store_->Get(replaced_id, "k"), StatusCode::kInvalidArgument);
  ASSERT_OK(replaced.Commit());
  EXPECT_EQ(Latest("kept"), "yes");
  EXPECT_EQ(Latest("replaced"), std::nullopt);
}

// --- Read set and conflicts ---

TEST_F(TxnTest, Txn_ReadSet_ListsEachKeyReadOnce) {
  CommitPuts({{"a", "1"}, {"b", "2"}});
  TxnId t = store_->BeginTransaction();
  ASSERT_OK_AND_ASSIGN(auto empty, store_->ReadSet(t));
  EXPECT_TRUE(empty.empty());
  (void)Read(t, "b");
  (void)Read(t, "a");
  (void)Read(t, "b");
  (void)Read(t, "missing");  // Reading an absent key is a read too (phase 4 needs it).
  ASSERT_OK(store_->Put(t, "written-only", "w"));
  ASSERT_OK_AND_ASSIGN(auto reads, store_->ReadSet(t));
  EXPECT_THAT(reads, UnorderedElementsAre("a", "b", "missing"));
  ASSERT_OK(store_->Abort(t));
}

TEST_F(TxnTest, Txn_Conflict_MessageNamesTheKey) {
  TxnId t1 = store_->BeginTransaction();
  TxnId t2 = store_->BeginTransaction();
  ASSERT_OK(store_->Put(t1, "contested-key", "t1"));
  ASSERT_OK(store_->Put(t2, "bystander", "t2"));
  ASSERT_OK(store_->Put(t2, "contested-key", "t2"));
  ASSERT_OK(store_->Commit(t1));
  const auto before = store_->stats();
  const Status s = store_->Commit(t2);
  ASSERT_EQ(s.code(), StatusCode::kConflict) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("contested-key"));
  EXPECT_THAT(s.message(), Not(HasSubstr("bystander")));
  EXPECT_EQ(store_->stats().conflicts, before.conflicts + 1);
  // The loser is ended and none of its writes landed.
  EXPECT_STATUS(store_->Get(t2, "k"), StatusCode::kInvalidArgument);
  EXPECT_EQ(Latest("contested-key"), "t1");
  EXPECT_EQ(Latest("bystander"), std::nullopt);
}

TEST_F(TxnTest, Txn_DeleteAgainstConcurrentDelete_Conflicts) {
  CommitPuts({{"k", "v"}});
  TxnId t1 = store_->BeginTransaction();
  TxnId t2 = store_->BeginTransaction();
  ASSERT_OK(store_->Delete(t1, "k"));
  ASSERT_OK(store_->Delete(t2, "k"));
  ASSERT_OK(store_->Commit(t1));
  EXPECT_STATUS(store_->Commit(t2), StatusCode::kConflict);
  EXPECT_EQ(Latest("k"), std::nullopt);
}

// --- Anomalies, one interleaving each ---

TEST_F(TxnTest, Anomaly_DirtyRead_IsImpossible) {
  CommitPuts({{"k", "clean"}});
  TxnId t1 = store_->BeginTransaction();
  TxnId t2 = store_->BeginTransaction();
  ASSERT_OK(store_->Put(t1, "k", "dirty"));
  ASSERT_OK(store_->Put(t1, "new", "dirty"));
  EXPECT_EQ(Read(t2, "k"), "clean");
  EXPECT_EQ(Read(t2, "new"), std::nullopt);
  // A transaction begun while t1 is still open does not see its writes either.
  TxnId t3 = store_->BeginTransaction();
  EXPECT_EQ(Read(t3, "k"), "clean");
  ASSERT_OK(store_->Commit(t1));
  EXPECT_EQ(Read(t2, "k"), "clean") << "t2's snapshot predates t1's commit";
  ASSERT_OK(store_->Commit(t2));
  ASSERT_OK(store_->Commit(t3));
  EXPECT_EQ(Latest("k"), "dirty") << "t1's commit did land";
}

TEST_F(TxnTest, Anomaly_DirtyReadOfAbortedWrite_IsImpossible) {
  CommitPuts({{"k", "clean"}});
  TxnId t1 = store_->BeginTransaction();
  ASSERT_OK(store_->Put(t1, "k", "rolled back"));
  TxnId t2 = store_->BeginTransaction();
  EXPECT_EQ(Read(t2, "k"), "clean");
  ASSERT_OK(store_->Abort(t1));
  EXPECT_EQ(Read(t2, "k"), "clean");
  ASSERT_OK(store_->Commit(t2));
  EXPECT_EQ(Latest("k"), "clean");
}

TEST_F(TxnTest, Anomaly_NonRepeatableRead_IsImpossible) {
  CommitPuts({{"k", "v1"}});
  TxnId t1 = store_->BeginTransaction();
  EXPECT_EQ(Read(t1, "k"), "v1");
  TxnId t2 = store_->BeginTransaction();
  ASSERT_OK(store_->Put(t2, "k", "v2"));
  ASSERT_OK(store_->Commit(t2));
  EXPECT_EQ(Read(t1, "k"), "v1");
  // The same holds for a delete.
  TxnId t3 = store_->BeginTransaction();
  ASSERT_OK(store_->Delete(t3, "k"));
  ASSERT_OK(store_->Commit(t3));
  EXPECT_EQ(Read(t1, "k"), "v1");
  ASSERT_OK(store_->Commit(t1));
  EXPECT_EQ(Latest("k"), std::nullopt) << "t2 and t3 did commit";
}

TEST_F(TxnTest, Anomaly_LostUpdate_IsImpossible) {
  CommitPuts({{"counter", "0"}});
  TxnId t1 = store_->BeginTransaction();
  TxnId t2 = store_->BeginTransaction();
  const std::int64_t seen1 = ParseInt(Read(t1, "counter"));
  const std::int64_t seen2 = ParseInt(Read(t2, "counter"));
  EXPECT_EQ(seen1, 0);
  EXPECT_EQ(seen2, 0);
  ASSERT_OK(store_->Put(t1, "counter", std::to_string(seen1 + 1)));
  ASSERT_OK(store_->Put(t2, "counter", std::to_string(seen2 + 1)));
  ASSERT_OK(store_->Commit(t1));
  EXPECT_STATUS(store_->Commit(t2), StatusCode::kConflict);
  EXPECT_EQ(Latest("counter"), "1") << "exactly one increment";
}

TEST_F(TxnTest, Anomaly_LostUpdateByBlindWrite_IsImpossible) {
  // Three transactions: t3 began before t1 committed, so it too loses, even though t2 already
  // failed and never wrote.
  CommitPuts({{"counter", "0"}});
  TxnId t1 = store_->BeginTransaction();
  TxnId t2 = store_->BeginTransaction();
  TxnId t3 = store_->BeginTransaction();
  ASSERT_OK(store_->Put(t1, "counter", "t1"));
  ASSERT_OK(store_->Put(t2, "counter", "t2"));
  ASSERT_OK(store_->Put(t3, "counter", "t3"));
  ASSERT_OK(store_->Commit(t1));
  EXPECT_STATUS(store_->Commit(t2), StatusCode::kConflict);
  EXPECT_STATUS(store_->Commit(t3), StatusCode::kConflict);
  EXPECT_EQ(Latest("counter"), "t1");
}

TEST_F(TxnTest, Anomaly_ReadSkew_IsImpossible) {
  // Invariant: x + y == 100.
  CommitPuts({{"x", "50"}, {"y", "50"}});
  TxnId t1 = store_->BeginTransaction();
  const std::int64_t x = ParseInt(Read(t1, "x"));
  TxnId t2 = store_->BeginTransaction();
  ASSERT_OK(store_->Put(t2, "x", "20"));
  ASSERT_OK(store_->Put(t2, "y", "80"));
  ASSERT_OK(store_->Commit(t2));
  const std::int64_t y = ParseInt(Read(t1, "y"));
  EXPECT_EQ(x, 50);
  EXPECT_EQ(y, 50) << "t1 saw the new y with the old x";
  EXPECT_EQ(x + y, 100);
  ASSERT_OK(store_->Commit(t1));
  EXPECT_EQ(ParseInt(Latest("x")) + ParseInt(Latest("y")), 100);
  EXPECT_EQ(Latest("y"), "80") << "t2 did commit";
}

TEST_F(TxnTest, Anomaly_WriteSkew_HappensUnderSnapshotIsolation) {
  // Invariant the application wants: at least one doctor is on call. Each transaction checks it
  // on its snapshot and takes a different doctor off call; their write sets are disjoint, so
  // first-committer-wins sees no conflict and both commit. Snapshot isolation allows this;
  // phase 4's serializable isolation (read-set validation) aborts one of them instead.
  CommitPuts({{"alice", "on"}, {"bob", "on"}});
  TxnId t1 = store_->BeginTransaction();
  TxnId t2 = store_->BeginTransaction();
  auto on_call = [&](TxnId t) {
    return static_cast<int>(Read(t, "alice") == "on") + static_cast<int>(Read(t, "bob") == "on");
  };
  ASSERT_EQ(on_call(t1), 2);
  ASSERT_EQ(on_call(t2), 2);
  ASSERT_OK(store_->Put(t1, "alice", "off"));
  ASSERT_OK(store_->Put(t2, "bob", "off"));
  EXPECT_OK(store_->Commit(t1));
  EXPECT_OK(store_->Commit(t2));
  EXPECT_EQ(Latest("alice"), "off");
  EXPECT_EQ(Latest("bob"), "off") << "the invariant broke: nobody is on call";
}

// --- First committer wins under concurrent commits ---

// A MemVersionedEngine whose Get of one key ("gate") blocks until the test opens the gate. Store
// holds a transaction's lock while it reads the engine, so a Get on the gate key holds up every
// other operation on that transaction — here, a concurrent Commit of it — at a known point.
class GatedEngine final : public testing::ForwardingEngine {
 public:
  struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    bool entered = false;  // GUARDED_BY(mu)
    bool open = false;     // GUARDED_BY(mu)
  };

  explicit GatedEngine(std::shared_ptr<Gate> gate) : gate_(std::move(gate)) {}

  Result<std::optional<std::string>> Get(std::string_view key, Timestamp read_ts) const override {
    if (key == "gate") {
      std::unique_lock lock(gate_->mu);
      gate_->entered = true;
      gate_->cv.notify_all();
      gate_->cv.wait(lock, [&] { return gate_->open; });
    }
    return ForwardingEngine::Get(key, read_ts);
  }

 private:
  std::shared_ptr<Gate> gate_;
};

// t1 reads k and overwrites it; t2 deletes k and commits while t1's Commit is in flight (it has
// started but not yet checked for conflicts). t2 committed a write to k after t1's snapshot, so
// t1 must get kConflict and the delete must stand.
TEST(TxnConcurrentCommit, Anomaly_LostUpdate_DeleteCommittedDuringCommit_IsImpossible) {
  auto gate = std::make_shared<GatedEngine::Gate>();
  auto fs = NewMemFileSystem();
  StoreOptions options;
  options.engine_factory = [gate] { return std::make_unique<GatedEngine>(gate); };
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(*fs, "db", options));
  {
    Transaction setup = store->Begin();
    ASSERT_OK(setup.Put("k", "v0"));
    ASSERT_OK(setup.Commit());
  }
  const TxnId t1 = store->BeginTransaction();
  ASSERT_OK_AND_ASSIGN(Value seen, store->Get(t1, "k"));
  ASSERT_EQ(seen, "v0");
  ASSERT_OK(store->Put(t1, "k", "t1"));
  const TxnId t2 = store->BeginTransaction();
  ASSERT_OK(store->Delete(t2, "k"));

  // Thread `reader` parks inside a Get on t1, holding t1's lock.
  std::thread reader([&] { (void)store->Get(t1, "gate"); });
  {
    std::unique_lock lock(gate->mu);
    gate->cv.wait(lock, [&] { return gate->entered; });
  }
  // Thread `committer` commits t1; it gets as far as t1's lock and waits there.
  Status t1_status = Status::Aborted("Commit(t1) did not return");
  std::thread committer([&] { t1_status = store->Commit(t1); });
  // Wait (bounded, so that a Store that orders its steps differently cannot hang the test) for
  // the Commit to have taken t1 off the list of active transactions.
  for (int i = 0; i < 2000 && store->stats().active_transactions > 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // t1 has not committed, so t2 is the first committer on k.
  const Status t2_status = store->Commit(t2);
  {
    std::lock_guard lock(gate->mu);
    gate->open = true;
  }
  gate->cv.notify_all();
  reader.join();
  committer.join();

  ASSERT_OK(t2_status);
  EXPECT_EQ(t1_status.code(), StatusCode::kConflict)
      << "t1 overwrote a delete committed after its snapshot: " << t1_status.ToString();
  Transaction check = store->Begin();
  ASSERT_OK_AND_ASSIGN(Value final_value, check.Get("k"));
  EXPECT_EQ(final_value, std::nullopt) << "t2's committed delete was lost";
}

// The same race without any help: one thread overwrites k, one deletes it, both after reading
// it. Every put writes a unique token; under first-committer-wins the committed writers of k
// form a chain, so no token can be read by two committed writers.
TEST(TxnStress, ConcurrentPutsAndDeletes_NoTokenIsReadByTwoCommittedWriters) {
  constexpr int kIterations = 10000;
  auto fs = NewMemFileSystem();
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(*fs, "db"));
  std::mutex mu;
  std::map<std::string, int> readers_of;  // GUARDED_BY(mu): token -> committed writers that read it
  std::atomic<int> errors{0};
  auto worker = [&](bool deleter, int id) {
    for (int i = 0; i < kIterations; ++i) {
      Transaction txn = store->Begin();
      auto read = txn.Get("k");
      if (!read.has_value()) {
        ++errors;
        continue;
      }
      const Status w =
          deleter ? txn.Delete("k") : txn.Put("k", std::to_string(id) + "/" + std::to_string(i));
      if (!w.ok()) {
        ++errors;
        continue;
      }
      const Status s = txn.Commit();
      if (!s.ok() && s.code() != StatusCode::kConflict) ++errors;
      if (s.ok() && read->has_value()) {
        std::lock_guard lock(mu);
        ++readers_of[**read];
      }
    }
  };
  std::thread putter(worker, false, 1);
  std::thread deleter(worker, true, 2);
  putter.join();
  deleter.join();

  EXPECT_EQ(errors.load(), 0);
  int lost = 0;
  std::string example;
  for (const auto& [token, readers] : readers_of) {
    if (readers > 1) {
      if (lost++ == 0) example = token;
    }
  }
  EXPECT_EQ(lost, 0) << lost << " tokens were each read by two committed writers of k (e.g. '"
                     << example << "'): a write-write conflict was missed";
}

// --- Garbage collection of old versions ---

constexpr int kGcKeys = 100;

std::string GcKey(int i) { return "key-" + std::to_string(i); }

// Overwrites every key once, in transactions of 10 keys each; values say the round.
void OverwriteAll(Store& store, int round) {
  for (int first = 0; first < kGcKeys; first += 10) {
    TxnId t = store.BeginTransaction();
    for (int i = first; i < first + 10; ++i) {
      ASSERT_OK(store.Put(t, GcKey(i), "round-" + std::to_string(round)));
    }
    ASSERT_OK(store.Commit(t));
  }
}

TEST_F(TxnTest, Gc_OverwritesWithNoOldReader_KeepVersionsBounded) {
  for (int round = 0; round < 200; ++round) {
    ASSERT_NO_FATAL_FAILURE(OverwriteAll(*store_, round));
    const EngineStats engine = store_->stats().engine;
    ASSERT_EQ(engine.keys, static_cast<std::size_t>(kGcKeys));
    ASSERT_LE(engine.versions, 2u * kGcKeys) << "after round " << round;
  }
  for (int i = 0; i < kGcKeys; i += 7) EXPECT_EQ(Latest(GcKey(i)), "round-199");
}

TEST_F(TxnTest, Gc_LongRunningTransaction_KeepsItsSnapshotUntilItEnds) {
  ASSERT_NO_FATAL_FAILURE(OverwriteAll(*store_, 0));
  TxnId old_reader = store_->BeginTransaction();
  for (int round = 1; round <= 20; ++round) ASSERT_NO_FATAL_FAILURE(OverwriteAll(*store_, round));
  // Every key needs at least the version the old reader sees and the newest one.
  EXPECT_GE(store_->stats().engine.versions, 2u * kGcKeys);
  for (int i = 0; i < kGcKeys; ++i) {
    ASSERT_EQ(Read(old_reader, GcKey(i)), "round-0") << GcKey(i);
  }
  ASSERT_OK(store_->Commit(old_reader));
  // Once it has ended, the next writes to each key reclaim what it was holding.
  ASSERT_NO_FATAL_FAILURE(OverwriteAll(*store_, 21));
  EXPECT_LE(store_->stats().engine.versions, 2u * kGcKeys);
  EXPECT_EQ(Latest(GcKey(42)), "round-21");
}

TEST_F(TxnTest, Gc_Checkpoint_KeepsAnOpenSnapshotAndReclaimsItAfterward) {
  ASSERT_NO_FATAL_FAILURE(OverwriteAll(*store_, 0));
  TxnId old_reader = store_->BeginTransaction();
  for (int round = 1; round <= 20; ++round) ASSERT_NO_FATAL_FAILURE(OverwriteAll(*store_, round));
  // A checkpoint while the old reader is open must not take its versions away.
  ASSERT_OK(store_->Checkpoint());
  EXPECT_GE(store_->stats().engine.versions, 2u * kGcKeys);
  for (int i = 0; i < kGcKeys; ++i) {
    ASSERT_EQ(Read(old_reader, GcKey(i)), "round-0") << GcKey(i);
  }
  ASSERT_OK(store_->Abort(old_reader));
  // With no reader left and no further writes, a checkpoint reclaims the old versions.
  ASSERT_OK(store_->Checkpoint());
  const EngineStats engine = store_->stats().engine;
  EXPECT_EQ(engine.keys, static_cast<std::size_t>(kGcKeys));
  EXPECT_LE(engine.versions, 2u * kGcKeys);
  for (int i = 0; i < kGcKeys; i += 9) EXPECT_EQ(Latest(GcKey(i)), "round-20");
}

TEST_F(TxnTest, Gc_DeletedKeys_AreReclaimedOnceNoReaderNeedsThem) {
  ASSERT_NO_FATAL_FAILURE(OverwriteAll(*store_, 0));
  TxnId t = store_->BeginTransaction();
  for (int i = 0; i < kGcKeys; ++i) ASSERT_OK(store_->Delete(t, GcKey(i)));
  ASSERT_OK(store_->Commit(t));
  ASSERT_OK(store_->Checkpoint());
  const EngineStats engine = store_->stats().engine;
  EXPECT_EQ(engine.keys, 0u) << "tombstones that hide nothing are kept";
  EXPECT_EQ(engine.versions, 0u);
  EXPECT_EQ(Latest(GcKey(3)), std::nullopt);
}

// --- Stress: concurrent transfers keep the total in every snapshot ---

TEST(TxnStress, ConcurrentTransfers_EverySnapshotSumsToTheTotal) {
  constexpr int kAccounts = 8;
  constexpr std::int64_t kInitial = 1000;
  constexpr std::int64_t kTotal = kAccounts * kInitial;
  constexpr int kWriters = 2;
  constexpr int kAttemptsPerWriter = 2000;
  auto account = [](int i) { return "account-" + std::to_string(i); };

  kv::testing::TestRandom rng;
  auto fs = NewMemFileSystem();
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(*fs, "db"));
  {
    Transaction setup = store->Begin();
    for (int i = 0; i < kAccounts; ++i) ASSERT_OK(setup.Put(account(i), std::to_string(kInitial)));
    ASSERT_OK(setup.Commit());
  }
  const StoreStats before = store->stats();

  std::atomic<bool> writers_done{false};
  std::atomic<std::int64_t> successes{0}, conflicts{0}, errors{0};
  std::atomic<std::int64_t> snapshots{0}, bad_snapshots{0}, reader_commits{0};
  std::atomic<std::int64_t> first_bad_sum{0};

  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, seed = rng.Next()] {
      Random r(seed);
      int from = 0, to = 0;
      std::int64_t wanted = 0;
      bool retry = false;
      for (int attempt = 0; attempt < kAttemptsPerWriter; ++attempt) {
        if (!retry) {  // A new transfer; after a conflict the same one is tried again.
          from = static_cast<int>(r.Uniform(kAccounts));
          to = static_cast<int>((from + 1 + r.Uniform(kAccounts - 1)) % kAccounts);
          wanted = static_cast<std::int64_t>(r.Range(1, 300));
        }
        Transaction txn = store->Begin();
        auto from_balance = txn.Get(account(from));
        auto to_balance = txn.Get(account(to));
        if (!from_balance.has_value() || !to_balance.has_value()) {
          ++errors;
          continue;
        }
        const std::int64_t a = ParseInt(*from_balance);
        const std::int64_t b = ParseInt(*to_balance);
        const std::int64_t amount = std::min(wanted, a);  // Balances never go negative.
        if (!txn.Put(account(from), std::to_string(a - amount)).ok() ||
            !txn.Put(account(to), std::to_string(b + amount)).ok()) {
          ++errors;
          continue;
        }
        const Status s = txn.Commit();
        if (s.ok()) {
          ++successes;
          retry = false;
        } else if (s.code() == StatusCode::kConflict) {
          ++conflicts;
          retry = true;
        } else {
          ++errors;
        }
      }
    });
  }
  std::thread auditor([&] {
    do {
      Transaction txn = store->Begin();
      std::int64_t sum = 0;
      bool negative = false;
      for (int i = 0; i < kAccounts; ++i) {
        auto v = txn.Get(account(i));
        const std::int64_t balance = v.has_value() ? ParseInt(*v) : -1'000'000;
        negative |= balance < 0;
        sum += balance;
      }
      ++snapshots;
      if (sum != kTotal || negative) {
        if (bad_snapshots++ == 0) first_bad_sum = sum;
      }
      if (txn.Commit().ok()) ++reader_commits;
    } while (!writers_done.load());
  });
  for (auto& w : writers) w.join();
  writers_done = true;
  auditor.join();

  EXPECT_EQ(errors.load(), 0);
  EXPECT_GT(snapshots.load(), 0);
  EXPECT_EQ(bad_snapshots.load(), 0) << "first bad snapshot summed to " << first_bad_sum.load();
  EXPECT_EQ(successes.load() + conflicts.load(), kWriters * kAttemptsPerWriter);
  EXPECT_GT(successes.load(), 0);

  const StoreStats after = store->stats();
  EXPECT_EQ(after.commits - before.commits,
            static_cast<std::uint64_t>(successes.load() + reader_commits.load()));
  EXPECT_EQ(after.conflicts - before.conflicts, static_cast<std::uint64_t>(conflicts.load()));
  EXPECT_EQ(after.active_transactions, 0u);

  Transaction final_txn = store->Begin();
  std::int64_t sum = 0;
  for (int i = 0; i < kAccounts; ++i) {
    ASSERT_OK_AND_ASSIGN(Value v, final_txn.Get(account(i)));
    EXPECT_GE(ParseInt(v), 0) << account(i);
    sum += ParseInt(v);
  }
  EXPECT_EQ(sum, kTotal);
  final_txn.Abort();
  std::printf("[  STATS   ] %lld transfers committed, %lld conflicts, %lld audited snapshots\n",
              static_cast<long long>(successes.load()), static_cast<long long>(conflicts.load()),
              static_cast<long long>(snapshots.load()));
}

}  // namespace
}  // namespace kv::phase1
