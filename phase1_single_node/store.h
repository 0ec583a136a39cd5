// Store: the single-node transactional key-value store (milestones 2 and 3).
//
// The plan's API, with TxnId handles:
//   TxnId t = store.BeginTransaction();
//   store.Get(t, key) / store.Put(t, key, value) / store.Delete(t, key)
//   store.Scan(t, start, end, limit)   -> the pairs in [start, end), in key order
//   store.Commit(t)  -> OK (committed) | kConflict (aborted: the message names the key) | ...
//   store.Abort(t)
// and, for C++ users, Transaction: an RAII handle from store.Begin() that aborts if dropped
// uncommitted.
//
// Isolation: snapshot isolation by multi-version concurrency control. A transaction reads the
// snapshot of its start timestamp plus its own writes; its writes are buffered until commit; at
// commit, if another transaction committed a write to one of its keys after its snapshot, it
// aborts with kConflict (first committer wins). Reads are recorded in a read set (phase 4 builds
// serializable isolation on it); SI allows write skew, and the tests show it. A scan records the
// keys it returned, not the range it covered: phantoms are not tracked yet (Scan says more).
//
// Durability: a commit is logged to the write-ahead log (wal.h) with group commit, and becomes
// visible to new transactions only once it is as durable as the SyncPolicy says, in commit order.
// If writing or syncing the log fails, the commits waiting on it fail and the store refuses every
// later commit (kAborted, naming the first error) until it is reopened; it never retries and
// then acknowledges.
//
// Recovery: Open() loads the newest checkpoint and replays the log after it (checkpoint.h,
// wal.h). A torn tail at the end of the log is truncated and reported in recovery_report();
// damage anywhere else is kCorruption naming the file and offset, and Open() fails rather than
// drop committed data, unless StoreOptions::repair is set.
//
// Garbage collection: versions that no active transaction can see (older than the low watermark,
// the oldest active snapshot) are pruned as keys are written and at every checkpoint.
//
// Thread safety: every method may be called from many threads at once. One TxnId may be used
// from several threads, but its operations are then serialized.
// REQUIRES at destruction: no Transaction handle of this store is alive.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/file_system.h"
#include "common/status.h"
#include "phase1_single_node/checkpoint.h"
#include "phase1_single_node/limits.h"
#include "phase1_single_node/versioned_engine.h"
#include "phase1_single_node/wal.h"

