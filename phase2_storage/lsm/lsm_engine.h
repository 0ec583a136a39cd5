// LsmEngine: the log-structured merge tree, an OrderedEngine (phase2_storage/ordered_engine.h).
//
// How the pieces fit (docs/phase2-lsm.md tells it at length):
//  * A write takes the next sequence numbers, goes to the log (phase 1's WalWriter: group
//    commit, one segment per memtable) and into the active memtable. It becomes visible to
//    readers once the log has it (synced if the write asked for sync).
//  * When the memtable reaches `write_buffer_size` it becomes immutable, the log rotates to a new
//    segment, and a fresh memtable takes the writes. A background thread writes the immutable
//    memtable out as a level-0 table (a flush), records it in the manifest together with the
//    first log segment still needed, and deletes the older segments.
//  * The same thread compacts: it merges tables into the next level so that levels >= 1 stay
//    sorted runs of disjoint tables, and drops versions no snapshot can see and tombstones that
//    shadow nothing below.
//  * A read looks at the active memtable, the immutable one, the level-0 tables newest first,
//    then one table per deeper level; the first version at or before its snapshot wins.
// Writers stall (and count it in `stats().stalls`) only when flushes or level-0 compactions
// fall behind.
//
// Thread safety: as OrderedEngine — every method from any thread. One background thread does
// flushes and compactions.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "common/file_system.h"
#include "phase1_single_node/limits.h"
#include "phase1_single_node/wal.h"
#include "phase2_storage/lsm/block_cache.h"
#include "phase2_storage/lsm/memtable.h"
#include "phase2_storage/lsm/table_builder.h"
#include "phase2_storage/lsm/table_cache.h"
#include "phase2_storage/lsm/version_set.h"
#include "phase2_storage/ordered_engine.h"

namespace kv::storage::lsm {

struct LsmOptions {
  phase1::Limits limits;
  bool create_if_missing = true;
  std::size_t write_buffer_size = 4 << 20;  // A memtable is flushed when it holds this much.
  std::size_t max_file_size = 2 << 20;      // Compaction cuts its output tables at this size.
  std::size_t block_cache_bytes = 8 << 20;
  TableOptions table;
  // How tables are merged (docs/phase2-lsm.md, "Two ways to compact").
  enum class CompactionStyle {
    // Levels of growing size: each level >= 1 is one sorted run of disjoint tables, and a
    // compaction merges a slice of one level into the next. Reads touch few tables; every byte
    // is rewritten about level_size_ratio times on its way down.
    kLeveled,
    // Size tiers: every table is a sorted run of its own in level 0, and a compaction merges
    // runs of similar size into one bigger run. Each byte is rewritten about once per tier
    // (log base tiered_min_merge of the data's size in memtables), but a read may have to look
    // at every run, and until a merge, old versions take space.
    kSizeTiered,
  };
  CompactionStyle compaction_style = CompactionStyle::kLeveled;
  // Leveled compaction: level 0 is compacted into level 1 once it holds this many tables;
  // level n >= 1 once it holds more than LevelBaseBytes() * level_size_ratio^(n-1) bytes.
  int level0_compaction_trigger = 4;
  int level0_stop_writes_trigger = 12;  // Writers wait for compaction beyond this.
  // The target size of level 1; 0 means level0_compaction_trigger * write_buffer_size, what
  // level 0 holds when it is compacted (16 MiB with the defaults). LevelDB fixes 10 MiB; see
  // journal/2026-11-21-phase2-lsm-level-sizes.md for why level 1 follows level 0 here.
  std::uint64_t level_base_bytes = 0;
  int level_size_ratio = 10;
  // Size-tiered compaction: runs whose sizes lie within [tiered_bucket_low, tiered_bucket_high]
  // times their group's average form a tier; a tier of tiered_min_merge runs or more is merged
  // (at most tiered_max_merge at a time, smallest tier first). With more than tiered_max_runs
  // runs, the smallest tiered_min_merge are merged whatever their sizes, and writers wait
  // beyond twice that many.
  int tiered_min_merge = 4;
  int tiered_max_merge = 16;
  double tiered_bucket_low = 0.5;
  double tiered_bucket_high = 1.5;
  int tiered_max_runs = 12;
  // false: no background thread. A full memtable is flushed by the writer that finds it full (or
  // by Flush()), and compactions run only when a test calls CompactOnce(), so a test decides
  // exactly when each happens.
  bool background_work = true;

