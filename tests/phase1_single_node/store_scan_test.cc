// Range scans through the transaction layer (Store::Scan) on the hash-table engine: named cases
// for each rule, then the model-based property of scan_property.h (phase 2 runs the same property
// on the LSM tree).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/mem_file_system.h"
#include "common/testing/status_matchers.h"
#include "phase1_single_node/mem_engine.h"
#include "phase1_single_node/store.h"
#include "tests/phase1_single_node/scan_property.h"

namespace kv::phase1 {
namespace {

using namespace std::string_literals;
using Pairs = std::vector<KeyValue>;

class StoreScan : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK_AND_ASSIGN(store_, Store::Open(*fs_, "db")); }

  void Commit(const Pairs& puts, const std::vector<std::string>& deletes = {}) {
    Transaction t = store_->Begin();
    for (const auto& [k, v] : puts) ASSERT_OK(t.Put(k, v));
    for (const auto& k : deletes) ASSERT_OK(t.Delete(k));
    ASSERT_OK(t.Commit());
  }

  std::unique_ptr<FileSystem> fs_ = NewMemFileSystem();
  std::unique_ptr<Store> store_;
};

TEST_F(StoreScan, Scan_SeesOwnUncommittedPut_InKeyOrder) {
  Commit({{"a", "1"}, {"c", "3"}});
  Transaction t = store_->Begin();
  ASSERT_OK(t.Put("b", "mine"));
  ASSERT_OK(t.Put("c", "overwritten"));
  ASSERT_OK_AND_ASSIGN(Pairs got, t.Scan("", ""));
  EXPECT_EQ(got, (Pairs{{"a", "1"}, {"b", "mine"}, {"c", "overwritten"}}));
  // Another transaction does not see them.
  Transaction other = store_->Begin();
  ASSERT_OK_AND_ASSIGN(got, other.Scan("", ""));
  EXPECT_EQ(got, (Pairs{{"a", "1"}, {"c", "3"}}));
}

TEST_F(StoreScan, Scan_HidesOwnDelete) {
  Commit({{"a", "1"}, {"b", "2"}, {"c", "3"}});
  Transaction t = store_->Begin();
  ASSERT_OK(t.Delete("b"));
  ASSERT_OK(t.Delete("zzz"));  // Absent: deleting it hides nothing and adds nothing.
  ASSERT_OK_AND_ASSIGN(Pairs got, t.Scan("a", ""));
  EXPECT_EQ(got, (Pairs{{"a", "1"}, {"c", "3"}}));
}

TEST_F(StoreScan, Snapshot_DoesNotSeeALaterCommit) {
  Commit({{"a", "1"}, {"b", "2"}});
  Transaction reader = store_->Begin();
  Commit({{"a", "changed"}, {"ab", "new"}}, {"b"});
  ASSERT_OK_AND_ASSIGN(Pairs got, reader.Scan("", ""));
  EXPECT_EQ(got, (Pairs{{"a", "1"}, {"b", "2"}})) << "the snapshot predates the second commit";
  Transaction fresh = store_->Begin();
  ASSERT_OK_AND_ASSIGN(got, fresh.Scan("", ""));
  EXPECT_EQ(got, (Pairs{{"a", "changed"}, {"ab", "new"}}));
}

TEST_F(StoreScan, Bounds_StartInclusiveEndExclusive_EmptyMeansOpen) {
  Commit({{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}});
  Transaction t = store_->Begin();
  EXPECT_EQ(t.Scan("b", "d").value(), (Pairs{{"b", "2"}, {"c", "3"}}));
  EXPECT_EQ(t.Scan("", "b").value(), (Pairs{{"a", "1"}}));
  EXPECT_EQ(t.Scan("bb", "").value(), (Pairs{{"c", "3"}, {"d", "4"}}));
  EXPECT_EQ(t.Scan("c", "c").value(), Pairs{}) << "start == end is an empty range";
}

TEST_F(StoreScan, Order_IsBytewise_WithZeroAndHighBytes) {
  Commit({{"\xff", "high"}, {"a\0"s, "zero"}, {"ab", "b"}, {"a", "plain"}});
  Transaction t = store_->Begin();
  EXPECT_EQ(t.Scan("", "").value(),
            (Pairs{{"a", "plain"}, {"a\0"s, "zero"}, {"ab", "b"}, {"\xff", "high"}}));
}

