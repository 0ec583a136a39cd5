// The B+tree engine's private pieces, shared by its .cc files (btree_engine.cc: open, recovery,
// checkpoints and writes; btree_tree.cc: the tree algorithms; btree_read.cc: reads; btree_debug.cc:
// invariants and dumps). Not for use outside phase2_storage/btree/.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "phase2_storage/btree/btree_engine.h"

namespace kv::storage::btree {

// The state after `writes` writes, as readers at it see it: the pages changed since, as they
// were then. Pages not in `images` have not changed since and are read from the buffer pool.
struct BTreeEngine::ReadEpoch {
  std::uint64_t writes = 0;
  mutable std::shared_mutex mu;
  std::unordered_map<PageId, std::shared_ptr<const std::string>> images;  // GUARDED_BY(mu)
  // The meta page as this epoch sees it, once a reader has read it: it cannot change for the
  // epoch, and every Get and Seek starts from it. Written once, under `mu`, before `has_meta`
  // is set; read without the lock after `has_meta` is seen set.
  std::optional<Meta> meta;
  std::atomic<bool> has_meta{false};

  // Whether `images` has ever held a page: most epochs live between two writes and never get
  // one, so their readers' Find skips the lock. Set (under `mu`) before the page changes; a reader
  // that then reads the changed page has taken the frame's latch after the writer released it, or
  // copied bytes written back after it, and sees the flag.
  std::atomic<bool> has_images{false};

  std::shared_ptr<const std::string> Find(PageId id) const {
    if (!has_images.load(std::memory_order_acquire)) return nullptr;
    std::shared_lock lock(mu);
    auto it = images.find(id);
    return it == images.end() ? nullptr : it->second;
  }
};

class BTreeEngine::SnapshotImpl final : public Snapshot {
 public:
  explicit SnapshotImpl(std::shared_ptr<ReadEpoch> epoch) : epoch_(std::move(epoch)) {}
  const std::shared_ptr<ReadEpoch>& epoch() const { return epoch_; }

 private:
  std::shared_ptr<ReadEpoch> epoch_;
};

// A reader's access to pages at one epoch.
class BTreeEngine::View {
 public:
  View(const BTreeEngine& engine, std::shared_ptr<ReadEpoch> epoch)
      : engine_(&engine), epoch_(std::move(epoch)) {}

  // Calls fn(bytes) with page `id` as the epoch sees it; fn's Status is returned. The bytes are
  // valid only during the call (the frame's latch is held shared meanwhile). `keep` false: a
  // page not in the pool is copied from the page file's mapping instead of taking a frame (the
  // leaves of a read; BufferPool::ReadUncached).
  template <typename Fn>
  Status With(PageId id, Fn&& fn, bool keep = true) const {
    if (auto image = epoch_->Find(id)) return fn(image->data());
    if (!keep) {
      // A buffer per thread (per instantiation of this template, in fact), not per view: a view
      // lives for one Get. No `fn` reads another page while it runs, so the buffer is never
      // needed twice at once.
      thread_local std::string copy;
      if (copy.size() < engine_->pool_->page_size()) copy.resize(engine_->pool_->page_size());
      if (engine_->pool_->ReadUncached(id, copy.data())) {
        // Looked at again after the copy: a writer that changed the page since this epoch
        // began gave the epoch its image first, and the copy may hold the change.
        if (auto image = epoch_->Find(id)) return fn(image->data());
        return fn(copy.data());
      }
    }
    KV_ASSIGN_OR_RETURN(PageHandle page, engine_->pool_->Pin(id));
    std::shared_lock latch(page.frame()->latch);
    // Checked again under the latch: a writer gives the epoch the image, then takes the latch
    // once (waiting out readers inside it) before it changes the page.
    if (auto image = epoch_->Find(id)) return fn(image->data());
    return fn(page.data());
  }
  Result<Meta> ReadMetaPage() const;

 private:
  const BTreeEngine* engine_;
  std::shared_ptr<ReadEpoch> epoch_;
};

// One write: the pages it has read and changed, and what they were before.
// REQUIRES: the engine's writer_mu_ is held for the whole life of the object.
class BTreeEngine::WriteOp {
 public:
  explicit WriteOp(BTreeEngine& engine) : e_(engine) {}
  ~WriteOp();
  WriteOp(const WriteOp&) = delete;
  WriteOp& operator=(const WriteOp&) = delete;

  // Page `id` for reading; valid until the write ends or ReleaseReads(). The writer is the only
  // one that changes pages, so it reads without latching.
  Result<const char*> Page(PageId id);
  // Page `id` for changing: pinned and its before-image kept until the write ends, and given to
  // every live epoch without one (btree_engine.h, "Reads"). kInvalidArgument once the write has
  // changed max_op_pages pages.
  Result<char*> Mutable(PageId id);
  // A page for a new node (from the free list, or past the last page); the caller initializes it.
  Result<PageId> Allocate();
  // Puts page `id` on the free list.
  Status Free(PageId id);
  // Unpins pages only read so far (between the entries of a batch).
  void ReleaseReads() { reads_.clear(); }

  // The meta page's fields for this write; Commit writes them to page 0 if they changed.
  Result<Meta*> meta();

  // Logs the write (pushes its record to the log with `ticket`, not waiting for it), stamps
  // the changed pages with its LSN and makes it visible to new readers. `logged` is false if
  // the write changed nothing.
  Status Commit(phase1::WalWriter::Ticket& ticket, bool sync, bool* logged);
  // Puts every changed page back as it was.
  void Rollback();

 private:
  struct Touched {
    PageHandle page;
    std::unique_ptr<char[]> before;  // page_size bytes; given back to the engine at the end.
    bool fresh = false;              // Allocated past the last page: nobody else can see it.
  };
  Result<char*> Track(PageId id, PageHandle page, bool fresh);
  // kInvalidArgument once the write has changed max_op_pages pages.
  Status CheckBudget() const;
  void Finish();
  // Hands the before-image buffers back to the engine for later writes.
  // REQUIRES: inflight_ no longer holds them.
  void GiveBackImages();

  BTreeEngine& e_;
  std::map<PageId, Touched> touched_;
  std::unordered_map<PageId, PageHandle> reads_;
  std::optional<Meta> meta_;
  bool done_ = false;
};

}  // namespace kv::storage::btree
