// The memtable's foundations (phase2_storage/lsm/arena.h, skiplist.h):
//   * Arena: MemoryUsage covers what is allocated and wastes about a quarter block at most; a
//     request that fits is carved from the current block; one that does not gets a block of its
//     own if it is over a quarter block (and the current block stays current), else starts a new
//     4 KiB block; AllocateAligned is aligned to alignof(std::max_align_t); allocations never
//     overlap; MemoryUsage may be read on another thread while one thread allocates.
//   * SkipList against a std::set model (RapidCheck): Contains, forward and backward iteration and
//     Seek (then Prev and Next) agree with the model. Also: the empty list, one key, 20,000 keys
//     (tall towers), lookups costing O(log n) comparisons, and the KV_CHECKs on a duplicate insert
//     and on an iterator without a position.
//   * SkipList under concurrency: one writer inserts while three readers scan forwards, walk
//     backwards with Prev and probe with Contains and Seek, and a fourth follows the key being
//     inserted. Every read sees a strictly sorted list holding every key whose Insert finished
//     before the read began. On x86 a missing release/acquire pair passes this in a debug build;
//     it is the ThreadSanitizer run (scripts/test.sh --preset tsan) that catches it.
#include "phase2_storage/lsm/skiplist.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iterator>
#include <limits>
#include <set>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/random.h"
#include "common/testing/seed.h"
#include "phase2_storage/lsm/arena.h"

