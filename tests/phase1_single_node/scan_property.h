// The range-scan property of the transaction layer, for any engine.
//
// RapidCheck generates a schedule — begin, put, delete, commit, abort, scan, checkpoint, reopen —
// over a few transactions and a handful of keys chosen to be awkward for an ordered encoding
// (prefixes of each other, 0x00 and 0xff bytes), and runs it against a Store and a model:
//   - the committed history (History, from snapshot_isolation_property.h) and, per transaction,
//     its snapshot and its buffered writes;
//   - Scan(start, end, limit) must return the snapshot's pairs overlaid with the transaction's
//     own writes (puts replace or add, deletes remove), restricted to [start, end) (an empty
//     bound is open), in ascending byte order, the first `limit` of them (0: all);
//   - start > end (both given) is kInvalidArgument and changes nothing;
//   - afterwards the read set is exactly the keys the transaction has been handed from its
//     snapshot (not its own writes, not keys cut off by the limit).
// Commits are checked against first-committer-wins as in the snapshot-isolation property, so
// that the history stays exact. Single-threaded: a run is a function of RapidCheck's seed, and
// RC_PARAMS="seed=<seed>" replays a failure.
//
// Phase 1 runs it on the hash-table engine (store_scan_test.cc), phase 2 on every ordered engine
// through the versioned adapter (tests/phase2_storage/engine_txn_test.cc).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "phase1_single_node/store.h"
#include "phase1_single_node/versioned_engine.h"
#include "tests/phase1_single_node/snapshot_isolation_property.h"

namespace kv::phase1::testing {

// What a scan of [start, end) with `limit` must return for a transaction whose snapshot is
// `snapshot` and whose own writes are `writes`. Empty bounds are open; limit 0 is no limit.
std::vector<KeyValue> ExpectedScan(const State& snapshot, const Writes& writes,
                                   std::string_view start, std::string_view end, std::size_t limit);

// Runs the property once on a store built with `factory`. Call it inside RC_GTEST_PROP.
void CheckScansAgainstModel(const EngineFactory& factory);

}  // namespace kv::phase1::testing
