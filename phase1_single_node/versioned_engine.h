// VersionedEngine: the storage interface the transaction layer (Store) is written against.
//
// An engine keeps, for every key, a chain of versions stamped with the commit timestamp of the
// transaction that wrote them; a version is a value or a tombstone. The transaction layer owns
// timestamps, conflicts, the log and visibility; the engine only stores versions and answers
// "what was the newest version at or before timestamp t". Phase 1 implements it with a hash table
// (MemVersionedEngine); phase 2 implements it on ordered, persistent engines (LSM tree, B+tree)
// by encoding (key, timestamp) into their keys. Store and its tests run unchanged on each.
//
// Thread safety: implementations must allow every method from many threads at once, with one
// restriction the transaction layer guarantees: Apply calls never overlap each other. Prune and
// PruneAll may run concurrently with Apply, with each other and with readers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"

namespace kv::phase1 {

// Commit timestamps are positive and strictly increase in commit order; 0 means "before
// everything" (no version has timestamp 0).
using Timestamp = std::uint64_t;

// One write of a transaction: a value, or a delete when `value` is empty (std::nullopt).
struct Write {
  std::string key;
  std::optional<std::string> value;
  friend bool operator==(const Write&, const Write&) = default;
};

struct EngineStats {
  std::size_t keys = 0;        // Keys with at least one version (tombstones included).
  std::size_t versions = 0;    // Versions held, over all keys.
  std::size_t live_bytes = 0;  // Key + value bytes of all versions held.
};

class VersionedEngine {
 public:
  virtual ~VersionedEngine() = default;

  // The value of the newest version of `key` with timestamp <= `read_ts`; std::nullopt if there
  // is none or it is a tombstone.
  virtual Result<std::optional<std::string>> Get(std::string_view key, Timestamp read_ts) const = 0;
  // The timestamp of the newest version of `key` (any timestamp), or 0 if it has none. The
  // transaction layer's write-write conflict check.
  virtual Result<Timestamp> LatestVersion(std::string_view key) const = 0;
  // Adds one version per write, all stamped `commit_ts`. May move the values out of `writes`
  // (recovery applies millions; a copy each doubled its cost); the keys are left intact.
  // REQUIRES: commit_ts is at least every timestamp applied before, and no key gets two versions
  // with one timestamp. (Commits have increasing timestamps; recovery applies a checkpoint in
  // chunks that all carry the checkpoint's timestamp, each key once.)
  virtual Status Apply(std::span<Write> writes, Timestamp commit_ts) = 0;
  // Garbage collection: drops the versions of `key` that no reader at a timestamp >= `watermark`
  // can see (all but the newest one <= watermark; that one too if it is a tombstone).
  virtual void Prune(std::string_view key, Timestamp watermark) = 0;
  // Prune() for every key.
  virtual void PruneAll(Timestamp watermark) = 0;
  // Calls `fn(key, value)` for every key with a value visible at `read_ts`, in no particular
  // order; stops early and returns its error if `fn` fails. Used by checkpoints.
  virtual Status ForEachVisible(
      Timestamp read_ts,
      const std::function<Status(std::string_view key, std::string_view value)>& fn) const = 0;
  // Calls `fn(key, value)` for the keys in [start, end) with a value visible at `read_ts`, in
  // ascending byte order (memcmp's, as std::string compares), at most `limit` of them (0: no
  // limit). An empty `start` means from the first key, an empty `end` means no upper bound (no
  // key is empty, so neither is ambiguous). Stops early and returns its error if `fn` fails.
  // A bounded range with start >= end is empty. The views passed to `fn` are valid only during
  // the call.
  virtual Status Scan(
      std::string_view start, std::string_view end, Timestamp read_ts, std::size_t limit,
      const std::function<Status(std::string_view key, std::string_view value)>& fn) const = 0;
  virtual EngineStats stats() const = 0;
  // A human-readable account of the engine's own state (levels, caches, ...) for the kv
  // command's STATS; empty if the engine has nothing to add to stats().
  virtual std::string Describe() const { return {}; }
};

// Builds a fresh, empty engine. Store::Open takes one so tests can run on every engine. It
// returns nullptr if it cannot (a persistent engine whose directory cannot be opened); Store::Open
// then fails with kAborted, and the factory's owner knows, and reports, the reason.
using EngineFactory = std::function<std::unique_ptr<VersionedEngine>()>;

}  // namespace kv::phase1
