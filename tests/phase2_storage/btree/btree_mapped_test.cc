// The B+tree on the POSIX file system, where a read's leaf that is not in the buffer pool is
// copied from a mapping of the page file (BufferPool::ReadUncached). The in-memory and
// fault-injecting file systems never map, so the other suites take the pinning path only; these
// tests make the mapped path carry the reads: every value read back, a flipped bit on disk
// reported as kCorruption naming the page, and readers seeing whole batches while the writer's
// evictions rewrite the pages they copy.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/posix_file_system.h"
#include "common/random.h"
#include "common/testing/status_matchers.h"
#include "phase2_storage/btree/btree_engine.h"
#include "tests/phase2_storage/btree/readers_during_batches.h"
#include "tests/phase2_storage/btree/small_btree_options.h"

namespace kv::storage::btree {
namespace {

class BTreeMappedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = ::testing::TempDir() + "btree_mapped_test_XXXXXX";
    ASSERT_NE(::mkdtemp(templ.data()), nullptr) << "mkdtemp: " << std::strerror(errno);
    root_ = templ;
    dir_ = (root_ / "db").string();
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
    EXPECT_FALSE(ec) << "removing " << root_ << ": " << ec.message();
  }

  std::unique_ptr<FileSystem> fs_ = NewPosixFileSystem();
  std::filesystem::path root_;
  std::string dir_;
};

std::string Key(int i) { return fmt::format("{:016}", i); }
std::string Value(int i) { return fmt::format("value-{:08}-", i) + std::string(i % 50, 'v'); }

TEST_F(BTreeMappedTest, LeavesReadAroundThePool_EveryValueBack_TheirFramesUntouched) {
  constexpr int kKeys = 20'000;
  const BTreeOptions o = SmallBTreeOptions();  // 1 KiB pages, 64 frames.
  Random rnd(5);
  {
    ASSERT_OK_AND_ASSIGN(auto engine, BTreeEngine::Open(*fs_, dir_, o));
    for (int i : ShuffledKeys(kKeys, rnd)) ASSERT_OK(engine->Put({}, Key(i), Value(i)));
  }
  ASSERT_OK_AND_ASSIGN(auto engine, BTreeEngine::Open(*fs_, dir_, o));
  const auto before = engine->stats();
  for (int i : ShuffledKeys(kKeys, rnd)) {
    ASSERT_OK_AND_ASSIGN(std::string got, engine->Get({}, Key(i)));
    ASSERT_EQ(got, Value(i));
  }
  EXPECT_EQ(engine->Get({}, Key(kKeys)).error().code(), StatusCode::kNotFound);
  const auto after = engine->stats();
  ASSERT_GT(after.pages, 10u * 64) << "the tree must be far larger than the pool";
  // Nearly every Get found its leaf outside the pool and copied it; those copies took no frame,
  // so the pool's misses were upper pages only (through the pool, each Get would miss on its leaf).
  EXPECT_GT(after.pool.uncached_reads - before.pool.uncached_reads, kKeys * 9u / 10)
      << engine->DescribeState();
  EXPECT_LT(after.pool.misses - before.pool.misses, kKeys / 10) << engine->DescribeState();
  // What the benchmark reports as read amplification counts both kinds of page read.
  EXPECT_EQ(*engine->BlocksRead(), after.pool.misses + after.pool.uncached_reads);
  auto it = engine->NewIterator({});
  int n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++n) {
    ASSERT_EQ(it->key(), Key(n));
    ASSERT_EQ(it->value(), Value(n));
  }
  ASSERT_OK(it->status());
  EXPECT_EQ(n, kKeys);
}

