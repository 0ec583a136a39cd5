// BufferPool: the fixed set of page frames through which every page of the B+tree is read and
// written.
//
// A page is used while pinned: Pin() finds it in a frame or reads it from the page file into
// one (checking its checksum and layout: page.h, VerifyPage), and the returned PageHandle
// unpins it when destroyed. A pinned frame is never evicted; its bytes are guarded by the
// frame's latch (a reader-writer lock), which the caller takes around reads and writes of them.
// Pinning and latching are separate on purpose: the pool's own mutex is never held while a
// latch is awaited, so a thread holding latches may always pin more pages.
//
// Eviction is CLOCK (second chance): each frame has a reference bit, set on every pin; the hand
// sweeps the frames, clearing set bits and taking the first unpinned frame whose bit is clear.
// It costs one bit per frame and no list updates on a hit, and a scan touching every page once
// cannot flush out the hot upper levels as it would with plain LRU, since their bits are set
// again on every descent. (LRU-K resists scans better but keeps K timestamps per page and a
// heap; docs/phase2-btree.md weighs the two.)
//
// A dirty victim is written back first, and only if the write-ahead rule allows it: the log
// must be durable up to the page's LSN, so a page on disk never holds a change the log could
// lose. When every evictable frame is too new, the pool releases its mutex, has the log synced
// (`make_durable`) and looks again: a log sync may wait for another thread's log write, and
// that thread may need the pool's mutex to pin a page before it gets there (the deadlock the
// B+tree's concurrency test found when the sync was made under the mutex; unpins then took the
// mutex too, and now take none).
//
// Where the page file is mapped, a write-back is a store of the sealed page into the mapping,
// not a pwrite: the same bytes reach the same cache of the file, as visible and as durable (the
// next sync of the file writes them), without a system call for each page. The pool sets disk
// space aside before it stores where the file has none (the whole file when it opens, then
// 1 MiB ahead as it grows), so a full disk is an error and not a fault (on a file system that
// overwrites in place, as ext4 does; file_system.h, Allocate).
//
// Readers may skip the frames: ReadUncached() copies a page that is not resident straight from
// the mapping of the page file, checks it, and leaves the frames as they are (LMDB reads
// every page this way). It serves the leaves of a read; the upper levels are few and hot, and
// are pinned. A page is never evicted before it is written back, so a page that is not resident
// is whole and current in the file, except while a writer's write-back of a newer version is
// under way; then the copy is torn, fails its check, and the caller pins instead. (A copy that
// catches the newer version whole passes its check; the reader's epoch then holds the image it
// needs, given to it before the page changed: btree_internal.h, View. Discard drops only fresh
// pages, past the old end of the tree, which no epoch can reach.) A read error under the mapping
// (a failing disk) stops the process with SIGBUS where pread would return kIOError; the LSM
// tree's mapped tables share that limit.
//
// Thread safety: all methods are safe from many threads. Reads through Pin and write-backs happen
// under the pool's mutex, so misses are served one at a time (simple, and the bench is
// single-threaded; the guide lists it as a limit). ReadUncached copies without it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/file_system.h"
#include "common/status.h"
#include "phase2_storage/btree/page.h"

namespace kv::storage::btree {

struct Frame {
  PageId id = kNoPage;
  char* data = nullptr;
  std::shared_mutex latch;  // Guards the bytes at `data` while pinned.
  // Raised only under the pool mutex, lowered without it (Unpin): a frame seen unpinned under
  // the mutex stays unpinned until the mutex is released, and an unpin costs no lock.
  std::atomic<int> pins{0};
  bool dirty = false;       // GUARDED_BY(pool mutex)
  bool referenced = false;  // GUARDED_BY(pool mutex)
  bool in_use = false;      // GUARDED_BY(pool mutex); holds page `id`
};

class BufferPool;

// A pin on one frame; unpins when destroyed. Move-only.
class PageHandle {
 public:
  PageHandle() = default;
  PageHandle(BufferPool* pool, Frame* frame) : pool_(pool), frame_(frame) {}
  PageHandle(PageHandle&& other) noexcept { *this = std::move(other); }
  PageHandle& operator=(PageHandle&& other) noexcept;
  PageHandle(const PageHandle&) = delete;
  PageHandle& operator=(const PageHandle&) = delete;
  ~PageHandle() { Release(); }

  void Release();
  explicit operator bool() const { return frame_ != nullptr; }
  Frame* frame() const { return frame_; }
  char* data() const { return frame_->data; }
  PageId id() const { return frame_->id; }

 private:
  friend class BufferPool;
  // Lets go of the frame without unpinning it (the pool has already).
  void Forget() {
    pool_ = nullptr;
    frame_ = nullptr;
  }

  BufferPool* pool_ = nullptr;
  Frame* frame_ = nullptr;
};

class BufferPool {
 public:
  // Address space reserved for the mapping of the page file (64 GiB); pages past it are pinned.
  static constexpr std::uint64_t kMappedBytes = std::uint64_t{1} << 36;

