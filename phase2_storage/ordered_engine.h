// OrderedEngine: the interface every persistent engine of phase 2 implements (the LSM tree in
// lsm/, the B+tree in btree/), and that the phase 1 transaction layer is put on.
//
// An ordered engine maps byte-string keys to byte-string values and keeps them sorted by key
// (bytewise, as memcmp orders them: a prefix sorts first). Besides get/put/delete it offers:
//  * atomic write batches: all of a batch's writes become visible, and survive a crash,
//    together or not at all;
//  * iterators with LevelDB's contract (below), for range scans in key order;
//  * snapshots: a read at a snapshot sees the engine exactly as it was when the snapshot was
//    taken, whatever is written later;
//  * Flush (write what is in memory to the engine's files) and Sync (make every acknowledged
//    write durable, whatever the write options said).
//
// Durability: a write with WriteOptions::sync survives a power cut once it returns OK, and so
// does every write acknowledged before it. Without sync it survives a crash of the process but
// may be lost with the machine. A write that returned an error may or may not have happened;
// after an I/O error the engine refuses further writes until it is reopened.
//
// Thread safety: every method may be called from many threads at once. An Iterator and a
// Snapshot are used by one thread at a time, and must be destroyed before their engine.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace kv::storage {

// An ordered sequence of puts and deletes applied atomically by OrderedEngine::Write. Later
// entries for the same key win over earlier ones.
class WriteBatch {
 public:
  enum class Op : std::uint8_t { kPut, kDelete };
  struct Entry {
    Op op;
    std::string key;
    std::string value;  // Empty for kDelete.
  };

  void Put(std::string_view key, std::string_view value) {
    bytes_ += key.size() + value.size();
    entries_.push_back(Entry{Op::kPut, std::string(key), std::string(value)});
  }
  void Delete(std::string_view key) {
    bytes_ += key.size();
    entries_.push_back(Entry{Op::kDelete, std::string(key), {}});
  }
  void Clear() {
    entries_.clear();
    bytes_ = 0;
  }

  const std::vector<Entry>& entries() const { return entries_; }
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  // Key + value bytes of all entries: what "user bytes written" means in write amplification.
  std::uint64_t bytes() const { return bytes_; }

 private:
  std::vector<Entry> entries_;
  std::uint64_t bytes_ = 0;
};

// A position in a sorted sequence of (key, value) entries. LevelDB's contract:
//  * A new iterator is not Valid(); position it with Seek or SeekToFirst.
//  * Seek(target) moves to the first entry with key >= target; SeekToFirst to the first entry.
//    Either leaves the iterator not Valid() if there is no such entry.
//  * Next() moves to the following entry. REQUIRES: Valid().
//  * key() and value() return the current entry; the bytes stay valid until the iterator is
//    moved or destroyed. REQUIRES: Valid().
//  * status() is OK unless something went wrong (a corrupt block, a failed read); an iterator
//    that hits an error becomes not Valid() and says why in status(). So a loop
//    `for (it->SeekToFirst(); it->Valid(); it->Next())` must check status() afterwards, or it
//    cannot tell "no more entries" from "the rest could not be read".
// An engine's iterator reads a consistent snapshot: the one in ReadOptions, or the engine's
// state when the iterator was created.
class Iterator {
 public:
  virtual ~Iterator() = default;
  virtual bool Valid() const = 0;
  virtual void SeekToFirst() = 0;
  virtual void Seek(std::string_view target) = 0;
  virtual void Next() = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  virtual Status status() const = 0;
};

// A consistent read point. Obtained from OrderedEngine::GetSnapshot; released by destroying it.
// While it lives, the engine keeps every version a read at it needs.
class Snapshot {
 public:
  virtual ~Snapshot() = default;
};

struct ReadOptions {
  const Snapshot* snapshot = nullptr;  // nullptr: read the newest state.
  bool verify_checksums = true;        // Checked on every block read from a file.
  bool fill_cache = true;              // false for a full scan, so it does not evict hot blocks.
};

struct WriteOptions {
  bool sync = false;  // Durable against a power cut before returning.
};

class OrderedEngine {
 public:
  virtual ~OrderedEngine() = default;

  // The engine's name for reports and errors ("lsm", "btree").
  virtual std::string name() const = 0;

  // Each returns kInvalidArgument, changing nothing, for an empty key or a key or value over the
  // engine's limits.
  virtual Status Put(const WriteOptions& options, std::string_view key, std::string_view value) = 0;
  virtual Status Delete(const WriteOptions& options, std::string_view key) = 0;
  // Applies the whole batch atomically; an invalid entry rejects the whole batch.
  virtual Status Write(const WriteOptions& options, const WriteBatch& batch) = 0;

  // The value of `key`; kNotFound if it has none. kCorruption, naming file and offset, if the
  // bytes that hold it fail their checksum: never a wrong value.
  virtual Result<std::string> Get(const ReadOptions& options, std::string_view key) const = 0;
  virtual std::unique_ptr<Iterator> NewIterator(const ReadOptions& options) const = 0;
  virtual std::unique_ptr<Snapshot> GetSnapshot() const = 0;

  // Writes what is buffered in memory to the engine's files and waits until it is there.
  virtual Status Flush() = 0;
  // Makes every write acknowledged so far durable.
  virtual Status Sync() = 0;
  // Waits until background work (flushes, compactions) is idle; benchmarks call it before they
  // measure amplification.
  virtual Status WaitForIdle() = 0;

  // A human-readable account of the engine's state (the kv command's STATS).
  virtual std::string DescribeState() const = 0;

  // How many units of storage (an SSTable's data blocks, a B+tree's pages) reads and background
  // work have taken from the engine's files so far, from the disk or the OS's page cache; the
  // benchmark divides the growth over a read workload by its operations to get the read
  // amplification. nullopt: the engine does not count (phase 1's in-memory table).
  virtual std::optional<std::uint64_t> BlocksRead() const { return std::nullopt; }
};

}  // namespace kv::storage