namespace kv::storage::lsm {
namespace {

// Three-way comparison of integers without subtraction (which would overflow for uint64).
struct U64Compare {
  int operator()(const std::uint64_t& a, const std::uint64_t& b) const {
    return a < b ? -1 : (a > b ? 1 : 0);
  }
};
using List = SkipList<std::uint64_t, U64Compare>;

constexpr std::uint64_t kMaxKey = std::numeric_limits<std::uint64_t>::max();

std::uintptr_t Address(const char* p) { return reinterpret_cast<std::uintptr_t>(p); }

// ---------------------------------------------------------------------------------------------
// Arena

TEST(Arena, Fresh_UsesNoMemory) {
  Arena arena;
  EXPECT_EQ(arena.MemoryUsage(), 0u);
}

TEST(Arena, SmallAllocations_UsageCoversThemAndWastesUnderAQuarterBlock) {
  kv::testing::TestRandom rng;
  Arena arena;
  std::size_t requested = 0;
  std::size_t last_usage = 0;
  for (int i = 0; i < 5000; ++i) {
    const std::size_t bytes = rng.Range(1, Arena::kLargeAllocation);
    if (rng.OneIn(2)) {
      arena.Allocate(bytes);
    } else {
      arena.AllocateAligned(bytes);
    }
    requested += bytes;
    const std::size_t usage = arena.MemoryUsage();
    ASSERT_GE(usage, last_usage) << "MemoryUsage never decreases";
    ASSERT_GE(usage, requested) << "every byte handed out is counted";
    last_usage = usage;
  }
  // A block is abandoned only when a request of at most a quarter block does not fit, so at least
  // three quarters of every full block is in use (less the alignment padding, at most 15 bytes
  // per aligned request). Allow one partly used block and a little bookkeeping per block.
  const double padding = static_cast<double>(Arena::kAlignment) * 5000;
  const double bound = ((static_cast<double>(requested) + padding) * 4.0 / 3.0 +
                        static_cast<double>(Arena::kBlockSize)) *
                       (1.0 + 64.0 / static_cast<double>(Arena::kBlockSize));
  EXPECT_LE(static_cast<double>(arena.MemoryUsage()), bound) << "requested " << requested;
}

TEST(Arena, RequestsThatFit_AreCarvedFromTheCurrentBlock) {
  Arena arena;
  char* first = arena.Allocate(1);
  const std::size_t usage = arena.MemoryUsage();
  EXPECT_GE(usage, Arena::kBlockSize);
  // Whether or not it counts as large, a request with room left in the block is served there.
  EXPECT_EQ(arena.Allocate(Arena::kLargeAllocation), first + 1);
  EXPECT_EQ(arena.Allocate(Arena::kLargeAllocation + 1), first + 1 + Arena::kLargeAllocation);
  EXPECT_EQ(arena.MemoryUsage(), usage);
}

TEST(Arena, QuarterBlockAndNoRoom_StartsANewStandardBlock) {
  Arena arena;
  char* first = arena.Allocate(1);
  for (int i = 0; i < 3; ++i) arena.Allocate(Arena::kLargeAllocation);
  ASSERT_EQ(arena.Allocate(1), first + 1 + 3 * Arena::kLargeAllocation);  // kLarge - 2 left.
  const std::size_t before = arena.MemoryUsage();
  // Exactly a quarter block is not "large": it abandons the tail and starts a new 4 KiB block,
  // which becomes the current one.
  char* quarter = arena.Allocate(Arena::kLargeAllocation);
  EXPECT_GE(arena.MemoryUsage() - before, Arena::kBlockSize);
  EXPECT_EQ(arena.Allocate(1), quarter + Arena::kLargeAllocation);
}

TEST(Arena, LargerThanAQuarterBlockAndNoRoom_GetsABlockOfItsOwnAndKeepsTheCurrentOne) {
  Arena arena;
  char* first = arena.Allocate(1);
  arena.Allocate(Arena::kLargeAllocation);
  arena.Allocate(Arena::kLargeAllocation);
  char* const tail = first + 1 + 2 * Arena::kLargeAllocation;  // kBlockSize / 2 - 1 bytes left.
  for (const std::size_t bytes :
       {Arena::kBlockSize / 2, Arena::kBlockSize * 3, std::size_t{1} << 20}) {
    SCOPED_TRACE(bytes);
    const std::size_t before = arena.MemoryUsage();
    char* large = arena.Allocate(bytes);
    const std::size_t grown = arena.MemoryUsage() - before;
    EXPECT_GE(grown, bytes);
    EXPECT_LT(grown, bytes + 64) << "a block of the request's size, not a rounded-up one";
    EXPECT_TRUE(Address(large) + bytes <= Address(first) ||
                Address(large) >= Address(first) + Arena::kBlockSize)
        << "not carved from the current block";
    std::memset(large, 0x5a, bytes);  // The whole range is writable (ASan would object if not).
  }
  // The current block was not abandoned: the next small request continues where it left off.
  EXPECT_EQ(arena.Allocate(7), tail);
}

TEST(Arena, AllocateAligned_ReturnsPointersAlignedToMaxAlignT) {
  static_assert(Arena::kAlignment == alignof(std::max_align_t));
  kv::testing::TestRandom rng;
  Arena arena;
  for (int i = 0; i < 2000; ++i) {
    arena.Allocate(rng.Range(1, 13));  // Odd sizes knock the bump pointer off alignment.
    const std::size_t bytes =
        rng.OneIn(20) ? rng.Range(1, 3 * Arena::kBlockSize) : rng.Range(1, 64);
    char* p = arena.AllocateAligned(bytes);
    ASSERT_EQ(Address(p) % Arena::kAlignment, 0u) << "request " << i << " of " << bytes << " bytes";
  }
}

TEST(Arena, ManyAllocations_DoNotOverlapAndKeepTheirBytes) {
  kv::testing::TestRandom rng;
  Arena arena;
  struct Piece {
    char* data;
    std::size_t size;
    char fill;
  };
  std::vector<Piece> pieces;
  for (int i = 0; i < 4000; ++i) {
    const std::size_t size = rng.OneIn(50)
                                 ? rng.Range(Arena::kLargeAllocation, 2 * Arena::kBlockSize)
                                 : rng.Range(1, 100);
    char* data = rng.OneIn(2) ? arena.Allocate(size) : arena.AllocateAligned(size);
    const char fill = static_cast<char>(i * 37 + 11);
    std::memset(data, fill, size);
    pieces.push_back({data, size, fill});
  }
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const Piece& p = pieces[i];
    ASSERT_EQ(std::count(p.data, p.data + p.size, p.fill), static_cast<std::ptrdiff_t>(p.size))
        << "allocation " << i << " was overwritten by a later one";
  }
  std::sort(pieces.begin(), pieces.end(),
            [](const Piece& a, const Piece& b) { return Address(a.data) < Address(b.data); });
  for (std::size_t i = 1; i < pieces.size(); ++i) {
    ASSERT_LE(Address(pieces[i - 1].data) + pieces[i - 1].size, Address(pieces[i].data));
  }
}

// The memtable reads MemoryUsage on other threads while the writer allocates; under TSan this
// also shows the counter is read and written without a data race.
TEST(Arena, MemoryUsageReadByAnotherThread_NeverDecreases) {
  Arena arena;
  std::atomic<bool> done{false};
  std::atomic<int> decreases{0};
  std::thread watcher([&] {
    std::size_t last = 0;
    while (!done.load(std::memory_order_acquire)) {
      const std::size_t now = arena.MemoryUsage();
      if (now < last) ++decreases;
      last = now;
    }
  });
  for (int i = 0; i < 20000; ++i) arena.Allocate(static_cast<std::size_t>(i % 200) + 1);
  done.store(true, std::memory_order_release);
  watcher.join();
  EXPECT_EQ(decreases.load(), 0);
  EXPECT_GE(arena.MemoryUsage(), 20000u * 100);
}

TEST(Arena, ZeroByteAllocation_FailsTheCheck) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Arena arena;
  EXPECT_DEATH(arena.Allocate(0), "Allocate\\(0\\)");
  EXPECT_DEATH(arena.AllocateAligned(0), "AllocateAligned\\(0\\)");
}

