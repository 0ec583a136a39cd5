// The B+tree on the POSIX file system, where a read's leaf that is not in the buffer pool is
// copied from a mapping of the page file (BufferPool::ReadUncached). The in-memory and
// fault-injecting file systems never map, so the other suites take the pinning path only; these
// tests make the mapped path carry the reads: every value read back, a flipped bit on disk
// reported as kCorruption naming the page, and readers seeing whole batches while the writer's
// evictions rewrite the pages they copy.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/posix_file_system.h"
#include "common/random.h"
#include "common/testing/status_matchers.h"
#include "phase2_storage/btree/btree_engine.h"
#include "phase2_storage/btree/buffer_pool.h"
#include "phase2_storage/btree/page.h"
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
  std::uint64_t pages = 0;  // The tree's pages; the file may hold zeroed room after them.
  {
    ASSERT_OK_AND_ASSIGN(auto engine, BTreeEngine::Open(*fs_, dir_, o));
    for (int i = 0; i < kKeys; ++i) ASSERT_OK(engine->Put({}, Key(i), Value(i)));
    pages = engine->stats().pages;
  }  // Closed with a checkpoint: everything is in pages.db.
  const std::string path = dir_ + "/pages.db";
  const std::size_t ps = o.page_size;
  ASSERT_GE(std::filesystem::file_size(path), pages * ps);
  ASSERT_GT(pages, 64u) << "more pages than frames, so that some leaves are copied";
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
  for (std::uint64_t page = 0; page < pages; ++page) {
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
  EXPECT_EQ(noticed, static_cast<int>(pages));
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

// A page file on the real disk whose Allocate refuses (kNoSpace) any request larger than
// `max_allocate` bytes, as a nearly full disk would; everything else goes to the real file.
class TightDiskFile final : public RandomRWFile {
 public:
  TightDiskFile(std::unique_ptr<RandomRWFile> file, std::uint64_t max_allocate)
      : file_(std::move(file)), max_allocate_(max_allocate) {}
  Status Write(std::uint64_t offset, std::string_view data) override {
    ++writes;
    return file_->Write(offset, data);
  }
  Result<std::size_t> Read(std::uint64_t offset, std::span<char> buf) const override {
    return file_->Read(offset, buf);
  }
  Status Sync() override { return file_->Sync(); }
  Result<std::uint64_t> Size() const override { return file_->Size(); }
  Status Close() override { return file_->Close(); }
  std::optional<std::string_view> MapForReading(std::uint64_t length) override {
    return file_->MapForReading(length);
  }
  std::optional<std::span<char>> MapForWriting(std::uint64_t length) override {
    return file_->MapForWriting(length);
  }
  Status Allocate(std::uint64_t offset, std::uint64_t length) override {
    if (length > max_allocate_) {
      ++refused;
      return Status::NoSpace("test: the disk is nearly full");
    }
    return file_->Allocate(offset, length);
  }
  void set_max_allocate(std::uint64_t n) { max_allocate_ = n; }

  int writes = 0;
  int refused = 0;

 private:
  std::unique_ptr<RandomRWFile> file_;
  std::uint64_t max_allocate_;
};

// Fills `page` as leaf `id` (its link says which page it is) for the pool tests.
void MakeLeaf(char* page, std::size_t ps, PageId id) {
  SlottedPage(page, ps).Init(PageType::kLeaf, id + 1000);
}

// The ThreadSanitizer build writes pages with pwrite, never through the mapping (buffer_pool.cc).
#if defined(__SANITIZE_THREAD__)
#define SkipUnderTsan() GTEST_SKIP() << "the TSan build writes pages with pwrite"
#else
#define SkipUnderTsan() static_cast<void>(0)
#endif

// Pins 40 new pages through a pool of 8 frames, so most are evicted (written back) on the way.
Status FillPool(BufferPool& pool, std::size_t ps) {
  for (PageId id = 1; id <= 40; ++id) {
    KV_ASSIGN_OR_RETURN(PageHandle page, pool.PinNew(id));
    MakeLeaf(page.data(), ps, id);
    pool.MarkDirty(page);
  }
  return Status::Ok();
}

// Checks that pages 1..last of `file` are sealed leaves as FillPool made them.
void ExpectLeavesInFile(const RandomRWFile& file, const std::string& path, std::size_t ps,
                        PageId last) {
  std::string page(ps, '\0');
  for (PageId id = 1; id <= last; ++id) {
    SCOPED_TRACE(fmt::format("page {}", id));
    ASSERT_OK_AND_ASSIGN(std::size_t got, file.Read(std::uint64_t{id} * ps, std::span(page)));
    ASSERT_EQ(got, ps);
    ASSERT_OK(VerifyPage(page.data(), ps, id, path));
    EXPECT_EQ(PageLink(page.data()), id + 1000);
  }
}

// With less room than the 1 MiB the pool asks for ahead, it sets space aside only up to the page
// it writes, and every page still reaches the file through the mapping, whole and sealed.
TEST_F(BTreeMappedTest, BufferPool_NearlyFullDisk_SpaceSetAsideOnlyUpToThePage_EveryPageWritten) {
  SkipUnderTsan();
  constexpr std::size_t kPs = 1024;
  ASSERT_OK(fs_->CreateDirs(dir_));
  const std::string path = dir_ + "/pages.db";
  ASSERT_OK_AND_ASSIGN(auto real, fs_->NewRandomRWFile(path));
  TightDiskFile file(std::move(real), 64 * kPs);  // More than 40 pages, less than 1 MiB.
  {
    BufferPool pool(
        file, path, kPs, 8, [] { return ~Lsn{0}; }, [](Lsn) { return Status::Ok(); });
    ASSERT_OK(FillPool(pool, kPs));
    ASSERT_OK(pool.FlushAll());
    EXPECT_EQ(pool.stats().writebacks, 40u);
  }
  EXPECT_GT(file.refused, 0) << "the pool never asked for room ahead";
  EXPECT_EQ(file.writes, 0) << "pages were written with pwrite, not through the mapping";
  ASSERT_OK_AND_ASSIGN(std::uint64_t size, file.Size());
  EXPECT_EQ(size, 41 * kPs) << "exactly up to the last page written";
  ExpectLeavesInFile(file, path, kPs, 40);
}

// With no room at all, a write-back fails with kNoSpace and loses nothing: the dirty page stays
// in its frame, and once space is found the same pages are written whole.
TEST_F(BTreeMappedTest, BufferPool_FullDisk_WriteBackFailsWithNoSpace_PageKeptUntilThereIsRoom) {
  SkipUnderTsan();
  constexpr std::size_t kPs = 1024;
  ASSERT_OK(fs_->CreateDirs(dir_));
  const std::string path = dir_ + "/pages.db";
  ASSERT_OK_AND_ASSIGN(auto real, fs_->NewRandomRWFile(path));
  TightDiskFile file(std::move(real), 0);
  BufferPool pool(
      file, path, kPs, 8, [] { return ~Lsn{0}; }, [](Lsn) { return Status::Ok(); });
  Status filled = FillPool(pool, kPs);
  ASSERT_EQ(filled.code(), StatusCode::kNoSpace) << filled.ToString();
  EXPECT_EQ(pool.stats().writebacks, 0u);
  EXPECT_EQ(pool.dirty_pages(), 8u) << "every page made so far is still in its frame";
  file.set_max_allocate(~std::uint64_t{0});  // Room again.
  ASSERT_OK(pool.FlushAll());
  EXPECT_EQ(pool.stats().writebacks, 8u);
  ExpectLeavesInFile(file, path, kPs, 8);
}

// One operation of a kill-test round: round `round`'s i-th, the same in the child that runs it and
// the parent that checks the result.
struct KillOp {
  bool put;
  std::string key;
  std::string value;
};
class KillOps {
 public:
  explicit KillOps(int round) : rnd_(static_cast<std::uint64_t>(round) * 7919 + 1) {}
  KillOp Next() {
    KillOp op;
    op.put = !rnd_.OneIn(5);
    op.key = Key(static_cast<int>(rnd_.Uniform(3000)));
    // Up to 700 bytes: with 1 KiB pages, the longer ones take an overflow page.
    if (op.put) op.value = fmt::format("{}-", n_) + std::string(rnd_.Uniform(700), 'a' + n_ % 26);
    ++n_;
    return op;
  }

 private:
  Random rnd_;
  int n_ = 0;
};

// The real process killed (SIGKILL) at random moments while it writes: during a log write, a
// checkpoint, an eviction storing pages into the mapping, or (one round in four) the open and
// recovery itself. The page cache keeps what the process handed to the kernel, so every write
// acknowledged before the kill must be there after recovery, and the one under way may or may
// not be. (A kill inside the copy of one page is possible but rare, and not detected as such.) The
// fault-injecting file system enumerates power cuts at every sync point (btree_crash_test); this is
// the same promise for a process crash, on the path the benchmark takes: pages written back through
// the mapping.
TEST_F(BTreeMappedTest, ProcessKilledAtRandomMoments_EveryAcknowledgedWriteSurvives) {
  constexpr int kRounds = 12;
  BTreeOptions o = SmallBTreeOptions();
  o.checkpoint_log_bytes = 64 * 1024;
  Random rnd(11);
  std::map<std::string, std::string> model;  // What the tree must hold.
  std::int64_t total_acked = 0;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(fmt::format("round {}", round));
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0) << std::strerror(errno);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0) << std::strerror(errno);
    if (pid == 0) {
      // The child: no test framework here, only the tree; each acknowledged write is reported
      // through the pipe, and the child runs until it is killed.
      ::close(fds[0]);
      auto engine = BTreeEngine::Open(*fs_, dir_, o);
      if (!engine.has_value()) ::_exit(2);
      KillOps ops(round);
      for (std::int32_t i = 0;; ++i) {
        const KillOp op = ops.Next();
        const Status st =
            op.put ? (*engine)->Put({}, op.key, op.value) : (*engine)->Delete({}, op.key);
        if (!st.ok()) ::_exit(3);
        if (::write(fds[1], &i, sizeof i) != sizeof i) ::_exit(4);
      }
    }
    ::close(fds[1]);
    std::int32_t acked = -1;
    std::int32_t i = 0;
    if (round % 4 == 3) {
      // Early, most likely while the child is still opening (and recovering) the tree.
      ::usleep(static_cast<useconds_t>(rnd.Uniform(30'000)));
    } else {
      // Timed from the first acknowledged write, not from the fork: a slow build (sanitizers, a
      // busy machine) must not turn most rounds into kills during the open.
      ASSERT_EQ(::read(fds[0], &i, sizeof i), static_cast<ssize_t>(sizeof i))
          << "the child died before its first write";
      acked = i;
      ::usleep(static_cast<useconds_t>(rnd.Uniform(150'000)));
    }
    ASSERT_EQ(::kill(pid, SIGKILL), 0) << std::strerror(errno);
    // Every acknowledgement written before the kill is still in the pipe.
    while (::read(fds[0], &i, sizeof i) == sizeof i) acked = i;
    ::close(fds[0]);
    int wstatus = 0;
    ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)
        << "the child stopped by itself, status " << wstatus;
    total_acked += acked + 1;

    KillOps ops(round);
    for (std::int32_t k = 0; k <= acked; ++k) {
      KillOp op = ops.Next();
      if (op.put) {
        model[op.key] = std::move(op.value);
      } else {
        model.erase(op.key);
      }
    }
    const KillOp maybe = ops.Next();  // Perhaps applied: it may have been logged, not acknowledged.
    ASSERT_OK_AND_ASSIGN(auto engine, BTreeEngine::Open(*fs_, dir_, o));
    ASSERT_OK(engine->CheckInvariants());
    auto got = engine->Get({}, maybe.key);
    auto was = model.find(maybe.key);
    const bool applied =
        maybe.put ? got.has_value() && *got == maybe.value : !got.has_value() && was != model.end();
    if (applied) {
      if (maybe.put) {
        model[maybe.key] = maybe.value;
      } else {
        model.erase(was);
      }
    }
    auto it = engine->NewIterator({});
    auto want = model.begin();
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++want) {
      ASSERT_NE(want, model.end()) << "an extra key " << it->key();
      ASSERT_EQ(it->key(), want->first) << "after " << acked + 1 << " acknowledged writes";
      ASSERT_EQ(it->value(), want->second) << "key " << want->first;
    }
    ASSERT_OK(it->status());
    ASSERT_EQ(want, model.end()) << "key " << want->first << " was lost";
  }
  RecordProperty("acknowledged_writes", static_cast<int>(total_acked));
  RecordProperty("keys_at_end", static_cast<int>(model.size()));
}

}  // namespace
}  // namespace kv::storage::btree
