// BTreeEngine: a page-based B+tree with a buffer pool and a redo log, an OrderedEngine
// (phase2_storage/ordered_engine.h). docs/phase2-btree.md tells the design at length.
//
// Files in the tree's directory:
//   pages.db          the page file: page 0 is the meta page (root, page count, free list),
//                     every other page a leaf, internal, overflow or free page (page.h)
//   wal-NNNNNN.log    redo log segments (redo.h records in phase 1's framing and group commit)
//   LOCK
//
// Writes. One writer at a time (writer_mu_) changes pages in the buffer pool: it keeps each
// changed page pinned, with a copy of it as it was before the write. When the write
// is done, one log record describes every page it changed (a full image the first time a page
// changes after a checkpoint, a byte diff after that) and stamps them with the record's LSN.
// A page may be written back to the file at any time after that, but only once the log is
// durable up to its LSN (the write-ahead rule, enforced by the buffer pool). A write that fails
// half way is rolled back from the before-images: nothing of it stays in memory or the log.
//
// Checkpoints. When the log since the last checkpoint passes checkpoint_log_bytes (and on
// Flush and on close): log a change to the meta page, sync the log, write every dirty page,
// sync the page file, start a new log segment and delete the older ones.
//
// Recovery. Replay every log segment in order: an image replaces its page, a diff patches it if
// the page is older than the record. Every page changed since the last completed checkpoint has
// a full image in the log before any diff of it, so a page torn by the crash is rebuilt from the
// log; every other page was synced by that checkpoint. Then a checkpoint.
//
// Reads. Readers never wait for a write to finish, and a write never waits for readers: each
// read runs at an epoch (the state after some number of writes). A writer that is about to
// change a page first gives its before-image to every live epoch that has none for that page,
// so an epoch sees each page either as saved for it or, if it has not changed since, in the
// buffer pool. Snapshots and iterators hold an epoch; a Get takes one for its duration. This
// is multiversioning at page granularity with one writer, as LMDB does with copy-on-write
// pages; here the old versions live in memory only while someone can read them.
//
// Thread safety: as OrderedEngine — every method from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/file_system.h"
#include "phase1_single_node/limits.h"
#include "phase1_single_node/wal.h"
#include "phase2_storage/btree/buffer_pool.h"
#include "phase2_storage/btree/page.h"
#include "phase2_storage/ordered_engine.h"

namespace kv::storage::btree {

struct BTreeOptions {
  // Keys and values are further limited by the page size: a key must fit a third of a page (1345
  // bytes with 4 KiB pages), and one write can change at most about half the buffer pool's
  // frames, which bounds a value; limits() says what the open tree accepts.
  phase1::Limits limits;
  bool create_if_missing = true;
  std::size_t page_size = 4096;             // A power of two, 1 KiB to 32 KiB; fixed at creation.
  std::size_t buffer_pool_bytes = 8 << 20;  // At least 64 pages.
  // Recovery replays at most about this much log. Each checkpoint costs a sync of every dirty
  // page and then a full image of each page at its next change (btree_engine.h, Checkpoints).
  std::uint64_t checkpoint_log_bytes = 256 << 20;
};

class BTreeEngine final : public OrderedEngine {
 public:
  // Opens (or creates) the tree in `dir` and recovers it from its log. A torn tail at the end of
  // the last log segment is cut off (recovery_note() says so); damage elsewhere is kCorruption
  // naming the file and offset (a page: its number).
  static Result<std::unique_ptr<BTreeEngine>> Open(FileSystem& fs, std::string dir,
                                                   BTreeOptions options = {});
  // Checkpoints (unless the tree is in its error state) and closes.
  ~BTreeEngine() override;
  // The limits a tree opened with `options` enforces (see BTreeOptions::limits), without opening
  // one; kInvalidArgument for options Open refuses (page size, pool size).
  static Result<phase1::Limits> LimitsFor(const BTreeOptions& options);

  std::string name() const override { return "btree"; }
  Status Put(const WriteOptions& options, std::string_view key, std::string_view value) override;
  Status Delete(const WriteOptions& options, std::string_view key) override;
  Status Write(const WriteOptions& options, const WriteBatch& batch) override;
  Result<std::string> Get(const ReadOptions& options, std::string_view key) const override;
  std::unique_ptr<Iterator> NewIterator(const ReadOptions& options) const override;
  std::unique_ptr<Snapshot> GetSnapshot() const override;
  // A checkpoint: afterwards the page file alone holds every write.
  Status Flush() override;
  Status Sync() override;
  Status WaitForIdle() override { return Status::Ok(); }  // No background work.
  std::string DescribeState() const override;
  // Pages read from the page file: the pool's misses and the leaves copied around it.
  std::optional<std::uint64_t> BlocksRead() const override;

  Status Checkpoint();

  struct Stats {
    BufferPool::Stats pool;
    std::uint32_t height = 0;
    std::uint32_t pages = 0;
    std::uint32_t free_pages = 0;
    std::uint64_t checkpoints = 0;
    std::uint64_t log_records = 0;
    std::uint64_t log_bytes = 0;
    std::uint64_t page_images = 0;  // Full page images logged.
    std::uint64_t page_diffs = 0;
    std::uint64_t splits = 0;
    std::uint64_t merges = 0;
    std::uint64_t redistributions = 0;
    std::uint64_t rollbacks = 0;  // Writes undone after an error.
  };
  Stats stats() const;
  // The limits this tree enforces (the options' limits, narrowed by the page and pool sizes).
  const phase1::Limits& limits() const { return limits_; }
  const std::string& recovery_note() const { return recovery_note_; }

