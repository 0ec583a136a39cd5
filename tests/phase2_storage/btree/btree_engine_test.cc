// The B+tree end to end: a model-based property test against std::map with checkpoints,
// reopens and snapshots interleaved and every structural invariant checked after each step; a
// data set far larger than the buffer pool; bad input; flipped bits in pages; the dumps.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "common/fault_file_system.h"
#include "common/mem_file_system.h"
#include "common/random.h"
#include "common/testing/status_matchers.h"
#include "phase2_storage/btree/btree_engine.h"
#include "tests/phase2_storage/btree/readers_during_batches.h"
#include "tests/phase2_storage/btree/small_btree_options.h"

namespace kv::storage::btree {
namespace {

using Model = std::map<std::string, std::string>;

Model ScanAll(const OrderedEngine& engine, const Snapshot* snapshot = nullptr) {
  ReadOptions ro;
  ro.snapshot = snapshot;
  Model out;
  auto it = engine.NewIterator(ro);
  std::string previous;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    RC_ASSERT(out.empty() || std::string(it->key()) > previous);
    previous = std::string(it->key());
    out.emplace(it->key(), it->value());
  }
  RC_ASSERT(it->status().ok());
  return out;
}

// Keys of varied lengths (short, and up to the page's limit), so splits are uneven and
// separators differ in size; values from empty to several pages (overflow chains).
std::string KeyFor(int i, std::size_t max_key) {
  std::string k = fmt::format("k{:04}", i);
  if (i % 7 == 3) k.append(std::min<std::size_t>(max_key - k.size(), 40 + i % 200), 'p');
  return k;
}

std::string ValueFor(int step, int size) {
  return fmt::format("v{}-", step) + std::string(size, 'x');
}

RC_GTEST_PROP(BTreeModel, RandomOps_MatchStdMap_InvariantsHoldAfterEveryStep, ()) {
  auto fs = NewMemFileSystem();
  const BTreeOptions options = SmallBTreeOptions();
  auto engine = BTreeEngine::Open(*fs, "db", options).value();
  const std::size_t max_key = engine->limits().max_key_bytes;
  Model model;
  std::optional<std::pair<std::unique_ptr<Snapshot>, Model>> held;
  const int steps = *rc::gen::inRange(50, 500);
  const int key_space = *rc::gen::inRange(20, 400);
  auto key_gen =
      rc::gen::map(rc::gen::inRange(0, key_space), [&](int i) { return KeyFor(i, max_key); });
  auto size_gen = rc::gen::weightedOneOf<int>({{8, rc::gen::inRange(0, 60)},
                                               {2, rc::gen::inRange(60, 400)},
                                               {1, rc::gen::inRange(400, 5000)}});
  for (int step = 0; step < steps; ++step) {
    const int op = *rc::gen::inRange(0, 100);
    RC_LOG() << "step " << step << " op " << op << "\n";
    if (op < 50) {
      const std::string k = *key_gen;
      const std::string v = ValueFor(step, *size_gen);
      RC_ASSERT(engine->Put({}, k, v).ok());
      model[k] = v;
    } else if (op < 70) {
      const std::string k = *key_gen;
      RC_ASSERT(engine->Delete({}, k).ok());
      model.erase(k);
    } else if (op < 76) {
      WriteBatch b;
      Model after = model;
      const int n = *rc::gen::inRange(1, 8);
      for (int i = 0; i < n; ++i) {
        const std::string k = *key_gen;
        if (*rc::gen::arbitrary<bool>()) {
          const std::string v = ValueFor(step * 10 + i, *size_gen);
          b.Put(k, v);
          after[k] = v;
        } else {
          b.Delete(k);
          after.erase(k);
        }
      }
      RC_ASSERT(engine->Write({}, b).ok());
      model = std::move(after);
    } else if (op < 84) {
      const std::string k = *key_gen;
      auto got = engine->Get({}, k);
      auto m = model.find(k);
      if (m == model.end()) {
        RC_ASSERT(got.error().code() == StatusCode::kNotFound);
      } else {
        RC_ASSERT(got.has_value());
        RC_ASSERT(*got == m->second);
      }
    } else if (op < 88) {
      // Seek to a random key, walk a few entries.
      const std::string target = *key_gen;
      auto it = engine->NewIterator({});
      it->Seek(target);
      auto m = model.lower_bound(target);
      for (int i = 0; i < 5; ++i, it->Next(), ++m) {
        RC_ASSERT(it->Valid() == (m != model.end()));
        if (m == model.end()) break;
        RC_ASSERT(it->key() == m->first);
        RC_ASSERT(it->value() == m->second);
      }
      RC_ASSERT(it->status().ok());
    } else if (op < 91) {
      RC_ASSERT(ScanAll(*engine) == model);
    } else if (op < 94) {
      if (held) {
        RC_ASSERT(ScanAll(*engine, held->first.get()) == held->second);
        held.reset();
      } else {
        held.emplace(engine->GetSnapshot(), model);
      }
    } else if (op < 97) {
      RC_ASSERT(engine->Checkpoint().ok());
    } else {
      held.reset();
      engine.reset();
      engine = BTreeEngine::Open(*fs, "db", options).value();
    }
    const Status invariants = engine->CheckInvariants();
    if (!invariants.ok()) RC_FAIL(invariants.ToString());
  }
  RC_ASSERT(ScanAll(*engine) == model);
  if (held) RC_ASSERT(ScanAll(*engine, held->first.get()) == held->second);
}

// Deleting everything in random order leaves an empty root leaf and every page on the free list.
TEST(BTree, InsertThenDeleteAll_TreeShrinksToOneLeaf_AllOtherPagesFree) {
  auto fs = NewMemFileSystem();
  ASSERT_OK_AND_ASSIGN(auto engine, BTreeEngine::Open(*fs, "db", SmallBTreeOptions()));
  Random rnd(7);
  std::vector<int> order = ShuffledKeys(3000, rnd);
  for (int i : order) {
    ASSERT_OK(engine->Put({}, fmt::format("key{:06}", i), std::string((i * 37) % 300, 'v')));
  }
  ASSERT_OK(engine->CheckInvariants());
  EXPECT_GE(engine->stats().height, 3u);
  Shuffle(order, rnd);
  for (int i : order) {
    ASSERT_OK(engine->Delete({}, fmt::format("key{:06}", i)));
    if (i % 97 == 0) ASSERT_OK(engine->CheckInvariants());
  }
  ASSERT_OK(engine->CheckInvariants());
  const auto s = engine->stats();
  EXPECT_EQ(s.height, 1u);
  EXPECT_EQ(s.free_pages, s.pages - 2) << "every page but the meta page and the root is free";
  EXPECT_GT(s.merges, 0u);
  EXPECT_GT(s.redistributions, 0u);
}

// Keys in ascending order fill each leaf before starting the next (the split at the end of the
// last leaf moves only a small tail), so the tree takes few more pages than its bytes need.
TEST(BTree, AscendingInserts_LeavesFilledAlmostFull_InvariantsHold) {
  auto fs = NewMemFileSystem();
  ASSERT_OK_AND_ASSIGN(auto engine, BTreeEngine::Open(*fs, "db", SmallBTreeOptions()));
  constexpr int kKeys = 5000;
  for (int i = 0; i < kKeys; ++i)
    ASSERT_OK(engine->Put({}, fmt::format("{:016}", i), std::string(50, 'v')));
  ASSERT_OK(engine->CheckInvariants());
  // Each entry takes 2 + 6 + 16 + 50 = 74 bytes of a 1000-byte page: 13 per page when full.
  const auto s = engine->stats();
  EXPECT_LT(s.pages, kKeys / 13 * 115 / 100) << engine->DescribeState();
}

// Far more data than the pool holds: 64 frames of 4 KiB (256 KiB) against ~12 MiB of pages.
TEST(BTree, DataManyTimesThePool_64Frames_AllReadBackInOrder) {
  auto fs = NewMemFileSystem();
  BTreeOptions o;
  o.buffer_pool_bytes = 64 * 4096;
  o.checkpoint_log_bytes = 4 << 20;
  ASSERT_OK_AND_ASSIGN(auto engine, BTreeEngine::Open(*fs, "db", o));
  constexpr int kKeys = 100'000;
  Random rnd(11);
  const std::vector<int> order = ShuffledKeys(kKeys, rnd);
  auto value = [](int i) { return fmt::format("value-{:08}-{}", i, std::string(80, 'v')); };
  for (int i : order) ASSERT_OK(engine->Put({}, fmt::format("{:016}", i), value(i)));
  const auto s = engine->stats();
  EXPECT_GT(s.pool.evictions, 10u * 64) << engine->DescribeState();
  EXPECT_GT(s.pages, 40u * 64);
  ASSERT_OK(engine->CheckInvariants());
  for (int i = 0; i < kKeys; i += 37) {
    ASSERT_OK_AND_ASSIGN(auto got, engine->Get({}, fmt::format("{:016}", i)));
    ASSERT_EQ(got, value(i));
  }
  auto it = engine->NewIterator({});
  int n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++n) {
    ASSERT_EQ(it->key(), fmt::format("{:016}", n));
  }
  ASSERT_OK(it->status());
  EXPECT_EQ(n, kKeys);
}

