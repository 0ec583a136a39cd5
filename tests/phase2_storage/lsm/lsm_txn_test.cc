// Phase 1's transaction layer on the LSM tree: what is particular to it. The properties every
// engine runs under the transaction layer are in tests/phase2_storage/engine_txn_test.cc.
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "common/mem_file_system.h"
#include "common/testing/status_matchers.h"
#include "phase1_single_node/store.h"
#include "phase2_storage/lsm/lsm_engine.h"
#include "phase2_storage/ordered_versioned_engine.h"
#include "tests/phase2_storage/lsm/small_options.h"

namespace kv::storage::lsm {
namespace {

TEST(TxnOnLsm, Describe_NamesTheEngineAndItsState) {
  auto fs = NewMemFileSystem();
  phase1::StoreOptions options;
  options.engine_factory = [&fs]() -> std::unique_ptr<phase1::VersionedEngine> {
    return std::make_unique<OrderedVersionedEngine>(
        LsmEngine::Open(*fs, "lsm", SmallLsmOptions()).value());
  };
  ASSERT_OK_AND_ASSIGN(auto store, phase1::Store::Open(*fs, "db", options));
  EXPECT_TRUE(store->DescribeEngine().starts_with("lsm: memtable ")) << store->DescribeEngine();
}

}  // namespace
}  // namespace kv::storage::lsm
