// OrderedVersionedEngine: phase 1's VersionedEngine (the interface its transaction layer is
// written against) on top of any OrderedEngine — the LSM tree or the B+tree.
//
// Each version of a key is one entry of the ordered engine: its key is the versioned key
// (versioned_key.h: the escaped user key, then the inverted commit timestamp, so versions come
// newest first) and its value a one-byte tag, 'v' followed by the value or 'd' for a tombstone.
// "The newest version at or before t" is then one Seek and one look at the entry it lands on,
// and a range scan is one Seek to the start and a walk in key order.
// Garbage collection (Prune) deletes the versions no reader at or after the watermark can see;
// the ordered engine reclaims their space as it usually does (compaction, page merges).
//
// Durability: the transaction layer keeps its own log and checkpoints and rebuilds the engine
// from them at open (Store::Open takes a factory for a fresh engine), so writes here are not
// synced. What this adapter buys is room: versions live in the engine's files, not in memory.
//
// Thread safety: as VersionedEngine requires — every method from many threads, Apply calls
// never overlapping (the transaction layer guarantees that).
#pragma once

#include <memory>

#include "phase1_single_node/versioned_engine.h"
#include "phase2_storage/ordered_engine.h"

namespace kv::storage {

class OrderedVersionedEngine final : public phase1::VersionedEngine {
 public:
  explicit OrderedVersionedEngine(std::unique_ptr<OrderedEngine> engine)
      : engine_(std::move(engine)) {}

  Result<std::optional<std::string>> Get(std::string_view key,
                                         phase1::Timestamp read_ts) const override;
  Result<phase1::Timestamp> LatestVersion(std::string_view key) const override;
  Status Apply(std::span<phase1::Write> writes, phase1::Timestamp commit_ts) override;
  void Prune(std::string_view key, phase1::Timestamp watermark) override;
  void PruneAll(phase1::Timestamp watermark) override;
  Status ForEachVisible(
      phase1::Timestamp read_ts,
      const std::function<Status(std::string_view key, std::string_view value)>& fn) const override;
  Status Scan(
      std::string_view start, std::string_view end, phase1::Timestamp read_ts, std::size_t limit,
      const std::function<Status(std::string_view key, std::string_view value)>& fn) const override;
  phase1::EngineStats stats() const override;
  // "<engine name>: <the engine's DescribeState()>".
  std::string Describe() const override;

  OrderedEngine& engine() { return *engine_; }

 private:
  std::unique_ptr<OrderedEngine> engine_;
};

}  // namespace kv::storage
