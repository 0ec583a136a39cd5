// MemVersionedEngine: VersionedEngine on a hash table of version chains (milestone 2).
//
//   key -> [ (ts_1, value or tombstone), (ts_2, ...), ... ]   timestamps increasing
//
// Reads binary-search the chain. Memory is reclaimed by Prune/PruneAll (the transaction layer
// calls them with its low watermark). Unordered: a range scan (Scan) has to visit every key and
// sort the ones in range; phase 2's ordered engines seek to the start instead.
//
// Thread safety: as VersionedEngine requires; a shared_mutex per stripe of the table.
#pragma once

#include <array>
#include <memory>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "phase1_single_node/versioned_engine.h"

namespace kv::phase1 {

class MemVersionedEngine final : public VersionedEngine {
 public:
  MemVersionedEngine() = default;

  Result<std::optional<std::string>> Get(std::string_view key, Timestamp read_ts) const override;
  Result<Timestamp> LatestVersion(std::string_view key) const override;
  Status Apply(std::span<Write> writes, Timestamp commit_ts) override;
  void Prune(std::string_view key, Timestamp watermark) override;
  void PruneAll(Timestamp watermark) override;
  Status ForEachVisible(
      Timestamp read_ts,
      const std::function<Status(std::string_view, std::string_view)>& fn) const override;
  Status Scan(std::string_view start, std::string_view end, Timestamp read_ts, std::size_t limit,
              const std::function<Status(std::string_view, std::string_view)>& fn) const override;
  EngineStats stats() const override;

 private:
  struct Version {
    Timestamp ts;
    bool tombstone;
    std::string value;
  };
  // Invariant: non-empty, timestamps strictly increasing.
  using Chain = std::vector<Version>;
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // Lock striping: a key lives in stripe hash(key) % kStripes, so readers of different keys
  // rarely meet on one lock.
  static constexpr std::size_t kStripes = 16;
  struct Stripe {
    mutable std::shared_mutex mu;
    std::unordered_map<std::string, Chain, Hash, std::equal_to<>> map;  // GUARDED_BY(mu)
  };

  Stripe& StripeFor(std::string_view key) const;
  // Returns true if the chain became empty. REQUIRES: the stripe's lock held exclusively.
  static bool PruneChain(Chain& chain, Timestamp watermark);

  // unique_ptr: a Stripe holds a mutex and cannot move.
  std::array<std::unique_ptr<Stripe>, kStripes> stripes_ = MakeStripes();
  static std::array<std::unique_ptr<Stripe>, kStripes> MakeStripes();
};

std::unique_ptr<VersionedEngine> NewMemVersionedEngine();

}  // namespace kv::phase1
