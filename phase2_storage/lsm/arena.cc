#include "phase2_storage/lsm/arena.h"

#include <cstdint>

#include "common/check.h"

namespace kv::storage::lsm {

char* Arena::Allocate(std::size_t bytes) {
  KV_CHECK(bytes > 0, "Arena::Allocate(0)");
  if (bytes > remaining_) return AllocateSlow(bytes);
  char* result = next_;
  next_ += bytes;
  remaining_ -= bytes;
  return result;
}

char* Arena::AllocateAligned(std::size_t bytes) {
  static_assert((kAlignment & (kAlignment - 1)) == 0, "alignment must be a power of two");
  KV_CHECK(bytes > 0, "Arena::AllocateAligned(0)");
  const std::size_t misalignment = reinterpret_cast<std::uintptr_t>(next_) & (kAlignment - 1);
  const std::size_t padding = misalignment == 0 ? 0 : kAlignment - misalignment;
  char* result;
  if (padding + bytes <= remaining_) {
    result = next_ + padding;
    next_ += padding + bytes;
    remaining_ -= padding + bytes;
  } else {
    // A fresh block starts aligned, so no padding is needed there.
    result = AllocateSlow(bytes);
  }
  // Invariant: every aligned request is served at a multiple of kAlignment.
  KV_CHECK((reinterpret_cast<std::uintptr_t>(result) & (kAlignment - 1)) == 0,
           "Arena::AllocateAligned returned a misaligned pointer");
  return result;
}

char* Arena::AllocateSlow(std::size_t bytes) {
  if (bytes > kLargeAllocation) {
    // Starting a new standard block here would abandon the current tail, which can be almost as
    // large as the request itself (most of a block). Keep it for the small requests that follow;
    // requests above kBlockSize need a block of their own anyway.
    return NewBlock(bytes);
  }
  // Whatever is left of the current block is abandoned: it is smaller than this request (plus,
  // for an aligned one, its padding), so under a quarter block.
  next_ = NewBlock(kBlockSize);
  remaining_ = kBlockSize - bytes;
  char* result = next_;
  next_ += bytes;
  return result;
}

char* Arena::NewBlock(std::size_t block_bytes) {
  // _for_overwrite: the caller writes every byte it uses, so zeroing the block would be wasted
  // work. A char array from new[] is aligned for any object of fundamental alignment no larger
  // than the array, i.e. to kAlignment for every block we create (all are over 1 KiB).
  blocks_.push_back(std::make_unique_for_overwrite<char[]>(block_bytes));
  memory_usage_.store(MemoryUsage() + block_bytes + sizeof(std::unique_ptr<char[]>),
                      std::memory_order_relaxed);
  return blocks_.back().get();
}

}  // namespace kv::storage::lsm
