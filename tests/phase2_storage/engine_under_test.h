// EngineUnderTest: what the shared phase 2 suites need to know about one OrderedEngine
// implementation, so that one suite runs unchanged on every engine (LevelDB's table_test.cc runs
// one harness over every implementation in the same way).
//
// The suites that take it:
//  * engine_conformance_test.cc — the OrderedEngine contract (ordered_engine.h): a model-based
//    property against std::map, snapshots, the iterator contract, atomic batches, bad input,
//    reopen, concurrent readers and writers;
//  * engine_txn_test.cc — phase 1's transaction properties on the engine through
//    OrderedVersionedEngine.
//
// Adding an engine: one more entry in EnginesUnderTest() (engines_under_test.cc, the only file
// that knows the concrete engines) and its library in kv_engines_under_test's link list
// (tests/phase2_storage/CMakeLists.txt). Nothing else changes.
//
// Thread safety: the functions hold no state of their own; `maintenance` may run while other
// threads read and write the same engine (as a background thread of the engine would).
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "common/file_system.h"
#include "common/status.h"
#include "phase1_single_node/limits.h"
#include "phase2_storage/ordered_engine.h"

namespace kv::storage::testing {

struct EngineUnderTest {
  // The engine's name in test names: letters, digits and underscores only ("lsm_leveled").
  std::string name;
  // Opens the engine in `dir` of `fs` (creating it if missing, reopening what is there
  // otherwise), with small buffers and pages so that short tests reach its on-disk structures.
  // No background threads: flushes happen when buffers fill or Flush() is called, and other
  // background work only through `maintenance`, so a property's run depends on its seed alone.
  std::function<Result<std::unique_ptr<OrderedEngine>>(FileSystem& fs, const std::string& dir)>
      open;
  // Checks the engine's structural invariants (the LSM tree: CheckInvariants()). REQUIRES: the
  // engine was returned by `open`. The property tests call it after every step.
  std::function<Status(OrderedEngine&)> check_invariants;
  // Does one unit of the engine's background or maintenance work now, if it has any (the LSM
  // tree: one compaction if one is due; a B+tree: a checkpoint). May do nothing.
  // REQUIRES: the engine was returned by `open`.
  std::function<Status(OrderedEngine&)> maintenance;
  // The key and value limits `open` configures, so that bad-input tests know what is too big.
  phase1::Limits limits;
};

// gtest prints a test's parameter when it fails: the name is what identifies an engine.
inline void PrintTo(const EngineUnderTest& engine, std::ostream* os) { *os << engine.name; }

// Every engine the shared suites run on: the LSM tree with leveled and with size-tiered
// compaction (defined in engines_under_test.cc).
std::vector<EngineUnderTest> EnginesUnderTest();

}  // namespace kv::storage::testing
