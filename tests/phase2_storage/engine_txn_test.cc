// Phase 1's transaction layer on every engine of EnginesUnderTest(): the snapshot-isolation and
// range-scan properties phase 1 runs on its hash-table engine (tests/phase1_single_node/
// snapshot_isolation_property.h, scan_property.h), with every version stored in the ordered
// engine through OrderedVersionedEngine, and longer runs that push the versions through the
// engine's files.
#include <atomic>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/check.h"
#include "common/mem_file_system.h"
#include "common/testing/status_matchers.h"
#include "phase1_single_node/store.h"
#include "phase2_storage/ordered_versioned_engine.h"
#include "tests/phase1_single_node/scan_property.h"
#include "tests/phase1_single_node/snapshot_isolation_property.h"
#include "tests/phase2_storage/engine_under_test.h"
#include "tests/phase2_storage/property_in_test.h"

namespace kv::storage::testing {
namespace {

// The engine under test driven by its own writes: every `every`-th write is followed by a flush,
// one unit of maintenance and a check of the invariants. The engines are opened without
// background threads and with buffers that the properties' short schedules would not fill, and
// the store owns the engine, so its writes are the one place to push the versions into the
// engine's files (and through compactions, or checkpoints) in the middle of a schedule.
class MaintainedEngine final : public OrderedEngine {
 public:
  MaintainedEngine(EngineUnderTest under_test, std::unique_ptr<OrderedEngine> engine, int every)
      : under_test_(std::move(under_test)), engine_(std::move(engine)), every_(every) {}

  std::string name() const override { return engine_->name(); }
  Status Put(const WriteOptions& options, std::string_view key, std::string_view value) override {
    return AfterWrite(engine_->Put(options, key, value));
  }
  Status Delete(const WriteOptions& options, std::string_view key) override {
    return AfterWrite(engine_->Delete(options, key));
  }
  Status Write(const WriteOptions& options, const WriteBatch& batch) override {
    return AfterWrite(engine_->Write(options, batch));
  }
  Result<std::string> Get(const ReadOptions& options, std::string_view key) const override {
    return engine_->Get(options, key);
  }
  std::unique_ptr<Iterator> NewIterator(const ReadOptions& options) const override {
    return engine_->NewIterator(options);
  }
  std::unique_ptr<Snapshot> GetSnapshot() const override { return engine_->GetSnapshot(); }
  Status Flush() override { return engine_->Flush(); }
  Status Sync() override { return engine_->Sync(); }
  Status WaitForIdle() override { return engine_->WaitForIdle(); }
  std::string DescribeState() const override { return engine_->DescribeState(); }

 private:
  Status AfterWrite(Status written) {
    if (!written.ok() || ++writes_ % every_ != 0) return written;
    if (Status s = engine_->Flush(); !s.ok()) return s.WithContext("flush");
    if (Status s = under_test_.maintenance(*engine_); !s.ok()) return s.WithContext("maintenance");
    if (Status s = under_test_.check_invariants(*engine_); !s.ok()) {
      return s.WithContext("invariants after maintenance");
    }
    return Status::Ok();
  }

  const EngineUnderTest under_test_;
  std::unique_ptr<OrderedEngine> engine_;
  const int every_;
  std::atomic<int> writes_{0};
};

// A factory of fresh, empty engines for the store, each in its own directory of one in-memory
// file system (the store rebuilds its engine from its own log at every open), flushed and
// maintained after every `every`-th write.
phase1::EngineFactory Factory(const EngineUnderTest& under_test, int every) {
  auto fs = std::shared_ptr<FileSystem>(NewMemFileSystem());
  auto counter = std::make_shared<std::atomic<int>>(0);
  return [under_test, fs, counter, every]() -> std::unique_ptr<phase1::VersionedEngine> {
    auto engine = under_test.open(*fs, fmt::format("engine-{}", counter->fetch_add(1)));
    KV_CHECK(engine.has_value(), "opening a fresh engine failed");
    return std::make_unique<OrderedVersionedEngine>(
        std::make_unique<MaintainedEngine>(under_test, std::move(*engine), every));
  };
}

// The properties' schedules are short (a few commits each): every commit goes to the engine's
// files. The longer tests below flush and maintain every few commits, as a full buffer would.
constexpr int kPropertyEvery = 1;
constexpr int kLongTestEvery = 8;

class EngineTxn : public ::testing::TestWithParam<EngineUnderTest> {
 protected:
  void SetUp() override {
    phase1::StoreOptions options;
    options.engine_factory = Factory(GetParam(), kLongTestEvery);
    ASSERT_OK_AND_ASSIGN(store_, phase1::Store::Open(*fs_, "db", options));
  }

