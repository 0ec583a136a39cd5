// The B+tree with a data set ~450 times its buffer pool: a million keys through 64 frames of
// 4 KiB, inserted in random order, read back in order, then 90% deleted in random order so
// merges and redistributions run through a tree that does not fit in memory. Label `slow`.
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/mem_file_system.h"
#include "common/random.h"
#include "common/testing/status_matchers.h"
#include "phase2_storage/btree/btree_engine.h"
#include "tests/phase2_storage/btree/small_btree_options.h"

namespace kv::storage::btree {
namespace {

TEST(BTreeLarge, MillionKeysThrough64Frames_InsertReadDeleteRandomly_InvariantsHold) {
  auto fs = NewMemFileSystem();
  BTreeOptions o;
  o.buffer_pool_bytes = 64 * 4096;
  o.checkpoint_log_bytes = 32 << 20;
  ASSERT_OK_AND_ASSIGN(auto engine, BTreeEngine::Open(*fs, "db", o));
  constexpr int kKeys = 1'000'000;
  Random rnd(3);
  std::vector<int> order = ShuffledKeys(kKeys, rnd);
  auto key = [](int i) { return fmt::format("{:016}", i); };
  auto value = [](int i) { return fmt::format("{:08}", i) + std::string(92, 'v'); };
  for (int i : order) ASSERT_OK(engine->Put({}, key(i), value(i)));
  EXPECT_GT(engine->stats().pages, 400u * 64) << engine->DescribeState();
  auto it = engine->NewIterator({});
  int n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++n) {
    ASSERT_EQ(it->key(), key(n));
    ASSERT_EQ(it->value(), value(n));
  }
  ASSERT_OK(it->status());
  ASSERT_EQ(n, kKeys);
  it.reset();
  Shuffle(order, rnd);
  for (std::size_t k = 0; k < order.size() * 9 / 10; ++k)
    ASSERT_OK(engine->Delete({}, key(order[k])));
  ASSERT_OK(engine->CheckInvariants());
  const auto s = engine->stats();
  EXPECT_GT(s.merges, 1000u) << engine->DescribeState();
  for (std::size_t k = 0; k < order.size(); k += 101) {
    auto got = engine->Get({}, key(order[k]));
    if (k < order.size() * 9 / 10) {
      ASSERT_EQ(got.error().code(), StatusCode::kNotFound);
    } else {
      ASSERT_OK_AND_ASSIGN(auto v, std::move(got));
      ASSERT_EQ(v, value(order[k]));
    }
  }
}

}  // namespace
}  // namespace kv::storage::btree
