// The snapshot-isolation property of the transaction layer, for any engine.
//
// RapidCheck generates a schedule — begin, get, put, delete, commit, abort, checkpoint, reopen —
// and the test runs it on one thread against a Store and against a reference model written here
// from the definition of snapshot isolation:
//   - the model keeps the committed history as a list of write sets, in commit order;
//   - a transaction's snapshot is the committed state when it began;
//   - Get returns the transaction's own latest write of the key, else the snapshot's value;
//   - Commit fails with kConflict iff some key it writes was written by a transaction that
//     committed after it began (first committer wins), and succeeds otherwise;
//   - after every commit, and after every reopen, a fresh transaction sees the committed state.
// Everything is single-threaded, so a run is a function of RapidCheck's seed: a failure prints
// the seed and the shrunk schedule, and RC_PARAMS="seed=<seed>" replays it (docs/testing.md).
//
// It lives apart from its test so that every engine runs the same property: phase 1 runs it
// on its hash-table engine (txn_property_test.cc), phase 2 on each ordered engine through the
// versioned adapter (tests/phase2_storage/). One suite, parameterised by the EngineFactory.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "phase1_single_node/versioned_engine.h"

namespace kv::phase1::testing {

// A set of writes: key -> value, or std::nullopt for a delete.
using Writes = std::map<std::string, std::optional<std::string>, std::less<>>;
// A committed state: only keys that are present.
using State = std::map<std::string, std::string, std::less<>>;

// The committed history, in commit order.
class History {
 public:
  // How many transactions have committed; a snapshot taken now sees exactly these.
  std::size_t size() const { return commits_.size(); }

  // The state after the first `n` commits.
  State StateAt(std::size_t n) const {
    State state;
    for (std::size_t i = 0; i < n; ++i) {
      for (const auto& [key, value] : commits_[i]) {
        if (value.has_value()) {
          state[key] = *value;
        } else {
          state.erase(key);
        }
      }
    }
    return state;
  }

  // The keys of `writes` written by a commit at index >= `since`: a transaction that began
  // when `since` commits were visible conflicts on exactly these.
  std::vector<std::string> ConflictingKeys(const Writes& writes, std::size_t since) const {
    std::vector<std::string> keys;
    for (const auto& [key, value] : writes) {
      for (std::size_t i = since; i < commits_.size(); ++i) {
        if (commits_[i].contains(key)) {
          keys.push_back(key);
          break;
        }
      }
    }
    return keys;
  }

  void Commit(Writes writes) { commits_.push_back(std::move(writes)); }

 private:
  std::vector<Writes> commits_;
};

// Runs the property once: a random schedule on a store built with `factory`, checked against
// the model. Call it inside a RapidCheck property (RC_GTEST_PROP).
void CheckSnapshotIsolation(const EngineFactory& factory);

}  // namespace kv::phase1::testing