  struct Stats {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
    std::uint64_t evictions = 0;
    std::uint64_t writebacks = 0;  // Pages written to the file (evictions and flushes).
    // Pages ReadUncached() copied from the mapping (a copy that failed its check included).
    std::uint64_t uncached_reads = 0;
  };

  // `file` (named `file_name` in errors) must outlive the pool. `durable_lsn()` says how far the
  // log is durable; `make_durable(lsn)` makes it durable at least that far (a log sync).
  BufferPool(RandomRWFile& file, std::string file_name, std::size_t page_size, std::size_t frames,
             std::function<Lsn()> durable_lsn, std::function<Status(Lsn)> make_durable);
  ~BufferPool();

  // Pins page `id`, reading and verifying it on a miss. kCorruption (naming the page) if it
  // fails verification, kBusy if every frame is pinned.
  Result<PageHandle> Pin(PageId id);
  // For a reader that will not keep the page: if page `id` is not resident and the page file is
  // mapped, copies it into `out` (page_size() bytes), verifies it and returns true. false means
  // the caller must Pin() it instead: the page is resident, the file is not mapped, or the copy
  // failed its check (Pin then reads it again and reports real damage as kCorruption).
  bool ReadUncached(PageId id, char* out);
  // For tests: called by ReadUncached between its residency check and its copy (no lock held).
  // Set before any reader runs.
  void SetBeforeUncachedCopyForTest(std::function<void(PageId)> hook) {
    before_uncached_copy_ = std::move(hook);
  }
  // Pins a frame for page `id` without reading the file; if the page is not resident, its frame
  // is zero-filled. For a page the caller is about to overwrite whole.
  Result<PageHandle> PinNew(PageId id);
  // Marks a pinned page changed: it will be written back before its frame is reused.
  void MarkDirty(const PageHandle& page);
  // Drops a page the caller has pinned exactly once, without writing it back (an allocation
  // that was rolled back). The handle is released.
  void Discard(PageHandle& page);
  // Writes every dirty page to the file (the caller syncs it). Takes each frame's latch shared
  // while copying its bytes. REQUIRES: no page is being changed meanwhile (the engine calls it
  // under its writer lock), since a page is marked clean once its copy is written.
  Status FlushAll();

  std::size_t frames() const { return frame_count_; }
  std::size_t page_size() const { return page_size_; }
  Stats stats() const;
  std::size_t dirty_pages() const;

 private:
  friend class PageHandle;
  void Unpin(Frame* frame);
  // REQUIRES: mu_ held. A free or evictable frame, written back first if dirty.
  // A free frame, or an unpinned one to evict (written back first if dirty, which only a page
  // no newer than the durable log may be). If none qualifies only because of that, `need` says
  // how far the log must be durable. REQUIRES: mu_ held.
  Result<Frame*> Victim(Lsn& need);
  Result<PageHandle> PinFrame(PageId id, bool read);
  // REQUIRES: mu_ held. Page `id` in the mapping, or nullptr if the file is not mapped or the
  // page lies past what the file (or the mapping) holds.
  const char* MappedPage(PageId id) const;
  // REQUIRES: mu_ held; `frame` unpinned (so nobody holds its latch), its LSN durable.
  Status WriteBack(Frame& frame);
  // Puts the sealed page into the file: a store into the mapping where the file is mapped
  // writable (no system call), a pwrite otherwise. REQUIRES: mu_ held.
  Status WritePage(PageId id, const char* sealed);

  // How far ahead of the page being written the file is grown when it is mapped.
  static constexpr std::uint64_t kGrowBytes = 1 << 20;

  RandomRWFile& file_;
  const std::string file_name_;
  const std::size_t page_size_;
  const std::function<Lsn()> durable_lsn_;
  const std::function<Status(Lsn)> make_durable_;
  char* memory_ = nullptr;  // frames_.size() * page_size_ bytes, page-aligned.
  const std::size_t frame_count_;
  std::unique_ptr<Frame[]> frames_;
  // The page file's mapping (nullopt where the file system does not map), the same mapping
  // writable (also nullopt under ThreadSanitizer), and how many pages the file holds: touching
  // the mapping past them would fault.
  std::optional<std::string_view> mapping_;
  std::optional<std::span<char>> writable_;
  std::uint64_t file_pages_ = 0;       // GUARDED_BY(mu_)
  std::uint64_t allocated_pages_ = 0;  // GUARDED_BY(mu_); pages below it have disk space
                                       // set aside (RandomRWFile::Allocate)
  std::function<void(PageId)> before_uncached_copy_;

  mutable std::mutex mu_;
  std::unordered_map<PageId, Frame*> table_;  // GUARDED_BY(mu_)
  std::size_t hand_ = 0;                      // GUARDED_BY(mu_)
  Stats stats_;                               // GUARDED_BY(mu_)
};

}  // namespace kv::storage::btree