  std::uint64_t LevelBaseBytes() const {
    return level_base_bytes != 0 ? level_base_bytes
                                 : static_cast<std::uint64_t>(level0_compaction_trigger) *
                                       static_cast<std::uint64_t>(write_buffer_size);
  }
};

class LsmEngine final : public OrderedEngine {
 public:
  // Opens (or creates) the tree in `dir`: recovers the manifest, replays the log segments it
  // does not cover into a level-0 table, and starts a new log segment. A torn tail at the end of
  // the last segment is cut off (recovery_note() says so); damage elsewhere is kCorruption with
  // the file and offset.
  static Result<std::unique_ptr<LsmEngine>> Open(FileSystem& fs, std::string dir,
                                                 LsmOptions options = {});
  ~LsmEngine() override;

  std::string name() const override { return "lsm"; }
  Status Put(const WriteOptions& options, std::string_view key, std::string_view value) override;
  Status Delete(const WriteOptions& options, std::string_view key) override;
  Status Write(const WriteOptions& options, const WriteBatch& batch) override;
  Result<std::string> Get(const ReadOptions& options, std::string_view key) const override;
  std::unique_ptr<Iterator> NewIterator(const ReadOptions& options) const override;
  std::unique_ptr<Snapshot> GetSnapshot() const override;
  Status Flush() override;
  Status Sync() override;
  Status WaitForIdle() override;
  std::string DescribeState() const override;
  std::optional<std::uint64_t> BlocksRead() const override { return blocks_read_.load(); }

  struct Stats {
    std::uint64_t flushes = 0;
    std::uint64_t compactions = 0;
    std::uint64_t trivial_moves = 0;  // Compactions that only moved a table down a level.
    std::uint64_t stalls = 0;         // Writes that had to wait for background work.
    std::uint64_t flushes_during_compactions = 0;  // Flushes a compaction paused for.
    std::uint64_t bytes_flushed = 0;
    std::uint64_t bytes_compacted_in = 0;
    std::uint64_t bytes_compacted_out = 0;
    // Bytes written into each level, by flushes and compactions (trivial moves write none).
    std::array<std::uint64_t, kNumLevels> bytes_written_to_level{};
    std::uint64_t versions_dropped = 0;  // Old versions and tombstones removed by compaction.
  };
  Stats stats() const;

  // For tests: runs one compaction if one is due (true if it did); checks the version's
  // invariants and that the tables on disk are exactly the live ones.
  Result<bool> CompactOnce();
  Status CheckInvariants() const;
  std::shared_ptr<const Version> current_version() const { return versions_.current(); }
  const std::string& recovery_note() const { return recovery_note_; }

 private:
  class SnapshotImpl;
  struct Compaction;
  // What a read sees: its sequence number and the memtables and version it searches.
  struct ReadView {
    SequenceNumber sequence = 0;
    std::shared_ptr<MemTable> mem;
    std::shared_ptr<MemTable> imm;  // May be null.
    std::shared_ptr<const Version> version;
  };
  ReadView AcquireReadView(const ReadOptions& options) const;