  // For tests and learners. CheckInvariants walks the whole tree: keys sorted within nodes and
  // inside their parent's separators, every leaf at the same depth, every page but the root at
  // least min_fill full, the sibling chain visiting every leaf in order, overflow chains of the
  // right length, and every page exactly one of: meta, in the tree, overflow, free.
  Status CheckInvariants() const;
  // The tree as indented text, or as a Graphviz digraph (`dot -Tsvg`). For small trees.
  Result<std::string> DumpText() const;
  Result<std::string> DumpDot() const;
  // For tests: called with the page's number when a read is about to copy a page from the page
  // file's mapping (BufferPool::ReadUncached), holding no lock, pin or latch; so a test can
  // change and write back that very page in the middle of the read.
  void SetBeforeUncachedCopyForTest(std::function<void(PageId)> hook);

 private:
  class WriteOp;
  class IteratorImpl;
  class SnapshotImpl;
  struct ReadEpoch;
  class View;
  struct Change {
    bool put;
    std::string_view key;
    std::string_view value;
  };
  struct PathEntry {
    PageId id;
    int index;  // Child index in the parent (-1 for the root).
  };
  using Path = std::vector<PathEntry>;

  BTreeEngine(FileSystem& fs, std::string dir, BTreeOptions options);
  Status Initialize();
  Status Recover(const std::vector<std::uint64_t>& segments);
  Status Apply(const WriteOptions& options, std::span<const Change> changes);
  Status CheckpointLocked();
  Status EnsureLogDurable(Lsn lsn);

  // The tree algorithms, inside one write.
  Result<Path> Descend(WriteOp& op, std::string_view key);
  Status PutOne(WriteOp& op, std::string_view key, std::string_view value);
  Status DeleteOne(WriteOp& op, std::string_view key);
  // Stores `node` at path[level], splitting or rebalancing it and repairing its ancestors.
  // `append`: the node is the last leaf and just got a key after all others.
  Status StoreAndFix(WriteOp& op, const Path& path, std::size_t level, Node node,
                     bool append = false);
  Status Rebalance(WriteOp& op, const Path& path, std::size_t level);
  Status CollapseRoot(WriteOp& op);
  Result<PageId> WriteOverflow(WriteOp& op, std::string_view value);
  Status FreeOverflow(WriteOp& op, PageId first, std::uint32_t length);

  std::shared_ptr<ReadEpoch> RegisterEpoch() const;
  Status ReadOverflow(const View& view, PageId first, std::uint32_t length, std::string& out) const;
  Status Walk(const std::function<Status(PageId id, int depth, const char* page)>& fn) const;

  FileSystem& fs_;
  const std::string dir_;
  const BTreeOptions options_;
  const PageGeometry geo_;
  phase1::Limits limits_;
  std::size_t max_op_pages_ = 0;
  std::string file_name_;
  std::string recovery_note_;
  std::unique_ptr<FileLock> lock_file_;
  std::unique_ptr<RandomRWFile> file_;
  std::unique_ptr<BufferPool> pool_;
  std::unique_ptr<phase1::WalWriter> wal_;

  // One write (or checkpoint) at a time.
  mutable std::mutex writer_mu_;
  Status error_;                                  // GUARDED_BY(writer_mu_)
  Lsn next_lsn_ = 1;                              // GUARDED_BY(writer_mu_)
  Lsn redo_lsn_ = 1;                              // GUARDED_BY(writer_mu_); first LSN after the
                                                  // last checkpoint
  std::uint64_t log_bytes_since_checkpoint_ = 0;  // GUARDED_BY(writer_mu_)
  Stats counters_;                                // GUARDED_BY(writer_mu_); pool/meta fields unused

  std::atomic<Lsn> pushed_lsn_{0};  // The newest LSN handed to the log.
  std::mutex durable_mu_;
  std::atomic<Lsn> durable_lsn_{0};  // Written under durable_mu_; read anywhere.

  // Epochs (see "Reads" above).
  mutable std::mutex snap_mu_;
  mutable std::vector<std::weak_ptr<ReadEpoch>> live_epochs_;  // GUARDED_BY(snap_mu_)
  // The epoch of the state after the last write, shared by the readers that start before the
  // next one.
  mutable std::shared_ptr<ReadEpoch> current_epoch_;  // GUARDED_BY(snap_mu_)
  std::uint64_t committed_writes_ = 0;                // GUARDED_BY(snap_mu_)
  // Before-images of the pages the write in progress has changed so far: the write's own buffer,
  // and a copy to share with epochs, made the first time an epoch needs it (SharedImage).
  struct InflightImage {
    const char* bytes = nullptr;
    std::shared_ptr<const std::string> shared;
  };
  // REQUIRES: snap_mu_ held.
  std::shared_ptr<const std::string> SharedImage(InflightImage& image) const;
  mutable std::unordered_map<PageId, InflightImage> inflight_;  // GUARDED_BY(snap_mu_)
  // Before-image buffers of page_size bytes that earlier writes gave back.
  std::vector<std::unique_ptr<char[]>> spare_images_;  // GUARDED_BY(writer_mu_)
};

}  // namespace kv::storage::btree
