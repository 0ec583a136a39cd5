// HashStore: milestone 1 — an in-memory hash table with get/put/delete.
//
// The simplest store that obeys the course's rules on input: keys and values are checked against
// Limits, and a rejected write changes nothing. It has no transactions and no durability; those
// are milestones 2 and 3 (Store, in store.h), which keep the same limits and the same behaviour
// for single operations.
//
// Thread safety: every method may be called from many threads at once (one shared_mutex:
// readers share it, writers take it alone).
#pragma once

#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"
#include "phase1_single_node/limits.h"

namespace kv::phase1 {

class HashStore {
 public:
  explicit HashStore(Limits limits = {}) : limits_(limits) {}

  // The value of `key`, or kNotFound. kInvalidArgument for an empty or oversized key.
  Result<std::string> Get(std::string_view key) const;
  // Sets `key` to `value`. kInvalidArgument (and no change) for a bad key or value.
  Status Put(std::string_view key, std::string_view value);
  // Removes `key`; OK whether or not it was present. kInvalidArgument for a bad key.
  Status Delete(std::string_view key);

  std::size_t size() const;

 private:
  // Lets find() take a string_view without building a std::string (C++20 heterogeneous lookup).
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  const Limits limits_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, std::string, Hash, std::equal_to<>> map_;  // GUARDED_BY(mu_)
};

}  // namespace kv::phase1
