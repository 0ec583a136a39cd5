// BlockCache: data blocks kept in memory up to a byte budget, least recently used out first.
//
// Every table read goes through here (table.h): a hit costs a hash lookup instead of a pread and
// a checksum. Blocks are handed out as shared_ptr, so a block evicted while an iterator still
// reads it stays alive until that iterator lets go; the budget counts only blocks the cache
// itself holds. A block is keyed by (table file number, offset in the file): file numbers are
// never reused, so a key never names two different blocks.
//
// The cache is split into 16 shards by key hash, each with its own mutex and its own share of
// the budget, so concurrent readers seldom wait for each other.
//
// Thread safety: every method may be called from many threads at once.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "phase2_storage/lsm/block.h"

namespace kv::storage::lsm {

class BlockCache {
 public:
  explicit BlockCache(std::size_t capacity_bytes);

  std::shared_ptr<const Block> Lookup(std::uint64_t file_number, std::uint64_t offset);
  // Adds a block (replacing one under the same key) and evicts least recently used blocks
  // until the shard is back under its budget. A block larger than a shard's budget is not kept.
  void Insert(std::uint64_t file_number, std::uint64_t offset, std::shared_ptr<const Block> block);
  // Drops every block of a table (after compaction deleted it), so they do not wait for eviction.
  void EraseFile(std::uint64_t file_number);

  struct Stats {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
    std::uint64_t evictions = 0;
    std::uint64_t bytes = 0;  // Charged to the cache now.
  };
  Stats stats() const;
  std::size_t capacity() const { return capacity_; }

 private:
  static constexpr int kShards = 16;
  struct Key {
    std::uint64_t file;
    std::uint64_t offset;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const;
  };
  struct Entry {
    Key key;
    std::shared_ptr<const Block> block;
  };
  struct alignas(64) Shard {
    mutable std::mutex mu;
    std::list<Entry> lru;  // Front: most recently used.
    std::unordered_map<Key, std::list<Entry>::iterator, KeyHash> index;
    std::size_t bytes = 0;
    std::uint64_t hits = 0, misses = 0, evictions = 0;
  };
  Shard& ShardFor(const Key& k);

  const std::size_t capacity_;
  const std::size_t shard_capacity_;
  Shard shards_[kShards];
};

}  // namespace kv::storage::lsm