namespace kv::phase1 {

struct StoreOptions {
  Limits limits;
  SyncPolicy sync = SyncPolicy::kAlways;
  std::uint64_t sync_interval_micros = 100'000;  // For SyncPolicy::kPeriodic.
  // The log reserves room ahead in this many zero bytes at a time (0: it only appends), so
  // that a commit's fdatasync rarely has to write a new file size (WalWriter::Create). Durable
  // commits at 32 committers: 60-68 k/s appending, 74-94 k/s reserving (journal,
  // 2026-11-21-phase1-preallocated-log.md).
  std::uint64_t wal_reserve_bytes = 1 << 20;
  // Open a damaged log by truncating it at the first damage (the report says what was lost).
  bool repair = false;
  // The engine under the transaction layer; a MemVersionedEngine if empty.
  EngineFactory engine_factory;
  // Recovery hands the checkpoint to the engine in chunks (one Apply each) of at most 4096
  // entries, and closes a chunk once its keys and values reach this many bytes. That bounds the
  // memory recovery needs, and the size of one Apply: an engine that takes a batch in one
  // bounded write (the B+tree's write must fit in its buffer pool) sets it below its bound.
  std::size_t recovery_chunk_bytes = 4 << 20;
};

// What Open() found and did.
struct RecoveryReport {
  std::string checkpoint_file;  // Empty if there was none.
  CheckpointInfo checkpoint;
  WalReplayReport wal;
  std::vector<std::string> removed_files;  // Leftover temporaries and covered segments.
  // One line for a human, e.g. "checkpoint checkpoint-000003.ckpt (120 keys @ts 57); replayed
  // 12 transactions from 1 segment; truncated torn tail of 31 bytes in wal-000003.log".
  std::string Summary() const;
};

struct StoreStats {
  Timestamp visible_ts = 0;  // Newest commit visible to new transactions.
  std::uint64_t active_transactions = 0;
  std::uint64_t commits = 0;
  std::uint64_t conflicts = 0;
  std::uint64_t aborts = 0;
  std::uint64_t wal_syncs = 0;
  std::uint64_t wal_segment = 0;
  std::uint64_t checkpoints = 0;
  EngineStats engine;
  Status error;  // The error that stopped writes, or OK.
};

// A key and its value, as Scan returns them.
using KeyValue = std::pair<std::string, std::string>;

class Transaction;

class Store {
 public:
  // Opens the store in `dir` (created if missing), recovering it from its checkpoint and log.
  // kBusy if another Store has it open. `fs` must outlive the store.
  static Result<std::unique_ptr<Store>> Open(FileSystem& fs, std::string dir,
                                             StoreOptions options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  TxnId BeginTransaction();
  // The value of `key` in the transaction's snapshot (or its own write); nullopt if absent.
  // kInvalidArgument for a bad key or an unknown transaction.
  Result<std::optional<std::string>> Get(TxnId txn, std::string_view key);
  // kInvalidArgument (and no change to the transaction) for a bad key or value.
  Status Put(TxnId txn, std::string_view key, std::string_view value);
  Status Delete(TxnId txn, std::string_view key);
  // The pairs with keys in [start, end) that the transaction sees: its snapshot merged with its
  // own writes (its puts appear with their values, its deletes hide keys), in ascending byte
  // order, at most `limit` of them (0: no limit). An empty `start` means from the first key, an
  // empty `end` means no upper bound; start == end is an empty range. kInvalidArgument for a
  // non-empty bound that is not a valid key, for start > end (bounded), or an unknown transaction.
  // The keys returned from the snapshot join the read set, as a Get's do (keys the transaction
  // wrote itself do not: their value does not come from the snapshot). Phantoms are not tracked:
  // the read set names the keys the scan saw, not the range it covered, so a key another
  // transaction later inserts into [start, end) is seen by no conflict check. Phase 4 has to
  // record the range itself for serializable isolation.
  Result<std::vector<KeyValue>> Scan(TxnId txn, std::string_view start, std::string_view end,
                                     std::size_t limit = 0);
  // Ends the transaction. OK: committed and as durable as the sync policy says. kConflict: aborted
  // because another transaction committed to a key it writes after its snapshot. kIOError or
  // kNoSpace: the log failed (the store then refuses writes). kAborted: the store had already
  // stopped taking writes. kInvalidArgument: unknown transaction.
  Status Commit(TxnId txn);
  // Ends the transaction, discarding its writes. kInvalidArgument if unknown.
  Status Abort(TxnId txn);
  // The keys the transaction has read (for phase 4's serializable isolation, and for tests).
  Result<std::vector<std::string>> ReadSet(TxnId txn) const;

  Transaction Begin();

  // Writes a checkpoint while transactions keep running, then deletes the log segments and
  // older checkpoints it covers.
  Status Checkpoint();

  StoreStats stats() const;
  // The engine's own account of its state (VersionedEngine::Describe: levels, caches, ...);
  // empty for an engine with nothing to add, such as the in-memory one.
  std::string DescribeEngine() const { return engine_->Describe(); }
  const RecoveryReport& recovery_report() const { return recovery_; }
  const Limits& limits() const { return options_.limits; }

 private:
  struct Txn {
    std::mutex mu;
    Timestamp start_ts = 0;
    std::map<std::string, std::optional<std::string>, std::less<>> writes;  // GUARDED_BY(mu)
    std::set<std::string, std::less<>> reads;                               // GUARDED_BY(mu)
  };

  Store(FileSystem& fs, std::string dir, StoreOptions options);
  Status Recover();
  Result<std::shared_ptr<Txn>> Find(TxnId txn) const;
  // Removes the transaction from the table, so no other call can use it. Its snapshot stays
  // registered (holding back garbage collection) until ReleaseSnapshot().
  Result<std::shared_ptr<Txn>> Take(TxnId txn);
  // Unregisters a snapshot; returns the watermark right after (one lock for both).
  Timestamp ReleaseSnapshot(Timestamp start_ts);
  // The oldest timestamp any reader may still read at. REQUIRES: snapshots_mu_ held.
  Timestamp WatermarkLocked() const;
  Timestamp Watermark() const;
  // Deletes the segments and checkpoints numbered below `first_segment`; returns their names.
  Result<std::vector<std::string>> RemoveCoveredFiles(std::uint64_t first_segment);

  FileSystem& fs_;
  const std::string dir_;
  const StoreOptions options_;
  std::unique_ptr<FileLock> lock_;
  std::unique_ptr<VersionedEngine> engine_;
  std::unique_ptr<WalWriter> wal_;
  RecoveryReport recovery_;

  // Active transactions, striped by id so that concurrent transactions rarely share a lock:
  // every Get, Put and Delete looks its transaction up here.
  static constexpr std::size_t kTxnStripes = 16;
  struct TxnStripe {
    mutable std::mutex mu;
    std::unordered_map<TxnId, std::shared_ptr<Txn>> txns;  // GUARDED_BY(mu)
  };
  TxnStripe& StripeOf(TxnId txn) const { return txn_stripes_[txn % kTxnStripes]; }
  mutable std::array<TxnStripe, kTxnStripes> txn_stripes_;
  std::atomic<TxnId> next_txn_id_{1};

  mutable std::mutex snapshots_mu_;
  // Start timestamps of active transactions and of checkpoints in progress.
  std::multiset<Timestamp> snapshots_;  // GUARDED_BY(snapshots_mu_)

  // Serializes conflict checks, timestamp assignment and the order of the log.
  std::mutex commit_mu_;
  Timestamp last_assigned_ts_ = 0;  // GUARDED_BY(commit_mu_)
  // Commits up to here are durable (per policy) and visible. Written under the log's lock.
  std::atomic<Timestamp> visible_ts_{0};

  std::mutex checkpoint_mu_;  // One checkpoint at a time.
  std::atomic<std::uint64_t> commits_{0}, conflicts_{0}, aborts_{0}, checkpoints_{0};
};

// An RAII transaction: aborts in its destructor unless committed or aborted. Move-only.
class Transaction {
 public:
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&& other) noexcept;
  ~Transaction();

  TxnId id() const { return id_; }
  bool active() const { return store_ != nullptr; }

  Result<std::optional<std::string>> Get(std::string_view key) { return store_->Get(id_, key); }
  Status Put(std::string_view key, std::string_view value) { return store_->Put(id_, key, value); }
  Status Delete(std::string_view key) { return store_->Delete(id_, key); }
  Result<std::vector<KeyValue>> Scan(std::string_view start, std::string_view end,
                                     std::size_t limit = 0) {
    return store_->Scan(id_, start, end, limit);
  }
  // Ends the transaction whatever the outcome. REQUIRES: active().
  Status Commit();
  void Abort();

 private:
  friend class Store;
  Transaction(Store* store, TxnId id) : store_(store), id_(id) {}
  Store* store_;  // Not owned; null once ended.
  TxnId id_;
};

}  // namespace kv::phase1
