// The memtable, the merging iterator and the block cache: the in-memory pieces of the LSM tree.
#include <algorithm>
#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "common/testing/seed.h"
#include "common/testing/status_matchers.h"
#include "phase2_storage/lsm/block_builder.h"
#include "phase2_storage/lsm/block_cache.h"
#include "phase2_storage/lsm/memtable.h"
#include "phase2_storage/lsm/merging_iterator.h"

namespace kv::storage::lsm {
namespace {

// The model of a memtable: every version, in internal-key order.
using Model = std::map<std::string, std::string, bool (*)(const std::string&, const std::string&)>;
bool InternalLess(const std::string& a, const std::string& b) {
  return CompareInternalKeys(a, b) < 0;
}

RC_GTEST_PROP(MemTable, RandomVersions_MatchTheModel, ()) {
  MemTable mem(*rc::gen::arbitrary<std::uint64_t>());
  Model model(InternalLess);
  const auto keys = *rc::gen::container<std::vector<std::string>>(rc::gen::nonEmpty(
      rc::gen::container<std::string>(rc::gen::elementOf(std::string("abc\0", 4)))));
  RC_PRE(!keys.empty());
  SequenceNumber seq = 0;
  const int writes = *rc::gen::inRange(1, 200);
  for (int i = 0; i < writes; ++i) {
    const std::string& key = keys[*rc::gen::inRange<std::size_t>(0, keys.size())];
    const bool del = *rc::gen::inRange(0, 4) == 0;
    const std::string value = del ? "" : *rc::gen::arbitrary<std::string>();
    seq += *rc::gen::inRange<SequenceNumber>(1, 3);
    const EntryKind kind = del ? EntryKind::kDelete : EntryKind::kValue;
    mem.Add(seq, kind, key, value);
    model.emplace(MakeInternalKey(key, seq, kind), value);
  }
  // A full scan returns every version in internal-key order.
  auto it = mem.NewIterator();
  auto m = model.begin();
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++m) {
    RC_ASSERT(m != model.end());
    RC_ASSERT(std::string(it->key()) == m->first);
    RC_ASSERT(std::string(it->value()) == m->second);
  }
  RC_ASSERT(m == model.end());
  RC_ASSERT(mem.entries() == model.size());
  // Get as of any sequence returns the newest version at or before it.
  for (const std::string& key : keys) {
    const SequenceNumber at = *rc::gen::inRange<SequenceNumber>(0, seq + 2);
    auto got = mem.Get(LookupKey(key, at));
    auto expect = model.lower_bound(MakeInternalKey(key, at, kKindForSeek));
    if (expect == model.end() || ExtractUserKey(expect->first) != key) {
      RC_ASSERT(!got.has_value());
      continue;
    }
    RC_ASSERT(got.has_value());
    const std::uint64_t trailer = ExtractTrailer(expect->first);
    RC_ASSERT(got->sequence == trailer >> 8);
    RC_ASSERT(static_cast<std::uint64_t>(got->kind) == (trailer & 0xff));
    RC_ASSERT(got->value == expect->second);
  }
}

TEST(MemTable, ConcurrentReaders_SeeEveryVersionPublishedBeforeTheyLook) {
  MemTable mem(1);
  constexpr int kWrites = 20000;
  std::atomic<int> published{0};
  std::thread writer([&] {
    for (int i = 1; i <= kWrites; ++i) {
      mem.Add(static_cast<SequenceNumber>(i), EntryKind::kValue, fmt::format("k{:05}", i % 997),
              fmt::format("v{}", i));
      published.store(i, std::memory_order_release);
    }
  });
  std::vector<std::thread> readers;
  std::atomic<int> failures{0};
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      while (published.load(std::memory_order_acquire) < kWrites) {
        const int seen = published.load(std::memory_order_acquire);
        if (seen == 0) continue;
        // The newest version of the key written at `seen` is at least that write.
        auto got = mem.Get(LookupKey(fmt::format("k{:05}", seen % 997), kMaxSequenceNumber));
        if (!got || got->sequence < static_cast<SequenceNumber>(seen)) ++failures;
      }
    });
  }
  writer.join();
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(mem.entries(), static_cast<std::uint64_t>(kWrites));
}

TEST(MemTable, MemoryUsage_GrowsWithTheEntries) {
  MemTable mem;
  const std::size_t before = mem.MemoryUsage();
  for (int i = 0; i < 1000; ++i)
    mem.Add(i + 1, EntryKind::kValue, fmt::format("{:016}", i), std::string(100, 'v'));
  // 1000 entries of 16 + 8 + 100 bytes at least.
  EXPECT_GE(mem.MemoryUsage() - before, 1000u * 124);
}

// A sorted vector as an iterator, for feeding the merging iterator.
class VectorIterator final : public Iterator {
 public:
  explicit VectorIterator(std::vector<std::pair<std::string, std::string>> entries,
                          Status fail_at_end = Status::Ok())
      : entries_(std::move(entries)), fail_(std::move(fail_at_end)) {}
  bool Valid() const override { return pos_ < entries_.size(); }
  void SeekToFirst() override { Settle(0); }
  void Seek(std::string_view target) override {
    std::size_t i = 0;
    while (i < entries_.size() && entries_[i].first < target) ++i;
    Settle(i);
  }
  void Next() override { Settle(pos_ + 1); }
  std::string_view key() const override { return entries_[pos_].first; }
  std::string_view value() const override { return entries_[pos_].second; }
  Status status() const override { return status_; }