// The limit counts what the caller gets: snapshot keys hidden by the transaction's deletes do not
// use it up, and its own puts do.
TEST_F(StoreScan, Limit_Honoured_AfterMergingOwnWrites) {
  Commit({{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}, {"e", "5"}});
  Transaction t = store_->Begin();
  ASSERT_OK(t.Delete("a"));
  ASSERT_OK(t.Delete("b"));
  ASSERT_OK(t.Put("bb", "mine"));
  EXPECT_EQ(t.Scan("", "", 1).value(), (Pairs{{"bb", "mine"}}));
  EXPECT_EQ(t.Scan("", "", 2).value(), (Pairs{{"bb", "mine"}, {"c", "3"}}));
  EXPECT_EQ(t.Scan("", "", 3).value(), (Pairs{{"bb", "mine"}, {"c", "3"}, {"d", "4"}}));
  EXPECT_EQ(t.Scan("c", "", 10).value(), (Pairs{{"c", "3"}, {"d", "4"}, {"e", "5"}}));
  EXPECT_EQ(t.Scan("", "", 0).value().size(), 4u) << "0 is no limit";
}

TEST_F(StoreScan, BadBounds_Rejected_TransactionUnchanged) {
  Commit({{"a", "1"}});
  Transaction t = store_->Begin();
  ASSERT_OK(t.Put("b", "2"));
  EXPECT_STATUS(t.Scan("b", "a").status(), StatusCode::kInvalidArgument);  // start > end.
  // Bounds longer than a key may be, and an unknown transaction.
  EXPECT_STATUS(t.Scan(std::string(1025, 'k'), "").status(), StatusCode::kInvalidArgument);
  EXPECT_STATUS(t.Scan("", std::string(1025, 'k')).status(), StatusCode::kInvalidArgument);
  EXPECT_STATUS(store_->Scan(t.id() + 100, "", "").status(), StatusCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(auto reads, store_->ReadSet(t.id()));
  EXPECT_TRUE(reads.empty());
  EXPECT_EQ(t.Scan("", "").value(), (Pairs{{"a", "1"}, {"b", "2"}}));
  ASSERT_OK(t.Commit());
}

// The read set gets the keys the scan handed out from the snapshot: not the transaction's own
// writes, not the keys the limit cut off. (Nor the range: phantoms are phase 4's business.)
TEST_F(StoreScan, ReadSet_RecordsReturnedSnapshotKeysOnly) {
  Commit({{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}});
  Transaction t = store_->Begin();
  ASSERT_OK(t.Put("b", "mine"));
  ASSERT_OK_AND_ASSIGN(Pairs got, t.Scan("", "", 3));
  EXPECT_EQ(got, (Pairs{{"a", "1"}, {"b", "mine"}, {"c", "3"}}));
  ASSERT_OK_AND_ASSIGN(auto reads, store_->ReadSet(t.id()));
  EXPECT_EQ(reads, (std::vector<std::string>{"a", "c"}));
}

TEST(MemEngineScan, StopsAtTheCallbacksError) {
  MemVersionedEngine engine;
  std::vector<Write> writes{{"a", "1"}, {"b", "2"}, {"c", "3"}};
  ASSERT_OK(engine.Apply(writes, 1));
  int calls = 0;
  Status s = engine.Scan("", "", 1, 0, [&](std::string_view, std::string_view) {
    return ++calls == 2 ? Status::Aborted("enough") : Status::Ok();
  });
  EXPECT_STATUS(s, StatusCode::kAborted);
  EXPECT_EQ(calls, 2);
}

// The model the property checks against, on a case worked by hand, so that a model that agrees
// with anything cannot make the property pass.
TEST(ScanPropertyModel, ExpectedScan_MergesOwnWritesThenBoundsThenLimit) {
  const testing::State snapshot{{"a", "1"}, {"b", "2"}, {"c", "3"}};
  const testing::Writes writes{{"b", std::nullopt}, {"bb", "x"}, {"c", "y"}};
  EXPECT_EQ(testing::ExpectedScan(snapshot, writes, "", "", 0),
            (Pairs{{"a", "1"}, {"bb", "x"}, {"c", "y"}}));
  EXPECT_EQ(testing::ExpectedScan(snapshot, writes, "b", "c", 0), (Pairs{{"bb", "x"}}));
  EXPECT_EQ(testing::ExpectedScan(snapshot, writes, "", "", 2), (Pairs{{"a", "1"}, {"bb", "x"}}));
}

RC_GTEST_PROP(StoreScanProperty, RandomTxnsAndScans_MatchSnapshotPlusOwnWrites_MemEngine, ()) {
  testing::CheckScansAgainstModel(NewMemVersionedEngine);
}

}  // namespace
}  // namespace kv::phase1
