// The engines the shared phase 2 suites run on (engine_under_test.h). The only file of those
// suites that knows a concrete engine: a new engine is one more entry below.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/check.h"
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

}  // namespace

std::vector<EngineUnderTest> EnginesUnderTest() {
  return {
      Lsm("lsm_leveled", lsm::SmallLsmOptions()),
      Lsm("lsm_tiered", lsm::SmallTieredOptions()),
  };
}

}  // namespace kv::storage::testing
