// The engines the shared phase 2 suites run on (engine_under_test.h). The only file of those
// suites that knows a concrete engine: a new engine is one more entry below.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/check.h"
#include "phase2_storage/btree/btree_engine.h"
#include "phase2_storage/lsm/lsm_engine.h"
#include "tests/phase2_storage/engine_under_test.h"
#include "tests/phase2_storage/lsm/small_options.h"

namespace kv::storage::testing {
namespace {

lsm::LsmEngine& AsLsm(OrderedEngine& engine) {
  auto* lsm = dynamic_cast<lsm::LsmEngine*>(&engine);
  KV_CHECK(lsm != nullptr, "an LSM entry was handed an engine its `open` did not make");
  return *lsm;
}

// The LSM tree with `options` (SmallLsmOptions or SmallTieredOptions: a 16 KiB memtable, 2 KiB
// tables, no background thread, so the suites' writes go through many flushes and compactions).
EngineUnderTest Lsm(std::string name, lsm::LsmOptions options) {
  EngineUnderTest e;
  e.name = std::move(name);
  e.limits = options.limits;
  e.open = [options](FileSystem& fs,
                     const std::string& dir) -> Result<std::unique_ptr<OrderedEngine>> {
    KV_ASSIGN_OR_RETURN(std::unique_ptr<lsm::LsmEngine> engine,
                        lsm::LsmEngine::Open(fs, dir, options));
    return std::unique_ptr<OrderedEngine>(std::move(engine));
  };
  e.check_invariants = [](OrderedEngine& engine) { return AsLsm(engine).CheckInvariants(); };
  e.maintenance = [](OrderedEngine& engine) -> Status {
    return AsLsm(engine).CompactOnce().status();
  };
  return e;
}

btree::BTreeEngine& AsBTree(OrderedEngine& engine) {
  auto* tree = dynamic_cast<btree::BTreeEngine*>(&engine);
  KV_CHECK(tree != nullptr, "a B+tree entry was handed an engine its `open` did not make");
  return *tree;
}

// The B+tree with 1 KiB pages (keys up to 300 bytes fit; a tree of a few hundred keys has three
// levels) and a 512-frame pool, so values up to 64 KiB fit one write; a checkpoint every 64 KiB
// of log. Maintenance is a checkpoint.
EngineUnderTest BTree() {
  btree::BTreeOptions options;
  options.page_size = 1024;
  options.buffer_pool_bytes = 512 * 1024;
  options.checkpoint_log_bytes = 64 * 1024;
  options.limits.max_key_bytes = 300;
  options.limits.max_value_bytes = 64 * 1024;
  EngineUnderTest e;
  e.name = "btree";
  e.limits = options.limits;
  e.open = [options](FileSystem& fs,
                     const std::string& dir) -> Result<std::unique_ptr<OrderedEngine>> {
    KV_ASSIGN_OR_RETURN(std::unique_ptr<btree::BTreeEngine> engine,
                        btree::BTreeEngine::Open(fs, dir, options));
    KV_CHECK(engine->limits().max_key_bytes == options.limits.max_key_bytes &&
                 engine->limits().max_value_bytes == options.limits.max_value_bytes,
             "the B+tree narrowed the test's limits: the entry must say what it accepts");
    return std::unique_ptr<OrderedEngine>(std::move(engine));
  };
  e.check_invariants = [](OrderedEngine& engine) { return AsBTree(engine).CheckInvariants(); };
  e.maintenance = [](OrderedEngine& engine) { return AsBTree(engine).Checkpoint(); };
  return e;
}

}  // namespace

std::vector<EngineUnderTest> EnginesUnderTest() {
  return {
      Lsm("lsm_leveled", lsm::SmallLsmOptions()),
      Lsm("lsm_tiered", lsm::SmallTieredOptions()),
      BTree(),
  };
}

}  // namespace kv::storage::testing