// A bit flipped on disk in any page: the copy fails its check, the pool reads the page again, and
// the read reports kCorruption naming the page. No read returns a wrong value.
TEST_F(BTreeMappedTest, FlippedBitOnDiskInAnyPage_CorruptionNamingThePage_NeverWrongData) {
  constexpr int kKeys = 1000;
  const BTreeOptions o = SmallBTreeOptions();
  {
    ASSERT_OK_AND_ASSIGN(auto engine, BTreeEngine::Open(*fs_, dir_, o));
    for (int i = 0; i < kKeys; ++i) ASSERT_OK(engine->Put({}, Key(i), Value(i)));
  }  // Closed with a checkpoint: everything is in pages.db.
  const std::string path = dir_ + "/pages.db";
  const auto size = std::filesystem::file_size(path);
  const std::size_t ps = o.page_size;
  ASSERT_GT(size / ps, 64u) << "more pages than frames, so that some leaves are copied";
  auto flip = [&](std::uint64_t offset, int bit) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ (1 << bit));
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(&c, 1);
  };
  int noticed = 0;
  std::uint64_t copied = 0;
  for (std::uint64_t page = 0; page < size / ps; ++page) {
    SCOPED_TRACE(fmt::format("page {}", page));
    const std::uint64_t offset = page * ps + (page * 389 + 17) % ps;
    const int bit = static_cast<int>(page % 8);
    flip(offset, bit);
    bool saw = false;
    {
      auto engine = BTreeEngine::Open(*fs_, dir_, o);
      if (!engine.has_value()) {
        EXPECT_EQ(engine.error().code(), StatusCode::kCorruption) << engine.error().ToString();
        EXPECT_NE(engine.error().message().find(fmt::format("page {}", page)), std::string::npos)
            << engine.error().ToString();
        saw = true;
      } else {
        for (int i = 0; i < kKeys; ++i) {
          auto got = (*engine)->Get({}, Key(i));
          if (got.has_value()) {
            ASSERT_EQ(*got, Value(i)) << "wrong data for " << Key(i);
          } else {
            ASSERT_EQ(got.error().code(), StatusCode::kCorruption) << got.error().ToString();
            EXPECT_NE(got.error().message().find(fmt::format("page {}", page)), std::string::npos)
                << got.error().ToString();
            saw = true;
          }
        }
        copied += (*engine)->stats().pool.uncached_reads;
      }
    }
    flip(offset, bit);  // Put it back; the next round damages the next page only.
    noticed += saw;
  }
  EXPECT_EQ(noticed, static_cast<int>(size / ps));
  EXPECT_GT(copied, 0u) << "no read went through the mapping";
}

// The case the second look for an epoch image exists for, made to happen: between a read's
// residency check and its copy, the hook changes the very leaf being read and writes it back
// (a Put, then a checkpoint). The copy then holds the newer version whole, passes its check, and
// only the image the writer gave the read's epoch keeps the read at its epoch.
TEST_F(BTreeMappedTest, LeafRewrittenWhileBeingCopied_ReadStillSeesItsEpoch) {
  constexpr int kKeys = 5'000;
  const BTreeOptions o = SmallBTreeOptions();
  {
    ASSERT_OK_AND_ASSIGN(auto engine, BTreeEngine::Open(*fs_, dir_, o));
    for (int i = 0; i < kKeys; ++i) ASSERT_OK(engine->Put({}, Key(i), Value(i)));
  }
  ASSERT_OK_AND_ASSIGN(auto engine, BTreeEngine::Open(*fs_, dir_, o));
  const std::string k = Key(1234);
  int fired = 0;
  engine->SetBeforeUncachedCopyForTest([&](PageId) {
    if (fired++ > 0) return;
    ASSERT_OK(engine->Put({}, k, "newer"));
    ASSERT_OK(engine->Checkpoint());  // Writes the changed leaf back to the file.
  });
  ASSERT_OK_AND_ASSIGN(std::string got, engine->Get({}, k));
  ASSERT_EQ(fired, 1) << "the leaf was not copied from the mapping";
  EXPECT_EQ(got, Value(1234)) << "the read saw a write made after it began";
  engine->SetBeforeUncachedCopyForTest(nullptr);
  ASSERT_OK_AND_ASSIGN(got, engine->Get({}, k));
  EXPECT_EQ(got, "newer");
}

// Readers copying leaves from the mapping while the writer's batches dirty pages and its
// evictions and checkpoints write them back (readers_during_batches.h). The tree is several
// times the pool, so most leaves a reader wants are not resident and are copied, some of them
// while being rewritten.
TEST_F(BTreeMappedTest, ReadersDuringBatches_WithEvictions_SeeWholeBatchesOnly) {
  ASSERT_OK_AND_ASSIGN(auto engine, BTreeEngine::Open(*fs_, dir_, SmallBTreeOptions()));
  RunReadersDuringBatches(
      *engine, BatchRace{.groups = 150, .readers = 2, .versions = 600, .checkpoint_every = 150});
  const auto s = engine->stats();
  EXPECT_GT(s.pool.uncached_reads, 0u) << engine->DescribeState();
  EXPECT_GT(s.pool.evictions, 0u) << engine->DescribeState();
}

}  // namespace
}  // namespace kv::storage::btree
