#include "phase2_storage/lsm/block_cache.h"

namespace kv::storage::lsm {

std::size_t BlockCache::KeyHash::operator()(const Key& k) const {
  // splitmix64's finaliser over the two numbers: offsets are multiples of ~4 KiB and file
  // numbers small, so the raw values would crowd a few buckets and shards.
  std::uint64_t x = k.file * 0x9e3779b97f4a7c15ULL ^ k.offset;
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return static_cast<std::size_t>(x);
}

BlockCache::BlockCache(std::size_t capacity_bytes)
    : capacity_(capacity_bytes), shard_capacity_(capacity_bytes / kShards) {}

BlockCache::Shard& BlockCache::ShardFor(const Key& k) {
  return shards_[(KeyHash{}(k) >> 60) % kShards];
}

std::shared_ptr<const Block> BlockCache::Lookup(std::uint64_t file_number, std::uint64_t offset) {
  const Key key{file_number, offset};
  Shard& s = ShardFor(key);
  std::lock_guard lock(s.mu);
  auto it = s.index.find(key);
  if (it == s.index.end()) {
    ++s.misses;
    return nullptr;
  }
  ++s.hits;
  s.lru.splice(s.lru.begin(), s.lru, it->second);  // Now the most recently used.
  return it->second->block;
}

void BlockCache::Insert(std::uint64_t file_number, std::uint64_t offset,
                        std::shared_ptr<const Block> block) {
  const std::size_t charge = block->size();
  if (charge > shard_capacity_) return;
  const Key key{file_number, offset};
  Shard& s = ShardFor(key);
  std::lock_guard lock(s.mu);
  if (auto it = s.index.find(key); it != s.index.end()) {
    s.bytes -= it->second->block->size();
    s.lru.erase(it->second);
    s.index.erase(it);
  }
  s.lru.push_front(Entry{key, std::move(block)});
  s.index.emplace(key, s.lru.begin());
  s.bytes += charge;
  while (s.bytes > shard_capacity_) {
    const Entry& victim = s.lru.back();
    s.bytes -= victim.block->size();
    s.index.erase(victim.key);
    s.lru.pop_back();
    ++s.evictions;
  }
}

void BlockCache::EraseFile(std::uint64_t file_number) {
  for (Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    for (auto it = s.lru.begin(); it != s.lru.end();) {
      if (it->key.file == file_number) {
        s.bytes -= it->block->size();
        s.index.erase(it->key);
        it = s.lru.erase(it);
      } else {
        ++it;
      }
    }
  }
}

BlockCache::Stats BlockCache::stats() const {
  Stats out;
  for (const Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    out.hits += s.hits;
    out.misses += s.misses;
    out.evictions += s.evictions;
    out.bytes += s.bytes;
  }
  return out;
}

}  // namespace kv::storage::lsm
