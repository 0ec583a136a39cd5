// Arena: a bump allocator for the memtable. Callers ask for bytes and never give them back one by
// one; everything the arena handed out is released together when the arena is destroyed.
//
// Why an arena: a memtable allocates millions of small, immutable pieces (skip-list nodes and the
// encoded entries they point at) and drops them all at once when it has been flushed to an
// SSTable. Carving them out of large blocks costs a pointer bump instead of a trip through malloc,
// keeps neighbours close in memory, and gives an exact running total (MemoryUsage) to decide when
// the memtable is full.
//
// Blocks are kBlockSize (4 KiB). A request is carved from the current block whenever it fits.
// When it does not: a request larger than kLargeAllocation (a quarter block) gets a block of
// exactly its size and the current block stays current, its tail still usable; a smaller one
// abandons the tail (under a quarter block, since the request did not fit; up to 15 bytes more for
// an aligned request) and starts a new block. So about a quarter of a block at most is wasted.
//
// Ownership: the arena owns every block; pointers it returns are valid until it is destroyed.
//
// Thread safety: Allocate and AllocateAligned need external synchronisation (one writer at a
// time). MemoryUsage may be called from any thread at any time, concurrently with the writer. The
// bytes themselves are the caller's: a writer that hands arena memory to readers on other threads
// must publish it with its own release/acquire pair (the skip list does, through its links).
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <vector>

namespace kv::storage::lsm {

class Arena {
 public:
  static constexpr std::size_t kBlockSize = 4096;
  // Requests strictly larger than this that do not fit in the current block get a block of their
  // own.
  static constexpr std::size_t kLargeAllocation = kBlockSize / 4;
  // What AllocateAligned aligns to. alignof(std::max_align_t) (16 on x86-64), not the pointer
  // size (8), because it is what operator new promises: any type of fundamental alignment (long
  // double, __int128, a struct of them) can be placement-new'd into the result, so callers never
  // need to ask which types a Key or a node may contain. The price is at most 15 padding bytes
  // per aligned request instead of 7.
  static constexpr std::size_t kAlignment = alignof(std::max_align_t);

  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // `bytes` of uninitialised memory with no alignment promised (byte buffers: keys, values).
  // REQUIRES: bytes > 0 (a zero-byte allocation has no sensible address to return).
  char* Allocate(std::size_t bytes);
  // Like Allocate, aligned to kAlignment (for objects placement-new'd into the arena).
  // REQUIRES: bytes > 0.
  char* AllocateAligned(std::size_t bytes);

  // Bytes taken from the heap so far (every block, plus the bookkeeping that tracks it). Never
  // decreases. Safe to call from any thread; the value may lag the writer by the allocation in
  // progress, which is all the memtable's "am I full yet?" needs.
  std::size_t MemoryUsage() const { return memory_usage_.load(std::memory_order_relaxed); }

 private:
  // Allocates a fresh block of `block_bytes`, records it, and returns its start.
  char* NewBlock(std::size_t block_bytes);
  // Serves a request the current block cannot: a large one from a block of its own, a small one
  // from a new current block. Blocks come from operator new[], so the result is kAlignment-aligned.
  char* AllocateSlow(std::size_t bytes);

  // The unused tail of the current block: [next_, next_ + remaining_).
  char* next_ = nullptr;
  std::size_t remaining_ = 0;
  std::vector<std::unique_ptr<char[]>> blocks_;
  // Written only by the allocating thread (relaxed: no other data is published through it).
  std::atomic<std::size_t> memory_usage_{0};
};

}  // namespace kv::storage::lsm
