#include "phase2_storage/btree/buffer_pool.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "common/check.h"

namespace kv::storage::btree {

PageHandle& PageHandle::operator=(PageHandle&& other) noexcept {
  if (this != &other) {
    Release();
    pool_ = other.pool_;
    frame_ = other.frame_;
    other.pool_ = nullptr;
    other.frame_ = nullptr;
  }
  return *this;
}

void PageHandle::Release() {
  if (frame_ != nullptr) pool_->Unpin(frame_);
  pool_ = nullptr;
  frame_ = nullptr;
}

BufferPool::BufferPool(RandomRWFile& file, std::string file_name, std::size_t page_size,
                       std::size_t frames, std::function<Lsn()> durable_lsn,
                       std::function<Status(Lsn)> make_durable)
    : file_(file),
      file_name_(std::move(file_name)),
      page_size_(page_size),
      durable_lsn_(std::move(durable_lsn)),
      make_durable_(std::move(make_durable)),
      frame_count_(frames),
      frames_(std::make_unique<Frame[]>(frames)) {
  KV_CHECK(frames >= 8, "a buffer pool needs at least 8 frames");
  memory_ = static_cast<char*>(std::aligned_alloc(4096, frames * page_size));
  KV_CHECK(memory_ != nullptr, "buffer pool allocation failed");
  std::memset(memory_, 0, frames * page_size);
  for (std::size_t i = 0; i < frames; ++i) frames_[i].data = memory_ + i * page_size;
  if (auto size = file_.Size(); size.has_value()) file_pages_ = *size / page_size_;
  mapping_ = file_.MapForReading(kMappedBytes);
#if !defined(__SANITIZE_THREAD__)
  // (Under ThreadSanitizer pages are written with pwrite: a reader's copy from the mapping may
  // overlap a write-back of the same page by design, as the copy then fails its check, and TSan
  // would report two overlapping memcpys as a race where it cannot see the kernel's copy.)
  if (mapping_.has_value()) writable_ = file_.MapForWriting(kMappedBytes);
  if (writable_.has_value()) {
    // Space for every page the file has, holes included (a file grown by pwrite may have some),
    // so that no store below the end can need space at its fault. If the disk is too full for
    // that, pages are written with pwrite, which reports a full disk page by page.
    if (file_.Allocate(0, file_pages_ * page_size_).ok()) {
      allocated_pages_ = file_pages_;
    } else {
      writable_.reset();
    }
  }
#endif
}

const char* BufferPool::MappedPage(PageId id) const {
  if (!mapping_.has_value() || id >= file_pages_) return nullptr;
  const std::uint64_t offset = static_cast<std::uint64_t>(id) * page_size_;
  return offset + page_size_ <= mapping_->size() ? mapping_->data() + offset : nullptr;
}

bool BufferPool::ReadUncached(PageId id, char* out) {
  if (!mapping_.has_value()) return false;
  const char* mapped = nullptr;
  {
    std::lock_guard lock(mu_);
    if (table_.contains(id) || (mapped = MappedPage(id)) == nullptr) return false;
    ++stats_.uncached_reads;
  }
  if (before_uncached_copy_) before_uncached_copy_(id);
  const bool verified = CopyAndVerifyPage(mapped, out, page_size_, id, file_name_).ok();
  // Keeps the copy's loads before the caller's second look for an epoch image (an acquire
  // load): on a weakly ordered CPU they could otherwise complete after it, and a newer page
  // copied whole would be taken without the image that hides it. ThreadSanitizer does not model
  // fences (GCC refuses them under -fsanitize=thread); its runs are on x86, which never lets a
  // load pass an earlier one.
#if !defined(__SANITIZE_THREAD__)
  std::atomic_thread_fence(std::memory_order_acquire);
#endif
  return verified;
}

BufferPool::~BufferPool() { std::free(memory_); }

Result<PageHandle> BufferPool::Pin(PageId id) { return PinFrame(id, /*read=*/true); }

Result<PageHandle> BufferPool::PinNew(PageId id) { return PinFrame(id, /*read=*/false); }

Result<PageHandle> BufferPool::PinFrame(PageId id, bool read) {
  for (;;) {
    Lsn need = 0;
    {
      std::lock_guard lock(mu_);
      if (auto it = table_.find(id); it != table_.end()) {
        Frame* f = it->second;
        f->pins.fetch_add(1, std::memory_order_relaxed);
        f->referenced = true;
        if (read) ++stats_.hits;
        return PageHandle(this, f);
      }
      Result<Frame*> victim = Victim(need);
      if (victim.has_value()) {
        Frame* f = *victim;
        if (read) {
          ++stats_.misses;
          Result<std::size_t> got = page_size_;
          if (const char* mapped = MappedPage(id); mapped != nullptr) {
            // A copy from the mapping instead of a system call. Nothing writes this page
            // meanwhile: it is not resident, and only resident pages are written back.
            std::memcpy(f->data, mapped, page_size_);
          } else {
            got = file_.Read(static_cast<std::uint64_t>(id) * page_size_,
                             std::span<char>(f->data, page_size_));
          }
          if (!got.has_value()) return got.error();
          if (*got != page_size_) {
            return Status::Corruption(
                fmt::format("{}: page {} (offset {}) is past the end of the file", file_name_, id,
                            static_cast<std::uint64_t>(id) * page_size_));
          }
          KV_RETURN_IF_ERROR(VerifyPage(f->data, page_size_, id, file_name_));
        } else {
          std::memset(f->data, 0, page_size_);
        }
        f->id = id;
        f->in_use = true;
        f->dirty = false;
        f->referenced = true;
        f->pins.store(1, std::memory_order_relaxed);
        table_.emplace(id, f);
        return PageHandle(this, f);
      }
      if (need == 0) return victim.error();
    }
    // Every evictable frame holds a page newer than the durable log. Make the log durable
    // without the pool's mutex (a log sync may wait for another thread's log write, and that
    // thread may need the mutex to pin a page before it gets there), then look again.
    KV_RETURN_IF_ERROR(make_durable_(need));
  }
}

void BufferPool::Unpin(Frame* frame) {
  // Release: what the holder did with the page comes before an eviction that sees it unpinned.
  const int before = frame->pins.fetch_sub(1, std::memory_order_release);
  KV_CHECK(before > 0, "unpin of an unpinned frame");
}

void BufferPool::MarkDirty(const PageHandle& page) {
  std::lock_guard lock(mu_);
  page.frame()->dirty = true;
}

void BufferPool::Discard(PageHandle& page) {
  Frame* f = page.frame();
  {
    std::lock_guard lock(mu_);
    KV_CHECK(f->pins.load(std::memory_order_acquire) == 1,
             "Discard of a page pinned by someone else");
    table_.erase(f->id);
    f->in_use = false;
    f->dirty = false;
    f->referenced = false;
    // Unpinned here, under the mutex: once the frame is free, another thread's Pin may take it
    // (Victim) and pin it, and an unpin after the mutex is released would undo that pin.
    f->pins.fetch_sub(1, std::memory_order_release);
  }
  page.Forget();
}

Result<Frame*> BufferPool::Victim(Lsn& need) {
  const Lsn durable = durable_lsn_();
  // Two sweeps: the first may only clear reference bits.
  for (std::size_t step = 0; step < 2 * frame_count_ + 1; ++step) {
    Frame& f = frames_[hand_];
    hand_ = (hand_ + 1) % frame_count_;
    if (!f.in_use) return &f;  // Free frames are unpinned (Discard unpins under the mutex).
    if (f.pins.load(std::memory_order_acquire) > 0) continue;
    if (f.referenced) {
      f.referenced = false;
      continue;
    }
    if (f.dirty) {
      const Lsn lsn = PageLsn(f.data);
      if (lsn > durable) {  // The write-ahead rule: not before the log has it.
        need = std::max(need, lsn);
        continue;
      }
      KV_RETURN_IF_ERROR(WriteBack(f));
    }
    table_.erase(f.id);
    f.in_use = false;
    ++stats_.evictions;
    return &f;
  }
  return Status::Busy(fmt::format("buffer pool: all {} frames are pinned", frame_count_));
}

Status BufferPool::WriteBack(Frame& f) {
  // Sealed in its frame: nobody else can be reading it, as it is unpinned and mu_ is held.
  SealPage(f.data, page_size_);
  KV_RETURN_IF_ERROR(WritePage(f.id, f.data));
  f.dirty = false;
  return Status::Ok();
}

Status BufferPool::WritePage(PageId id, const char* sealed) {
  const std::uint64_t offset = static_cast<std::uint64_t>(id) * page_size_;
  if (writable_.has_value() && offset + page_size_ <= writable_->size()) {
    if (id >= allocated_pages_) {
      // Storing where the file has no space set aside could raise SIGBUS on a full disk: set it
      // aside first, kGrowBytes ahead, or for this page alone if the disk is nearly full.
      const std::uint64_t from = allocated_pages_ * page_size_;
      std::uint64_t to =
          std::min<std::uint64_t>(offset + page_size_ + kGrowBytes, writable_->size());
      to -= to % page_size_;
      Status s = file_.Allocate(from, to - from);
      if (s.code() == StatusCode::kNoSpace) {
        to = offset + page_size_;
        s = file_.Allocate(from, to - from);
      }
      KV_RETURN_IF_ERROR(s);
      allocated_pages_ = to / page_size_;
      file_pages_ = std::max(file_pages_, allocated_pages_);
    }
    std::memcpy(writable_->data() + offset, sealed, page_size_);
  } else {
    KV_RETURN_IF_ERROR(file_.Write(offset, std::string_view(sealed, page_size_)));
    file_pages_ = std::max<std::uint64_t>(file_pages_, std::uint64_t{id} + 1);
  }
  ++stats_.writebacks;
  return Status::Ok();
}

Status BufferPool::FlushAll() {
  // Pin the dirty frames, then copy each under its latch without holding the pool's mutex: a
  // latch is never awaited under the mutex (the order writers take them in is latch, mutex).
  std::vector<Frame*> dirty;
  {
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < frame_count_; ++i) {
      Frame& f = frames_[i];
      if (f.in_use && f.dirty) {
        f.pins.fetch_add(1, std::memory_order_relaxed);
        dirty.push_back(&f);
      }
    }
  }
  std::string copy(page_size_, '\0');
  Status status;
  for (Frame* f : dirty) {
    if (status.ok()) {
      {
        std::shared_lock latch(f->latch);
        std::memcpy(copy.data(), f->data, page_size_);
      }
      status = make_durable_(PageLsn(copy.data()));
      if (status.ok()) SealPage(copy.data(), page_size_);
    }
    std::lock_guard lock(mu_);
    if (status.ok()) status = WritePage(f->id, copy.data());
    if (status.ok()) f->dirty = false;
    f->pins.fetch_sub(1, std::memory_order_release);
  }
  return status;
}

BufferPool::Stats BufferPool::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

std::size_t BufferPool::dirty_pages() const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (std::size_t i = 0; i < frame_count_; ++i) n += frames_[i].in_use && frames_[i].dirty;
  return n;
}

}  // namespace kv::storage::btree