  LsmEngine(FileSystem& fs, std::string dir, LsmOptions options);
  Status Recover();
  // Replays log segments [log_number, ...] into `mem`; returns the highest segment seen.
  Status ReplayLogs(std::uint64_t& last_segment);
  // Waits (releasing `lock`) until the active memtable has room, switching it when full.
  Status MakeRoomForWrite(std::unique_lock<std::mutex>& lock);
  // Makes the active memtable immutable and rotates the log (REQUIRES: mu_ held, imm_ null).
  Status SwitchMemtable();
  // Put, Delete and Write: validates, logs and inserts `writes` as one atomic batch.
  Status WriteRefs(const WriteOptions& options, std::span<const phase1::WriteRef> writes);
  // Writes `mem` to a new level-0 table; fills `meta` (number 0 if `mem` was empty).
  Status WriteLevel0Table(const MemTable& mem, FileMeta& meta);
  // Flushes imm_ and records it (REQUIRES: imm_ set, lock held; releases it meanwhile).
  // `level0_only`: never push the table below level 0 (a compaction is running).
  Status FlushImmutable(std::unique_lock<std::mutex>& lock, bool level0_only = false);
  // FlushImmutable in the caller's thread when there is no background thread, one at a time.
  Status FlushInline(std::unique_lock<std::mutex>& lock);
  // The level a freshly flushed table goes to: 0, or deeper when it overlaps nothing above.
  int PickLevelForFlush(const FileMeta& meta) const;
  std::unique_ptr<Compaction> PickCompaction() const;
  std::unique_ptr<Compaction> PickTieredCompaction() const;
  Status RunCompaction(Compaction& c, std::unique_lock<std::mutex>& lock);
  // Deletes tables and log segments no version and no log_number needs any more.
  void DeleteObsoleteFiles();
  void BackgroundLoop();
  bool NeedsBackgroundWork() const;  // REQUIRES: mu_ held.
  SequenceNumber OldestSnapshot() const;

  FileSystem& fs_;
  const std::string dir_;
  const LsmOptions options_;
  std::unique_ptr<FileLock> lock_file_;
  BlockCache block_cache_;
  std::atomic<std::uint64_t> blocks_read_{0};  // Data blocks read from tables (BlocksRead()).
  mutable TableCache table_cache_;
  VersionSet versions_;
  std::unique_ptr<phase1::WalWriter> wal_;
  std::string recovery_note_;

  mutable std::mutex mu_;
  std::condition_variable background_cv_;            // Work to do, or stop.
  std::condition_variable done_cv_;                  // Background work finished a step.
  std::shared_ptr<MemTable> mem_;                    // GUARDED_BY(mu_)
  std::shared_ptr<MemTable> imm_;                    // GUARDED_BY(mu_); being flushed, or null.
  std::uint64_t imm_log_end_ = 0;                    // GUARDED_BY(mu_); first segment after imm_'s.
  SequenceNumber last_sequence_ = 0;                 // GUARDED_BY(mu_); assigned to a write.
  std::atomic<SequenceNumber> visible_sequence_{0};  // Written to the log: readable.
  std::atomic<bool> has_imm_{false};                 // imm_ != nullptr, read without mu_.
  Status background_error_;                          // GUARDED_BY(mu_)
  bool background_busy_ = false;                     // GUARDED_BY(mu_)
  bool stopping_ = false;                            // GUARDED_BY(mu_)
  Stats stats_;                                      // GUARDED_BY(mu_)
  std::set<std::uint64_t> pending_outputs_;          // GUARDED_BY(mu_); tables being written.
  std::uint64_t memtable_seed_ = 0;                  // GUARDED_BY(mu_)
  // GUARDED_BY(mu_). Tables out of the current version that DeleteObsoleteFiles kept because an
  // older version still held them (an iterator reads it). Once released they are garbage until
  // the next DeleteObsoleteFiles, and CheckInvariants accepts them on disk meanwhile.
  std::set<std::uint64_t> kept_for_old_versions_;

  mutable std::mutex snapshots_mu_;
  mutable std::multiset<SequenceNumber> snapshots_;  // GUARDED_BY(snapshots_mu_)

  std::thread background_;
};

}  // namespace kv::storage::lsm