 private:
  void Settle(std::size_t pos) {
    pos_ = pos;
    if (pos_ >= entries_.size()) status_ = fail_;
  }
  std::vector<std::pair<std::string, std::string>> entries_;
  Status fail_;
  std::size_t pos_ = 0;
  Status status_;
};

int Bytewise(std::string_view a, std::string_view b) { return CompareUserKeys(a, b); }

RC_GTEST_PROP(MergingIterator, DisjointSortedChildren_MergeIntoTheirSortedUnion, ()) {
  const auto all = *rc::gen::unique<std::vector<std::string>>(rc::gen::arbitrary<std::string>());
  const int n = *rc::gen::inRange(1, 6);
  std::vector<std::vector<std::pair<std::string, std::string>>> parts(static_cast<std::size_t>(n));
  for (const std::string& k : all) {
    parts[*rc::gen::inRange<std::size_t>(0, parts.size())].emplace_back(k, "v" + k);
  }
  std::vector<std::unique_ptr<Iterator>> children;
  for (auto& p : parts) {
    std::sort(p.begin(), p.end());
    children.push_back(std::make_unique<VectorIterator>(p));
  }
  auto merged = NewMergingIterator(std::move(children), Bytewise);
  std::vector<std::string> sorted = all;
  std::sort(sorted.begin(), sorted.end());
  std::size_t i = 0;
  for (merged->SeekToFirst(); merged->Valid(); merged->Next(), ++i) {
    RC_ASSERT(i < sorted.size());
    RC_ASSERT(std::string(merged->key()) == sorted[i]);
    RC_ASSERT(std::string(merged->value()) == "v" + sorted[i]);
  }
  RC_ASSERT(i == sorted.size());
  RC_ASSERT(merged->status().ok());
  const std::string target = *rc::gen::arbitrary<std::string>();
  merged->Seek(target);
  auto lb = std::lower_bound(sorted.begin(), sorted.end(), target);
  if (lb == sorted.end()) {
    RC_ASSERT(!merged->Valid());
  } else {
    RC_ASSERT(merged->Valid());
    RC_ASSERT(std::string(merged->key()) == *lb);
  }
}

TEST(MergingIterator, FailingChild_StopsTheMergeWithItsStatus) {
  std::vector<std::unique_ptr<Iterator>> children;
  children.push_back(std::make_unique<VectorIterator>(
      std::vector<std::pair<std::string, std::string>>{{"a", "1"}, {"c", "3"}}));
  // This child fails once it runs out: the merge must not go on to return "c" as if the failed
  // child simply had no more keys.
  children.push_back(std::make_unique<VectorIterator>(
      std::vector<std::pair<std::string, std::string>>{{"b", "2"}},
      Status::Corruption("000007.sst: checksum mismatch in block at offset 0")));
  auto merged = NewMergingIterator(std::move(children), Bytewise);
  std::vector<std::string> seen;
  for (merged->SeekToFirst(); merged->Valid(); merged->Next()) seen.emplace_back(merged->key());
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b"}));
  EXPECT_STATUS(merged->status(), StatusCode::kCorruption);
}

std::shared_ptr<const Block> MakeBlock(std::size_t value_size) {
  BlockBuilder b(16);
  b.Add(MakeInternalKey("k", 1, EntryKind::kValue), std::string(value_size, 'x'));
  return Block::Parse(std::string(b.Finish()), "test block").value();
}

TEST(BlockCache, OverBudget_EvictsTheLeastRecentlyUsed) {
  // 16 shards of 64 KiB; every block goes wherever its key hashes, so fill one key's shard.
  BlockCache cache(16 * 64 * 1024);
  const auto block = MakeBlock(10 * 1024);
  std::vector<std::uint64_t> offsets;
  for (std::uint64_t off = 0; offsets.size() < 200; off += 4096) offsets.push_back(off);
  for (std::uint64_t off : offsets) cache.Insert(1, off, block);
  const auto stats = cache.stats();
  EXPECT_LE(stats.bytes, cache.capacity());
  EXPECT_GT(stats.evictions, 0u);
  // The most recent insert is still there; the very first is long gone.
  EXPECT_NE(cache.Lookup(1, offsets.back()), nullptr);
  EXPECT_EQ(cache.Lookup(1, offsets.front()), nullptr);
}

TEST(BlockCache, LookupRefreshesAnEntry_AndEraseFileDropsItsBlocks) {
  BlockCache cache(16 * 1024 * 1024);
  const auto block = MakeBlock(100);
  cache.Insert(7, 0, block);
  cache.Insert(8, 0, block);
  EXPECT_EQ(cache.Lookup(7, 0), block);
  EXPECT_EQ(cache.Lookup(7, 4096), nullptr);
  cache.EraseFile(7);
  EXPECT_EQ(cache.Lookup(7, 0), nullptr);
  EXPECT_EQ(cache.Lookup(8, 0), block);
  const auto stats = cache.stats();
  EXPECT_EQ(stats.hits, 2u);
  EXPECT_EQ(stats.misses, 2u);
  EXPECT_EQ(stats.bytes, block->size());
}

TEST(BlockCache, EvictedBlock_StaysAliveForItsReader) {
  BlockCache cache(16 * 8 * 1024);
  auto held = MakeBlock(6 * 1024);
  cache.Insert(1, 0, held);
  std::shared_ptr<const Block> reader = cache.Lookup(1, 0);
  ASSERT_NE(reader, nullptr);
  cache.EraseFile(1);
  held.reset();
  // The cache let go, the reader still holds a whole block.
  auto it = Block::NewIterator(reader, CompareInternalKeys);
  it->SeekToFirst();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->value().size(), 6u * 1024);
}

}  // namespace
}  // namespace kv::storage::lsm