// Readers never see half a write (readers_during_batches.h), in memory: every page resident or
// read through the pool, overflow values now and then.
TEST(BTreeConcurrency, ReadersDuringBatches_SeeWholeBatchesOnly_NeverForeignValues) {
  auto fs = NewMemFileSystem();
  ASSERT_OK_AND_ASSIGN(auto engine, BTreeEngine::Open(*fs, "db", SmallBTreeOptions()));
  RunReadersDuringBatches(*engine, BatchRace{});
}

TEST(BTree, BadInput_InvalidArgumentAndNothingChanges) {
  auto fs = NewMemFileSystem();
  ASSERT_OK_AND_ASSIGN(auto engine, BTreeEngine::Open(*fs, "db", SmallBTreeOptions()));
  const auto limits = engine->limits();
  ASSERT_OK(engine->Put({}, "a", "1"));
  EXPECT_EQ(engine->Put({}, "", "x").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(engine->Put({}, std::string(limits.max_key_bytes + 1, 'k'), "x").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(engine->Put({}, "b", std::string(limits.max_value_bytes + 1, 'v')).code(),
            StatusCode::kInvalidArgument);
  WriteBatch batch;
  batch.Put("c", "3");
  batch.Put("", "bad");
  EXPECT_EQ(engine->Write({}, batch).code(), StatusCode::kInvalidArgument);
  // The limits themselves are accepted.
  ASSERT_OK(engine->Put({}, std::string(limits.max_key_bytes, 'k'), "max key"));
  ASSERT_OK(engine->Put({}, "big", std::string(limits.max_value_bytes, 'v')));
  ASSERT_OK(engine->CheckInvariants());
  EXPECT_EQ(engine->Get({}, "c").error().code(), StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(auto big, engine->Get({}, "big"));
  EXPECT_EQ(big.size(), limits.max_value_bytes);
}

TEST(BTree, Open_PageSizeNotAPowerOfTwoOrPoolTooSmall_InvalidArgument) {
  auto fs = NewMemFileSystem();
  BTreeOptions o;
  o.page_size = 3000;
  EXPECT_EQ(BTreeEngine::Open(*fs, "db", o).error().code(), StatusCode::kInvalidArgument);
  o.page_size = 4096;
  o.buffer_pool_bytes = 63 * 4096;
  EXPECT_EQ(BTreeEngine::Open(*fs, "db", o).error().code(), StatusCode::kInvalidArgument);
}

TEST(BTree, ReopenWithAnotherPageSize_InvalidArgumentNamingBoth) {
  auto fs = NewMemFileSystem();
  { ASSERT_OK(BTreeEngine::Open(*fs, "db", SmallBTreeOptions()).status()); }
  BTreeOptions o = SmallBTreeOptions();
  o.page_size = 2048;
  o.buffer_pool_bytes = 128 * 2048;
  auto reopened = BTreeEngine::Open(*fs, "db", o);
  ASSERT_FALSE(reopened.has_value());
  EXPECT_NE(reopened.error().message().find("1024"), std::string::npos)
      << reopened.error().ToString();
}

// A bit flipped anywhere in any page: a read that needs that page fails with kCorruption naming
// it; no read ever returns a wrong value.
TEST(BTree, FlippedBitInAnyPage_CorruptionNamingThePage_NeverWrongData) {
  auto base_fs = NewMemFileSystem();
  FaultInjectionFileSystem fs(*base_fs);
  const BTreeOptions options = SmallBTreeOptions();
  Model model;
  {
    ASSERT_OK_AND_ASSIGN(auto engine, BTreeEngine::Open(fs, "db", options));
    for (int i = 0; i < 400; ++i) {
      const std::string k = fmt::format("key{:04}", i);
      const std::string v = fmt::format("value{}", i) + std::string(i % 5 == 0 ? 1500 : 20, 'v');
      ASSERT_OK(engine->Put({}, k, v));
      model[k] = v;
    }
  }  // Closed with a checkpoint: everything is in pages.db.
  ASSERT_OK_AND_ASSIGN(std::uint64_t size, fs.FileSize("db/pages.db"));
  const std::size_t ps = options.page_size;
  int corruptions = 0;
  for (std::uint64_t page = 0; page < size / ps; ++page) {
    SCOPED_TRACE(fmt::format("page {}", page));
    const std::uint64_t offset = page * ps + (page * 389 + 17) % ps;
    fs.ClearFaults();
    fs.FlipBitOnRead("db/pages.db", offset, static_cast<int>(page % 8));
    auto engine = BTreeEngine::Open(fs, "db", options);
    if (!engine.has_value()) {
      EXPECT_EQ(engine.error().code(), StatusCode::kCorruption) << engine.error().ToString();
      EXPECT_NE(engine.error().message().find(fmt::format("page {}", page)), std::string::npos)
          << engine.error().ToString();
      ++corruptions;
      continue;
    }
    bool saw = false;
    for (const auto& [k, v] : model) {
      auto got = (*engine)->Get({}, k);
      if (got.has_value()) {
        ASSERT_EQ(*got, v) << "wrong data for " << k;
      } else {
        ASSERT_EQ(got.error().code(), StatusCode::kCorruption) << got.error().ToString();
        EXPECT_NE(got.error().message().find(fmt::format("page {}", page)), std::string::npos)
            << got.error().ToString();
        saw = true;
      }
    }
    auto it = (*engine)->NewIterator({});
    for (it->SeekToFirst(); it->Valid(); it->Next())
      ASSERT_EQ(model.at(std::string(it->key())), it->value());
    if (!it->status().ok()) saw = true;
    corruptions += saw;
  }
  fs.ClearFaults();
  // Every page of this tree is in use (no deletes), so every flip must have been noticed.
  EXPECT_EQ(corruptions, static_cast<int>(size / ps));
}

TEST(BTree, DumpText_AndDot_ShowEveryPageAndTheSiblingLinks) {
  auto fs = NewMemFileSystem();
  ASSERT_OK_AND_ASSIGN(auto engine, BTreeEngine::Open(*fs, "db", SmallBTreeOptions()));
  for (int i = 0; i < 200; ++i)
    ASSERT_OK(engine->Put({}, fmt::format("key{:03}", i), std::string(30, 'v')));
  ASSERT_OK_AND_ASSIGN(std::string text, engine->DumpText());
  EXPECT_NE(text.find("internal "), std::string::npos) << text;
  EXPECT_NE(text.find("leaf "), std::string::npos) << text;
  EXPECT_NE(text.find("'key199'"), std::string::npos) << text;
  ASSERT_OK_AND_ASSIGN(std::string dot, engine->DumpDot());
  EXPECT_TRUE(dot.starts_with("digraph btree {")) << dot;
  EXPECT_NE(dot.find("style=dashed"), std::string::npos) << dot;
  const auto s = engine->stats();
  // One DOT node per page of the tree: every page but the meta page (nothing was freed).
  std::size_t nodes = 0;
  for (std::size_t at = dot.find("[label="); at != std::string::npos;
       at = dot.find("[label=", at + 1))
    ++nodes;
  EXPECT_EQ(nodes, s.pages - 1 - s.free_pages) << dot;
}

}  // namespace
}  // namespace kv::storage::btree
