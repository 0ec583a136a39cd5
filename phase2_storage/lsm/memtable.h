// MemTable: the in-memory, sorted buffer where the LSM tree takes its writes.
//
// Writes go to the active memtable (after its log, see lsm_db.h). When it reaches the write
// buffer size it becomes immutable, a fresh one takes the writes, and a background thread writes
// the immutable one out as an SSTable (a flush). Reads look at the active memtable, then the
// immutable ones, then the tables, newest first.
//
// Entries are internal keys (internal_key.h) with their values, kept in a skip list whose nodes
// live in an arena: nothing is freed until the whole memtable is dropped, which is what makes
// lock-free readers safe. Each entry is one arena allocation:
//
//   entry := internal_key_length:varint32 internal_key value_length:varint32 value
//
// Thread safety: Add needs external synchronisation (the engine's single writer); Get, iterators
// and MemoryUsage may run in any number of threads concurrently with it. Share a memtable through
// shared_ptr: readers keep it alive after it has been flushed and dropped by the engine.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "phase2_storage/lsm/arena.h"
#include "phase2_storage/lsm/internal_key.h"
#include "phase2_storage/lsm/skiplist.h"
#include "phase2_storage/lsm/table.h"
#include "phase2_storage/ordered_engine.h"

namespace kv::storage::lsm {

class MemTable {
 public:
  explicit MemTable(std::uint64_t seed = 0);
  MemTable(const MemTable&) = delete;
  MemTable& operator=(const MemTable&) = delete;

  // Adds a version. REQUIRES: external synchronisation with other Adds; (user_key, sequence) is
  // new (sequence numbers are never reused).
  void Add(SequenceNumber sequence, EntryKind kind, std::string_view user_key,
           std::string_view value);

  // The newest version of lookup.user_key() at or before the lookup's sequence, if any.
  std::optional<TableEntry> Get(const LookupKey& lookup) const;

  // An iterator over internal keys; its key() and value() point into the arena and stay valid
  // while the memtable lives (the iterator holds no reference: keep the shared_ptr).
  std::unique_ptr<Iterator> NewIterator() const;

  // Bytes of the arena (entries plus skip-list nodes): what the write buffer size is checked
  // against.
  std::size_t MemoryUsage() const { return arena_.MemoryUsage(); }
  std::uint64_t entries() const { return entries_.load(std::memory_order_relaxed); }
  bool empty() const { return entries() == 0; }

 private:
  // Orders arena entries by their internal keys.
  struct EntryComparator {
    int operator()(const char* a, const char* b) const;
  };
  using Table = SkipList<const char*, EntryComparator>;
  friend class MemTableIterator;

  Arena arena_;
  Table table_;
  std::atomic<std::uint64_t> entries_{0};
};

}  // namespace kv::storage::lsm