// ---------------------------------------------------------------------------------------------
// SkipList, single-threaded

TEST(SkipList, Empty_ContainsNothingAndIteratorsAreNeverValid) {
  Arena arena;
  List list(U64Compare{}, &arena, 1);
  EXPECT_FALSE(list.Contains(0));
  EXPECT_FALSE(list.Contains(kMaxKey));
  List::Iterator it(&list);
  EXPECT_FALSE(it.Valid()) << "a new iterator has no position";
  it.SeekToFirst();
  EXPECT_FALSE(it.Valid());
  it.SeekToLast();
  EXPECT_FALSE(it.Valid());
  it.Seek(0);
  EXPECT_FALSE(it.Valid());
  it.Seek(kMaxKey);
  EXPECT_FALSE(it.Valid());
}

TEST(SkipList, OneKey_FirstAndLastAndNoNeighbours) {
  Arena arena;
  List list(U64Compare{}, &arena, 2);
  list.Insert(42);
  List::Iterator it(&list);
  it.SeekToFirst();
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), 42u);
  it.Next();
  EXPECT_FALSE(it.Valid());
  it.SeekToLast();
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), 42u);
  it.Prev();
  EXPECT_FALSE(it.Valid());
  it.Seek(43);
  EXPECT_FALSE(it.Valid()) << "nothing >= 43";
  it.Seek(0);
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), 42u);
}

TEST(SkipList, DuplicateInsert_FailsTheCheck) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Arena arena;
  List list(U64Compare{}, &arena, 3);
  list.Insert(7);
  list.Insert(8);
  EXPECT_DEATH(list.Insert(7), "already in the list");
}

TEST(SkipList, IteratorWithoutPosition_KeyNextPrevFailTheCheck) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Arena arena;
  List list(U64Compare{}, &arena, 4);
  List::Iterator it(&list);
  EXPECT_DEATH((void)it.key(), "invalid iterator");
  EXPECT_DEATH(it.Next(), "invalid iterator");
  EXPECT_DEATH(it.Prev(), "invalid iterator");
}