  std::unique_ptr<FileSystem> fs_ = NewMemFileSystem();
  std::unique_ptr<phase1::Store> store_;
};

TEST_P(EngineTxn, RandomInterleavings_ObeySnapshotIsolation) {
  CheckPropertyInTest(
      100, [&] { phase1::testing::CheckSnapshotIsolation(Factory(GetParam(), kPropertyEvery)); });
}

// Scans seek into the versioned keys: the property's keys (prefixes of each other, 0x00 and 0xff
// bytes) are the ones the escaping exists for, and the small buffers put versions of one key in
// several places of the engine.
TEST_P(EngineTxn, RandomTxnsAndScans_MatchSnapshotPlusOwnWrites) {
  CheckPropertyInTest(
      100, [&] { phase1::testing::CheckScansAgainstModel(Factory(GetParam(), kPropertyEvery)); });
}

// Enough transactions that the versions spill from memory into the engine's files and through
// its maintenance, with old versions pruned by the store's garbage collection as it goes.
TEST_P(EngineTxn, ManyOverwritingTransactions_ReadTheirLatestValues) {
  constexpr int kTxns = 2000;
  constexpr int kKeys = 150;
  for (int i = 0; i < kTxns; ++i) {
    auto t = store_->Begin();
    ASSERT_OK(t.Put(fmt::format("key{:03}", i % kKeys), fmt::format("value-{}", i)));
    ASSERT_OK(t.Commit());
  }
  auto t = store_->Begin();
  for (int k = 0; k < kKeys; ++k) {
    const int last = kTxns - kKeys + ((k - (kTxns - kKeys) % kKeys + kKeys) % kKeys);
    ASSERT_OK_AND_ASSIGN(auto got, t.Get(fmt::format("key{:03}", k)));
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(*got, fmt::format("value-{}", last));
  }
}

// A scan over versions spread through the engine, with old versions pruned and some keys
// deleted: each live key once, in order, at its newest value.
TEST_P(EngineTxn, Scan_OverManyVersions_EachLiveKeyOnceAtItsNewestValue) {
  std::map<std::string, std::string> model;
  for (int i = 0; i < 600; ++i) {
    auto t = store_->Begin();
    const std::string key = fmt::format("key{:02}", (i * 7) % 50);
    if (i % 5 == 4) {
      ASSERT_OK(t.Delete(key));
      model.erase(key);
    } else {
      ASSERT_OK(t.Put(key, fmt::format("value-{}", i)));
      model[key] = fmt::format("value-{}", i);
    }
    ASSERT_OK(t.Commit());
  }
  auto t = store_->Begin();
  ASSERT_OK_AND_ASSIGN(auto pairs, t.Scan("key10", "key40"));
  const std::vector<phase1::KeyValue> want(model.lower_bound("key10"), model.lower_bound("key40"));
  EXPECT_EQ(pairs, want);
  ASSERT_OK_AND_ASSIGN(pairs, t.Scan("", "", 5));
  EXPECT_EQ(pairs, std::vector<phase1::KeyValue>(model.begin(), std::next(model.begin(), 5)));
}

// The store describes its engine as "<engine name>: <its DescribeState()>".
TEST_P(EngineTxn, DescribeEngine_NamesTheEngine) {
  auto engine = GetParam().open(*fs_, "described");
  ASSERT_OK(engine);
  const std::string description = store_->DescribeEngine();
  EXPECT_TRUE(description.starts_with((*engine)->name() + ": ")) << description;
  EXPECT_GT(description.size(), (*engine)->name().size() + 2) << description;
}

std::string EngineName(const ::testing::TestParamInfo<EngineUnderTest>& engine) {
  return engine.param.name;
}
INSTANTIATE_TEST_SUITE_P(Engines, EngineTxn, ::testing::ValuesIn(EnginesUnderTest()), EngineName);

}  // namespace
}  // namespace kv::storage::testing
