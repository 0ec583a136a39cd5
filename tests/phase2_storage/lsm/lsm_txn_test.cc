// Phase 1's transaction layer on the LSM tree: the same snapshot-isolation and range-scan
// properties phase 1 runs on its hash-table engine (tests/phase1_single_node/
// snapshot_isolation_property.h, scan_property.h), here with every version stored in an LsmEngine
// through OrderedVersionedEngine.
#include <atomic>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "common/check.h"
#include "common/mem_file_system.h"
#include "common/testing/status_matchers.h"
#include "phase1_single_node/store.h"
#include "phase2_storage/lsm/lsm_engine.h"
#include "phase2_storage/ordered_versioned_engine.h"
#include "tests/phase1_single_node/scan_property.h"
#include "tests/phase1_single_node/snapshot_isolation_property.h"
#include "tests/phase2_storage/lsm/small_options.h"

namespace kv::storage::lsm {
namespace {

// A factory of fresh, empty LSM engines, each in its own directory of one in-memory file system.
// Tiny buffers, so even short schedules flush and compact.
phase1::EngineFactory LsmFactory() {
  auto fs = std::shared_ptr<FileSystem>(NewMemFileSystem());
  auto counter = std::make_shared<std::atomic<int>>(0);
  return [fs, counter]() -> std::unique_ptr<phase1::VersionedEngine> {
    LsmOptions o = SmallLsmOptions();
    o.write_buffer_size = 2 * 1024;  // Smaller still: the schedules are short.
    o.background_work = true;
    auto engine = LsmEngine::Open(*fs, fmt::format("lsm-{}", counter->fetch_add(1)), o);
    KV_CHECK(engine.has_value(), "opening a fresh LSM engine failed");
    return std::make_unique<OrderedVersionedEngine>(std::move(*engine));
  };
}

RC_GTEST_PROP(TxnPropertyLsm, RandomInterleavings_ObeySnapshotIsolation_LsmEngine, ()) {
  phase1::testing::CheckSnapshotIsolation(LsmFactory());
}

// Scans seek into the versioned keys: the property's keys (prefixes of each other, 0x00 and 0xff
// bytes) are the ones the escaping exists for, and the tiny buffers put versions of one key in
// several tables.
RC_GTEST_PROP(TxnPropertyLsm, RandomTxnsAndScans_MatchSnapshotPlusOwnWrites_LsmEngine, ()) {
  phase1::testing::CheckScansAgainstModel(LsmFactory());
}

// Enough transactions that the versions spill from the memtable into tables and get compacted,
// with old versions pruned by the store's garbage collection as it goes.
TEST(TxnOnLsm, ManyOverwritingTransactions_ReadTheirLatestValues_AcrossFlushesAndCompactions) {
  auto fs = NewMemFileSystem();
  phase1::StoreOptions options;
  options.engine_factory = LsmFactory();
  ASSERT_OK_AND_ASSIGN(auto store, phase1::Store::Open(*fs, "db", options));
  for (int i = 0; i < 2000; ++i) {
    auto t = store->Begin();
    ASSERT_OK(t.Put(fmt::format("key{:03}", i % 150), fmt::format("value-{}", i)));
    ASSERT_OK(t.Commit());
  }
  auto t = store->Begin();
  for (int k = 0; k < 150; ++k) {
    const int last = 2000 - 150 + ((k - (2000 - 150) % 150 + 150) % 150);
    ASSERT_OK_AND_ASSIGN(auto got, t.Get(fmt::format("key{:03}", k)));
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(*got, fmt::format("value-{}", last));
  }
}

// A scan over versions spread across the memtable and many tables, with old versions pruned and
// some keys deleted: each live key once, in order, at its newest value.
TEST(TxnOnLsm, Scan_AcrossFlushesAndCompactions_EachLiveKeyOnceAtItsNewestValue) {
  auto fs = NewMemFileSystem();
  phase1::StoreOptions options;
  options.engine_factory = LsmFactory();
  ASSERT_OK_AND_ASSIGN(auto store, phase1::Store::Open(*fs, "db", options));
  std::map<std::string, std::string> model;
  for (int i = 0; i < 600; ++i) {
    auto t = store->Begin();
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
  auto t = store->Begin();
  ASSERT_OK_AND_ASSIGN(auto pairs, t.Scan("key10", "key40"));
  const std::vector<phase1::KeyValue> want(model.lower_bound("key10"), model.lower_bound("key40"));
  EXPECT_EQ(pairs, want);
  ASSERT_OK_AND_ASSIGN(pairs, t.Scan("", "", 5));
  EXPECT_EQ(pairs, std::vector<phase1::KeyValue>(model.begin(), std::next(model.begin(), 5)));
}

TEST(TxnOnLsm, Describe_NamesTheEngineAndItsState) {
  auto fs = NewMemFileSystem();
  phase1::StoreOptions options;
  options.engine_factory = LsmFactory();
  ASSERT_OK_AND_ASSIGN(auto store, phase1::Store::Open(*fs, "db", options));
  EXPECT_TRUE(store->DescribeEngine().starts_with("lsm: memtable ")) << store->DescribeEngine();
}

}  // namespace
}  // namespace kv::storage::lsm