// Enough keys that nodes reach the upper levels (about 20000 / 4^6 ~ 5 of height 7), which the
// small RapidCheck cases below rarely do.
TEST(SkipList, TwentyThousandShuffledKeys_IterateInOrderBothWays) {
  kv::testing::TestRandom rng;
  constexpr std::uint64_t kKeys = 20000;
  std::vector<std::uint64_t> keys(kKeys);
  for (std::uint64_t i = 0; i < kKeys; ++i) keys[i] = 2 * i + 1;  // Even numbers stay absent.
  for (std::size_t i = keys.size() - 1; i > 0; --i) std::swap(keys[i], keys[rng.Uniform(i + 1)]);

  Arena arena;
  List list(U64Compare{}, &arena, rng.Next());
  for (std::uint64_t k : keys) list.Insert(k);

  List::Iterator it(&list);
  std::uint64_t expected = 1;
  for (it.SeekToFirst(); it.Valid(); it.Next(), expected += 2) ASSERT_EQ(it.key(), expected);
  EXPECT_EQ(expected, 2 * kKeys + 1);
  expected = 2 * kKeys - 1;
  for (it.SeekToLast(); it.Valid(); it.Prev(), expected -= 2) ASSERT_EQ(it.key(), expected);
  EXPECT_EQ(expected, std::uint64_t{0} - 1) << "stopped after key 1";
  for (std::uint64_t probe = 0; probe <= 2 * kKeys + 1; probe += 97) {
    ASSERT_EQ(list.Contains(probe), probe % 2 == 1) << probe;
    it.Seek(probe);
    if (probe >= 2 * kKeys) {
      ASSERT_FALSE(it.Valid()) << probe;
    } else {
      ASSERT_TRUE(it.Valid()) << probe;
      ASSERT_EQ(it.key(), probe | 1) << probe;
    }
  }
}

// The point of the levels: a lookup costs O(log n) comparisons, not O(n). With kBranching 4 a
// search makes about 4 comparisons per level over log_4(20000) ~ 7 levels; a list whose towers
// never grew (all nodes of height 1) would make about 10000.
TEST(SkipList, TwentyThousandKeys_LookupsTakeLogarithmicallyManyComparisons) {
  struct CountingCompare {
    std::uint64_t* count;
    int operator()(const std::uint64_t& a, const std::uint64_t& b) const {
      ++*count;
      return a < b ? -1 : (a > b ? 1 : 0);
    }
  };
  kv::testing::TestRandom rng;
  std::uint64_t comparisons = 0;
  Arena arena;
  SkipList<std::uint64_t, CountingCompare> list(CountingCompare{&comparisons}, &arena, rng.Next());
  constexpr std::uint64_t kKeys = 20000;
  for (std::uint64_t i = 0; i < kKeys; ++i) list.Insert(i);
  comparisons = 0;
  constexpr std::uint64_t kLookups = 1000;
  for (std::uint64_t i = 0; i < kLookups; ++i) ASSERT_TRUE(list.Contains(rng.Uniform(kKeys)));
  EXPECT_LT(comparisons / kLookups, 100u);
  comparisons = 0;
  SkipList<std::uint64_t, CountingCompare>::Iterator it(&list);
  it.SeekToLast();
  for (std::uint64_t i = 0; i < kLookups; ++i) it.Prev();
  EXPECT_LT(comparisons / kLookups, 100u) << "Prev is a search from the head, O(log n)";
}

// Keys from a small range (so inserts repeat and Seek targets land on and between keys), mixed
// with arbitrary 64-bit values and the extremes.
rc::Gen<std::uint64_t> GenKey() {
  return rc::gen::oneOf(rc::gen::inRange<std::uint64_t>(0, 2000),
                        rc::gen::arbitrary<std::uint64_t>(),
                        rc::gen::element<std::uint64_t>(0, 1, kMaxKey - 1, kMaxKey));
}

RC_GTEST_PROP(SkipListProperty, RandomDistinctInserts_AgreeWithASetModel, ()) {
  // Scaled up from RapidCheck's default (at most 100 elements) so that some nodes reach level 4.
  const auto inserts =
      *rc::gen::scale(10, rc::gen::container<std::vector<std::uint64_t>>(GenKey()));
  const auto targets = *rc::gen::container<std::vector<std::uint64_t>>(GenKey());
  const auto seed = *rc::gen::arbitrary<std::uint64_t>();

  Arena arena;
  List list(U64Compare{}, &arena, seed);
  std::set<std::uint64_t> model;
  for (std::uint64_t k : inserts) {
    // Insert REQUIRES a new key, so repeats in the generated sequence are skipped.
    if (model.insert(k).second) list.Insert(k);
    RC_ASSERT(list.Contains(k));
  }

  for (std::uint64_t t : targets) RC_ASSERT(list.Contains(t) == model.contains(t));
  for (std::uint64_t k : model) RC_ASSERT(list.Contains(k));

  List::Iterator it(&list);
  // Both walks stop one step past the model's size, so a list that cycles fails instead of hanging.
  std::vector<std::uint64_t> forward;
  for (it.SeekToFirst(); it.Valid() && forward.size() <= model.size(); it.Next()) {
    forward.push_back(it.key());
  }
  RC_ASSERT(forward == std::vector<std::uint64_t>(model.begin(), model.end()));

  std::vector<std::uint64_t> backward;
  for (it.SeekToLast(); it.Valid() && backward.size() <= model.size(); it.Prev()) {
    backward.push_back(it.key());
  }
  RC_ASSERT(backward == std::vector<std::uint64_t>(model.rbegin(), model.rend()));

  for (std::uint64_t t : targets) {
    it.Seek(t);
    const auto at = model.lower_bound(t);
    if (at == model.end()) {
      RC_ASSERT(!it.Valid());
      continue;
    }
    RC_ASSERT(it.Valid());
    RC_ASSERT(it.key() == *at);
    // Step back and forth from the Seek position.
    it.Prev();
    if (at == model.begin()) {
      RC_ASSERT(!it.Valid());
    } else {
      RC_ASSERT(it.Valid());
      RC_ASSERT(it.key() == *std::prev(at));
      it.Next();
      RC_ASSERT(it.Valid());
      RC_ASSERT(it.key() == *at);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// SkipList, one writer and concurrent readers

// What the readers know about the writer's keys: all of them sorted, each with the position at
// which the writer inserts it. A key at position i is "finished" once the writer has published a
// count greater than i.
struct KeyPlan {
  std::vector<std::uint64_t> in_insert_order;
  std::vector<std::pair<std::uint64_t, std::size_t>> sorted;  // (key, position in insert order)
};

// Checks `seen` (what a reader collected, rearranged into ascending order) against the plan:
// strictly ascending, nothing but planned keys, and every key finished before the read
// (position < finished) within [lo, hi] present. Returns a description of the first problem, or
// "" if there is none.
std::string CheckRead(const KeyPlan& plan, const std::vector<std::uint64_t>& seen, std::uint64_t lo,
                      std::uint64_t hi, std::size_t finished) {
  auto j = std::lower_bound(plan.sorted.begin(), plan.sorted.end(), std::pair{lo, std::size_t{0}});
  auto missing_before = [&](std::uint64_t limit, bool inclusive) -> std::string {
    for (; j != plan.sorted.end() && (j->first < limit || (inclusive && j->first == limit)); ++j) {
      if (j->second < finished) {
        return "key " + std::to_string(j->first) + " (inserted " + std::to_string(j->second) +
               "th, before the read began at " + std::to_string(finished) + ") is missing";
      }
    }
    return "";
  };
  for (std::size_t i = 0; i < seen.size(); ++i) {
    if (i > 0 && seen[i - 1] >= seen[i]) {
      return "not strictly sorted: " + std::to_string(seen[i - 1]) + " then " +
             std::to_string(seen[i]);
    }
    if (std::string e = missing_before(seen[i], /*inclusive=*/false); !e.empty()) return e;
    if (j == plan.sorted.end() || j->first != seen[i]) {
      return "key " + std::to_string(seen[i]) + " was never inserted";
    }
    ++j;
  }
  return missing_before(hi, /*inclusive=*/true);
}

// U64Compare that, on a thread which sets stall_in_compare, spins for 2 us whenever a comparison
// says "not less" -- the moment a search stops on a level, right before it descends or returns
// what it loaded. That widens the reader's window between loading a link and using it from
// nanoseconds to microseconds, so the writer's inserts land inside it. (A spin, not a yield: a
// yield gives the core away for a whole time slice and the reader would almost never see a key
// while it is being inserted.)
thread_local bool stall_in_compare = false;
struct StallingCompare {
  int operator()(const std::uint64_t& a, const std::uint64_t& b) const {
    const int c = U64Compare{}(a, b);
    if (stall_in_compare && c >= 0) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(2);
      while (std::chrono::steady_clock::now() < until) {
      }
    }
    return c;
  }
};
using ConcurrentList = SkipList<std::uint64_t, StallingCompare>;

struct ReaderReport {
  int passes = 0;
  int passes_during_writes = 0;  // Passes that began before the writer had finished.
  int failures = 0;
  std::string first_failure;

  void Fail(std::string what) {
    if (failures++ == 0) first_failure = std::move(what);
  }
};

TEST(SkipList, OneWriterConcurrentReaders_EveryReadIsSortedAndHoldsEveryFinishedKey) {
  constexpr std::size_t kKeys = 20000;
  constexpr int kReaders = 3;
  constexpr int kProbesPerPass = 200;
  constexpr int kBackwardWindow = 300;
  kv::testing::TestRandom rng;

  // Distinct random odd keys, in random order; even keys are never inserted and probe absence.
  KeyPlan plan;
  std::unordered_set<std::uint64_t> unique;
  while (plan.in_insert_order.size() < kKeys) {
    const std::uint64_t k = rng.Next() | 1;
    if (unique.insert(k).second) plan.in_insert_order.push_back(k);
  }
  for (std::size_t i = 0; i < kKeys; ++i) plan.sorted.emplace_back(plan.in_insert_order[i], i);
  std::sort(plan.sorted.begin(), plan.sorted.end());

  Arena arena;
  ConcurrentList list(StallingCompare{}, &arena, rng.Next());
  // The writer stores i + 1 here (release) after its i-th Insert returns; a reader that loads n
  // (acquire) before reading knows keys 0..n-1 were inserted before its read began.
  std::atomic<std::size_t> finished{0};
  std::atomic<int> readers_ready{0};

  auto read = [&](std::uint64_t seed, ReaderReport& report) {
    Random r(seed);
    readers_ready.fetch_add(1);
    for (bool last_pass = false; !last_pass; ++report.passes) {
      const std::size_t n = finished.load(std::memory_order_acquire);
      last_pass = n == kKeys;  // One complete pass after the writer is done, then stop.
      if (n < kKeys) ++report.passes_during_writes;
      ConcurrentList::Iterator it(&list);

      // (a) The whole list, forwards.
      std::vector<std::uint64_t> seen;
      for (it.SeekToFirst(); it.Valid() && seen.size() <= kKeys; it.Next()) {
        seen.push_back(it.key());
      }
      if (std::string e = CheckRead(plan, seen, 0, kMaxKey, n); !e.empty()) {
        report.Fail("forward scan: " + e);
      }

      if (n == 0) continue;
      // (a') A window backwards with Prev, from a finished key.
      const std::uint64_t start = plan.in_insert_order[r.Uniform(n)];
      it.Seek(start);
      if (!it.Valid() || it.key() != start) {
        report.Fail("Seek(" + std::to_string(start) + ") missed a finished key");
        continue;
      }
      seen.clear();
      for (int step = 0; step < kBackwardWindow && it.Valid(); ++step, it.Prev()) {
        seen.push_back(it.key());
      }
      const std::uint64_t lo = it.Valid() ? seen.back() : 0;
      std::reverse(seen.begin(), seen.end());
      if (std::string e = CheckRead(plan, seen, lo, start, n); !e.empty()) {
        report.Fail("backward window from " + std::to_string(start) + ": " + e);
      }

      // (b) Point reads: finished keys are there, keys never inserted are not.
      for (int probe = 0; probe < kProbesPerPass; ++probe) {
        const std::uint64_t key = plan.in_insert_order[r.Uniform(n)];
        if (!list.Contains(key)) report.Fail("Contains(" + std::to_string(key) + ") is false");
        const std::uint64_t absent = r.Next() & ~std::uint64_t{1};
        if (list.Contains(absent)) report.Fail("Contains(" + std::to_string(absent) + ") is true");
      }
    }
  };

  // (c) A fourth reader follows the writer, with stalls in its comparisons (StallingCompare): it
  // repeats Seek(k + 1) (never a key) and Seek(k) for the key k being inserted right now, so the
  // writer links k in while those searches hold links they loaded. Seek(k + 1) must land on a
  // key > k even if k appeared meanwhile (a search that re-read its level-0 link after the
  // stall would return k). Once Seek(k) finds k, Next must go on to a key > k, or to the end of
  // the list only if no finished key is larger than k.
  std::vector<std::uint64_t> largest_finished(kKeys + 1, 0);  // Max of the first n keys.
  for (std::size_t i = 0; i < kKeys; ++i) {
    largest_finished[i + 1] = std::max(largest_finished[i], plan.in_insert_order[i]);
  }
  ReaderReport chaser;
  int caught_in_flight = 0;  // Times the chaser found k before the writer announced it.
  auto chase = [&] {
    stall_in_compare = true;
    readers_ready.fetch_add(1);
    for (;;) {
      const std::size_t n = finished.load(std::memory_order_acquire);
      if (n == kKeys) break;
      const std::uint64_t k = plan.in_insert_order[n];
      ConcurrentList::Iterator it(&list);
      it.Seek(k + 1);
      if (it.Valid() && it.key() <= k) {
        chaser.Fail("Seek(" + std::to_string(k + 1) + ") landed on " + std::to_string(it.key()));
      }
      it.Seek(k);
      if (!it.Valid() || it.key() != k) continue;
      ++caught_in_flight;
      it.Next();
      if (it.Valid() ? it.key() <= k : largest_finished[n] > k) {
        chaser.Fail("after key " + std::to_string(k) + " being inserted came " +
                    (it.Valid() ? std::to_string(it.key()) : "the end of the list") + ", but key " +
                    std::to_string(largest_finished[n]) + " was finished");
      }
    }
  };

  std::vector<ReaderReport> reports(kReaders);
  std::vector<std::thread> readers;
  for (int i = 0; i < kReaders; ++i) readers.emplace_back(read, rng.Next(), std::ref(reports[i]));
  readers.emplace_back(chase);
  std::thread writer([&] {
    // Start once every reader is running, so reads overlap the inserts.
    while (readers_ready.load() < kReaders + 1) std::this_thread::yield();
    for (std::size_t i = 0; i < kKeys; ++i) {
      list.Insert(plan.in_insert_order[i]);
      finished.store(i + 1, std::memory_order_release);
      // With two cores shared by five threads, let the readers run mid-insert now and then.
      if (i % 256 == 0) std::this_thread::yield();
    }
  });
  writer.join();
  for (auto& t : readers) t.join();

  int passes_during_writes = 0;
  for (int i = 0; i < kReaders; ++i) {
    SCOPED_TRACE("reader " + std::to_string(i));
    EXPECT_EQ(reports[i].failures, 0) << reports[i].first_failure;
    passes_during_writes += reports[i].passes_during_writes;
    std::printf("[  INFO    ] reader %d: %d passes, %d while the writer was inserting\n", i,
                reports[i].passes, reports[i].passes_during_writes);
  }
  EXPECT_EQ(chaser.failures, 0) << chaser.first_failure;
  std::printf("[  INFO    ] chaser: found %d of %zu keys before the writer announced them\n",
              caught_in_flight, kKeys);
  EXPECT_GT(passes_during_writes, 0) << "no read overlapped the writer: the test proved nothing";
}

}  // namespace
}  // namespace kv::storage::lsm
