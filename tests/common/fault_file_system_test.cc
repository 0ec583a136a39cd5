// Acceptance tests of FaultInjectionFileSystem (common/fault_file_system.h), the model of power
// loss that every crash test in the course runs against. If this model is wrong, those tests prove
// nothing, so each case here pins one clause of the header's contract:
//   * a file's bytes are durable up to its last successful Sync();
//   * a directory's entries (creations, renames, removals) are durable as of its last SyncDir();
//   * files already in the wrapped file system count as durable;
//   * injected write/sync failures and crashes fail exactly the calls they name;
//   * injected read failures and flipped bits reach the reader, which never gets a mapping that
//     would go around them;
//   * a page file (NewRandomRWFile) keeps its durable image plus, under kKeepRandomPrefix, each
//     unsynced write whole, torn or not at all.
#include "common/fault_file_system.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/file_system.h"
#include "common/mem_file_system.h"
#include "common/random.h"
#include "common/testing/status_matchers.h"

namespace kv {
namespace {

constexpr std::string_view kDir = "db";

std::string InDir(std::string_view name) { return JoinPath(kDir, name); }

// The contents of `path`, or nullopt if it does not exist.
Result<std::optional<std::string>> ReadIfExists(FileSystem& fs, const std::string& path) {
  KV_ASSIGN_OR_RETURN(bool exists, fs.FileExists(path));
  if (!exists) return std::optional<std::string>();
  KV_ASSIGN_OR_RETURN(std::string data, ReadFileToString(fs, path));
  return std::optional<std::string>(std::move(data));
}

// Creates `path` holding `data`, syncs it and closes it; the directory entry is NOT synced.
Status WriteSynced(FileSystem& fs, const std::string& path, std::string_view data) {
  KV_ASSIGN_OR_RETURN(auto file, fs.NewWritableFile(path));
  KV_RETURN_IF_ERROR(file->Append(data));
  KV_RETURN_IF_ERROR(file->Sync());
  return file->Close();
}

// Creates `path` holding `data`, fully durable: contents synced and directory synced.
Status WriteDurable(FileSystem& fs, const std::string& path, std::string_view data) {
  KV_RETURN_IF_ERROR(WriteSynced(fs, path, data));
  return fs.SyncDir(DirName(path));
}

// A MemFileSystem wrapped in a FaultInjectionFileSystem, with the directory kDir created.
class FaultFs : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(fs_.CreateDirs(std::string(kDir))); }

  Result<std::optional<std::string>> Read(std::string_view name) {
    return ReadIfExists(fs_, InDir(name));
  }

  std::unique_ptr<FileSystem> mem_ = NewMemFileSystem();
  FaultInjectionFileSystem fs_{*mem_};
};

// A file's contents, or nullopt if it does not exist.
using FileData = std::optional<std::string>;

// --- Durability of file contents ---

TEST_F(FaultFs, SyncedData_SurvivesPowerCut_ByteForByte) {
  std::string data;
  for (int i = 0; i < 256; ++i) data.push_back(static_cast<char>(i));
  data += std::string(5000, '\0') + "tail";
  {
    ASSERT_OK_AND_ASSIGN(auto file, fs_.NewWritableFile(InDir("log")));
    ASSERT_OK(file->Append(data.substr(0, 100)));
    ASSERT_OK(file->Sync());
    ASSERT_OK(file->Append(data.substr(100)));
    ASSERT_OK(file->Sync());
    ASSERT_OK(file->Close());
  }
  ASSERT_OK(fs_.SyncDir(std::string(kDir)));
  ASSERT_OK(fs_.PowerCut());

  ASSERT_OK_AND_ASSIGN(FileData after, Read("log"));
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->size(), data.size());
  EXPECT_TRUE(*after == data) << "synced bytes changed by the power cut";
}

TEST_F(FaultFs, UnsyncedData_LostOnPowerCut_FileCutToSyncedLength) {
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewWritableFile(InDir("log")));
  ASSERT_OK(file->Append("durable;"));
  ASSERT_OK(file->Sync());
  ASSERT_OK(fs_.SyncDir(std::string(kDir)));
  ASSERT_OK(file->Append("flushed only;"));
  ASSERT_OK(file->Flush());  // Survives a process crash, not a power cut.
  ASSERT_OK(file->Append("buffered only;"));
  ASSERT_OK_AND_ASSIGN(FileData before, Read("log"));
  EXPECT_EQ(before, FileData("durable;flushed only;buffered only;"));

  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData after, Read("log"));
  EXPECT_EQ(after, FileData("durable;"));
  ASSERT_OK_AND_ASSIGN(std::uint64_t size, fs_.FileSize(InDir("log")));
  EXPECT_EQ(size, 8u);
}

TEST_F(FaultFs, NeverSyncedFile_DirSynced_SurvivesEmpty) {
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewWritableFile(InDir("log")));
  ASSERT_OK(fs_.SyncDir(std::string(kDir)));
  ASSERT_OK(file->Append("never synced"));
  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData after, Read("log"));
  EXPECT_EQ(after, FileData(""));
}

TEST_F(FaultFs, Truncate_IsDurableAtOnce) {
  ASSERT_OK(WriteDurable(fs_, InDir("log"), "abcdef"));
  ASSERT_OK(fs_.Truncate(InDir("log"), 3));
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewAppendableFile(InDir("log")));
  ASSERT_OK(file->Append("XYZ"));  // Not synced.
  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData after, Read("log"));
  EXPECT_EQ(after, FileData("abc"));
}

// The header's simplification: reopening with NewWritableFile truncates durably at once, so the
// old durable bytes can never show through under new unsynced ones.
TEST_F(FaultFs, NewWritableFile_TruncationOfDurableFile_IsDurableAtOnce) {
  ASSERT_OK(WriteDurable(fs_, InDir("log"), "old"));
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewWritableFile(InDir("log")));
  ASSERT_OK(file->Append("NEWER"));  // Not synced.
  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData after, Read("log"));
  EXPECT_EQ(after, FileData(""));
}

// --- Durability of directory entries ---

TEST_F(FaultFs, NewFile_DirNeverSynced_GoneAfterPowerCut) {
  ASSERT_OK(WriteSynced(fs_, InDir("orphan"), "synced contents"));
  ASSERT_OK_AND_ASSIGN(FileData before, Read("orphan"));
  EXPECT_EQ(before, FileData("synced contents"));

  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData after, Read("orphan"));
  EXPECT_EQ(after, std::nullopt);
  ASSERT_OK_AND_ASSIGN(auto names, fs_.ListDir(std::string(kDir)));
  EXPECT_TRUE(names.empty());
}

TEST_F(FaultFs, NewFile_AfterSyncDir_SurvivesPowerCut) {
  ASSERT_OK(WriteSynced(fs_, InDir("named"), "synced contents"));
  ASSERT_OK(fs_.SyncDir(std::string(kDir)));
  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData after, Read("named"));
  EXPECT_EQ(after, FileData("synced contents"));
}

TEST_F(FaultFs, SyncDir_OfAnotherDirectory_DoesNotMakeNameDurable) {
  ASSERT_OK(fs_.CreateDirs("other"));
  ASSERT_OK(WriteSynced(fs_, InDir("f"), "x"));
  ASSERT_OK(fs_.SyncDir("other"));
  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData after, Read("f"));
  EXPECT_EQ(after, std::nullopt);
}

TEST_F(FaultFs, Rename_WithoutSyncDir_UndoneByPowerCut) {
  ASSERT_OK(WriteDurable(fs_, InDir("a"), "A durable"));
  ASSERT_OK(WriteDurable(fs_, InDir("b"), "B durable"));
  ASSERT_OK(WriteDurable(fs_, InDir("c"), "C durable"));
  // a -> b replaces an existing durable target; c -> d goes to a name that was never durable.
  ASSERT_OK(fs_.Rename(InDir("a"), InDir("b")));
  ASSERT_OK(fs_.Rename(InDir("c"), InDir("d")));
  ASSERT_OK_AND_ASSIGN(FileData b_before, Read("b"));
  EXPECT_EQ(b_before, FileData("A durable"));

  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData a, Read("a"));
  ASSERT_OK_AND_ASSIGN(FileData b, Read("b"));
  ASSERT_OK_AND_ASSIGN(FileData c, Read("c"));
  ASSERT_OK_AND_ASSIGN(FileData d, Read("d"));
  EXPECT_EQ(a, FileData("A durable"));
  EXPECT_EQ(b, FileData("B durable"));
  EXPECT_EQ(c, FileData("C durable"));
  EXPECT_EQ(d, std::nullopt);
}

TEST_F(FaultFs, Rename_WithoutSyncDir_OldNameKeepsOnlyDurableBytes) {
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewWritableFile(InDir("a")));
  ASSERT_OK(file->Append("synced;"));
  ASSERT_OK(file->Sync());
  ASSERT_OK(fs_.SyncDir(std::string(kDir)));
  ASSERT_OK(fs_.Rename(InDir("a"), InDir("b")));
  ASSERT_OK(file->Append("unsynced;"));  // The open handle follows the file to its new name.
  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData a, Read("a"));
  ASSERT_OK_AND_ASSIGN(FileData b, Read("b"));
  EXPECT_EQ(a, FileData("synced;"));
  EXPECT_EQ(b, std::nullopt);
}

TEST_F(FaultFs, Rename_AfterSyncDir_SticksAfterPowerCut) {
  ASSERT_OK(WriteDurable(fs_, InDir("a"), "A durable"));
  ASSERT_OK(WriteDurable(fs_, InDir("b"), "B durable"));
  ASSERT_OK(fs_.Rename(InDir("a"), InDir("b")));
  ASSERT_OK(fs_.SyncDir(std::string(kDir)));
  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData a, Read("a"));
  ASSERT_OK_AND_ASSIGN(FileData b, Read("b"));
  EXPECT_EQ(a, std::nullopt);
  EXPECT_EQ(b, FileData("A durable"));
}

TEST_F(FaultFs, Remove_WithoutSyncDir_FileComesBackWithDurableContents) {
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewWritableFile(InDir("victim")));
  ASSERT_OK(file->Append("durable;"));
  ASSERT_OK(file->Sync());
  ASSERT_OK(fs_.SyncDir(std::string(kDir)));
  ASSERT_OK(file->Append("unsynced;"));
  ASSERT_OK(file->Close());
  ASSERT_OK(fs_.RemoveFile(InDir("victim")));
  ASSERT_OK_AND_ASSIGN(FileData before, Read("victim"));
  EXPECT_EQ(before, std::nullopt);

  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData after, Read("victim"));
  EXPECT_EQ(after, FileData("durable;"));
}

TEST_F(FaultFs, Remove_AfterSyncDir_StaysRemoved) {
  ASSERT_OK(WriteDurable(fs_, InDir("victim"), "durable"));
  ASSERT_OK(fs_.RemoveFile(InDir("victim")));
  ASSERT_OK(fs_.SyncDir(std::string(kDir)));
  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData after, Read("victim"));
  EXPECT_EQ(after, std::nullopt);
}

TEST_F(FaultFs, Remove_ThenRecreateWithoutSyncDir_OldFileComesBack) {
  ASSERT_OK(WriteDurable(fs_, InDir("f"), "old"));
  ASSERT_OK(fs_.RemoveFile(InDir("f")));
  ASSERT_OK(WriteSynced(fs_, InDir("f"), "new"));  // A new inode; its name is not durable.
  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData after, Read("f"));
  EXPECT_EQ(after, FileData("old"));
}

// POSIX: an unlinked name that was never dir-synced still names the inode after a power cut, and
// that inode holds whatever was fdatasync'ed through an open descriptor, even after the unlink.
TEST_F(FaultFs, Remove_WhileOpenWithoutSyncDir_ComesBackWithBytesSyncedAfterRemoval) {
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewWritableFile(InDir("wal")));
  ASSERT_OK(file->Append("before;"));
  ASSERT_OK(file->Sync());
  ASSERT_OK(fs_.SyncDir(std::string(kDir)));
  ASSERT_OK(fs_.RemoveFile(InDir("wal")));
  ASSERT_OK(file->Append("after;"));
  ASSERT_OK(file->Sync());  // Durable: the inode is still named by the durable directory entry.
  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData after, Read("wal"));
  EXPECT_EQ(after, FileData("before;after;"));
}

// --- Files that predate the FaultInjectionFileSystem ---

TEST(FaultFsPreexisting, FilesInBaseBeforeWrapping_CountAsDurable) {
  auto mem = NewMemFileSystem();
  ASSERT_OK(mem->CreateDirs("db"));
  ASSERT_OK(WriteSynced(*mem, "db/untouched", "u"));
  ASSERT_OK(WriteSynced(*mem, "db/appended", "a-old;"));
  ASSERT_OK(WriteSynced(*mem, "db/removed", "r-old"));
  ASSERT_OK(WriteSynced(*mem, "db/renamed", "n-old"));
  ASSERT_OK(WriteSynced(*mem, "db/replaced", "p-old"));

  FaultInjectionFileSystem fs(*mem);
  {
    ASSERT_OK_AND_ASSIGN(auto file, fs.NewAppendableFile("db/appended"));
    EXPECT_EQ(file->Size(), 6u);
    ASSERT_OK(file->Append("unsynced"));
  }
  ASSERT_OK(fs.RemoveFile("db/removed"));
  ASSERT_OK(fs.Rename("db/renamed", "db/renamed.new"));
  ASSERT_OK(WriteSynced(fs, "db/replacement", "p-new"));
  ASSERT_OK(fs.Rename("db/replacement", "db/replaced"));
  ASSERT_OK(fs.PowerCut());

  const std::vector<std::pair<std::string, std::optional<std::string>>> expected = {
      {"db/untouched", "u"},
      {"db/appended", "a-old;"},
      {"db/removed", "r-old"},
      {"db/renamed", "n-old"},
      {"db/renamed.new", std::nullopt},
      {"db/replaced", "p-old"},
      {"db/replacement", std::nullopt},
  };
  for (const auto& [path, want] : expected) {
    ASSERT_OK_AND_ASSIGN(FileData got, ReadIfExists(fs, path));
    EXPECT_EQ(got, want) << path;
  }
}

// --- WriteFileAtomically at every sync point ---

// What one run of RunAtomicWrite saw.
struct AtomicRun {
  Status write_status;
  bool crashed = false;
  std::optional<std::string> after;
  std::uint64_t syncs_used = 0;  // Syncs the write made (up to and including a crashed one).
};

enum class OldVersion { kWrittenThroughFaultFs, kPreexistingInBase };

constexpr std::string_view kOldContents = "old contents";
constexpr std::string_view kNewContents = "NEW CONTENTS, longer than the old";

// Over a fresh disk where "db/CURRENT" durably holds the old contents, runs WriteFileAtomically
// with the new contents and a crash at its `crash_at`-th sync (none if nullopt), then cuts the
// power.
Result<AtomicRun> RunAtomicWrite(OldVersion old_version, std::optional<std::uint64_t> crash_at) {
  const std::string path = "db/CURRENT";
  auto mem = NewMemFileSystem();
  KV_RETURN_IF_ERROR(mem->CreateDirs("db"));
  if (old_version == OldVersion::kPreexistingInBase) {
    KV_RETURN_IF_ERROR(WriteFileAtomically(*mem, path, kOldContents));
  }
  FaultInjectionFileSystem fs(*mem);
  if (old_version == OldVersion::kWrittenThroughFaultFs) {
    KV_RETURN_IF_ERROR(WriteFileAtomically(fs, path, kOldContents));
  }
  const std::uint64_t syncs_before = fs.sync_count();
  if (crash_at.has_value()) fs.CrashAtSync(*crash_at);
  AtomicRun run;
  run.write_status = WriteFileAtomically(fs, path, kNewContents);
  run.crashed = fs.crashed();
  run.syncs_used = fs.sync_count() - syncs_before;
  KV_RETURN_IF_ERROR(fs.PowerCut());
  KV_ASSIGN_OR_RETURN(run.after, ReadIfExists(fs, path));
  return run;
}

class FaultFsAtomicWrite : public ::testing::TestWithParam<OldVersion> {};

TEST_P(FaultFsAtomicWrite, CrashAtEverySyncPoint_LeavesOldOrNewNeverMixedOrMissing) {
  const std::string old_contents(kOldContents);
  const std::string new_contents(kNewContents);
  ASSERT_OK_AND_ASSIGN(AtomicRun clean, RunAtomicWrite(GetParam(), std::nullopt));
  const std::uint64_t k = clean.syncs_used;
  ASSERT_OK(clean.write_status);
  EXPECT_EQ(clean.after, new_contents);
  ASSERT_GE(k, 2u) << "WriteFileAtomically must sync the file and its directory";

  bool saw_old = false;
  for (std::uint64_t n = 1; n <= k + 1; ++n) {
    SCOPED_TRACE(::testing::Message() << "crash at sync " << n << " of " << k);
    ASSERT_OK_AND_ASSIGN(AtomicRun run, RunAtomicWrite(GetParam(), n));
    if (n <= k) {
      EXPECT_STATUS(run.write_status, StatusCode::kIOError);
      EXPECT_TRUE(run.crashed);
    } else {
      EXPECT_OK(run.write_status);
      EXPECT_FALSE(run.crashed);
    }
    ASSERT_TRUE(run.after.has_value()) << "the file vanished";
    EXPECT_TRUE(*run.after == old_contents || *run.after == new_contents)
        << "mixed contents: \"" << *run.after << "\"";
    // A write that reported success must be durable.
    if (run.write_status.ok()) {
      EXPECT_EQ(*run.after, new_contents);
    }
    saw_old = saw_old || *run.after == old_contents;
  }
  EXPECT_TRUE(saw_old) << "a crash before the first sync must leave the old contents";
}

INSTANTIATE_TEST_SUITE_P(OldVersions, FaultFsAtomicWrite,
                         ::testing::Values(OldVersion::kWrittenThroughFaultFs,
                                           OldVersion::kPreexistingInBase),
                         [](const ::testing::TestParamInfo<OldVersion>& param_info) {
                           return param_info.param == OldVersion::kWrittenThroughFaultFs
                                      ? "WrittenThroughFaultFs"
                                      : "PreexistingInBase";
                         });

// --- Injected failures ---

TEST_F(FaultFs, FailNthWrite_FailsExactlyThatAppend_LaterAppendsSucceed) {
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewWritableFile(InDir("log")));
  ASSERT_OK(file->Append("0;"));  // Before FailNth: not counted towards n.
  const Status injected = Status::IOError("injected write error");
  fs_.FailNth(FaultOp::kWrite, 3, injected);
  EXPECT_OK(file->Append("1;"));
  EXPECT_OK(file->Append("2;"));
  Status third = file->Append("3;");
  EXPECT_STATUS(third, StatusCode::kIOError);
  EXPECT_EQ(third.ToString(), injected.ToString());
  EXPECT_OK(file->Append("4;"));
  EXPECT_OK(file->Append("5;"));
  EXPECT_OK(file->Sync());
  EXPECT_FALSE(fs_.crashed());

  ASSERT_OK_AND_ASSIGN(FileData contents, Read("log"));
  EXPECT_EQ(contents, FileData("0;1;2;4;5;"));
}

TEST_F(FaultFs, FailNthSync_NoSpace_DataStaysNonDurable) {
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewWritableFile(InDir("log")));
  ASSERT_OK(file->Append("durable;"));
  ASSERT_OK(file->Sync());
  ASSERT_OK(fs_.SyncDir(std::string(kDir)));
  ASSERT_OK(file->Append("not durable;"));
  fs_.FailNth(FaultOp::kSync, 1, Status::NoSpace("disk full"));
  EXPECT_STATUS(file->Sync(), StatusCode::kNoSpace);
  EXPECT_FALSE(fs_.crashed());
  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData after, Read("log"));
  EXPECT_EQ(after, FileData("durable;"));
}

TEST_F(FaultFs, FailNthSync_FailsOnce_NextSyncMakesDataDurable) {
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewWritableFile(InDir("log")));
  ASSERT_OK(fs_.SyncDir(std::string(kDir)));
  ASSERT_OK(file->Append("retried;"));
  fs_.FailNth(FaultOp::kSync, 1, Status::NoSpace("disk full"));
  EXPECT_STATUS(file->Sync(), StatusCode::kNoSpace);
  EXPECT_OK(file->Sync());
  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData after, Read("log"));
  EXPECT_EQ(after, FileData("retried;"));
}

TEST_F(FaultFs, FailNthSync_AppliesToSyncDir_NameStaysNonDurable) {
  ASSERT_OK(WriteSynced(fs_, InDir("f"), "x"));
  fs_.FailNth(FaultOp::kSync, 1, Status::NoSpace("disk full"));
  EXPECT_STATUS(fs_.SyncDir(std::string(kDir)), StatusCode::kNoSpace);
  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData after, Read("f"));
  EXPECT_EQ(after, std::nullopt);
}

TEST_F(FaultFs, CrashAtSync_ThatSyncAndLaterMutationsFail_ReadsWork_PowerCutRecovers) {
  ASSERT_OK(WriteDurable(fs_, InDir("durable"), "d"));
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewWritableFile(InDir("log")));
  ASSERT_OK(fs_.SyncDir(std::string(kDir)));
  fs_.CrashAtSync(2);
  ASSERT_OK(file->Append("one;"));
  ASSERT_OK(file->Sync());  // The first sync from now succeeds.
  EXPECT_FALSE(fs_.crashed());
  ASSERT_OK(file->Append("two;"));
  EXPECT_STATUS(file->Sync(), StatusCode::kIOError);  // The second is where the power dies.
  EXPECT_TRUE(fs_.crashed());

  EXPECT_STATUS(file->Append("three;"), StatusCode::kIOError);
  EXPECT_STATUS(file->Flush(), StatusCode::kIOError);
  EXPECT_STATUS(file->Sync(), StatusCode::kIOError);
  EXPECT_STATUS(fs_.NewWritableFile(InDir("new")), StatusCode::kIOError);
  EXPECT_STATUS(fs_.NewAppendableFile(InDir("new")), StatusCode::kIOError);
  EXPECT_STATUS(fs_.Rename(InDir("durable"), InDir("moved")), StatusCode::kIOError);
  EXPECT_STATUS(fs_.RemoveFile(InDir("durable")), StatusCode::kIOError);
  EXPECT_STATUS(fs_.Truncate(InDir("durable"), 0), StatusCode::kIOError);
  EXPECT_STATUS(fs_.SyncDir(std::string(kDir)), StatusCode::kIOError);
  EXPECT_STATUS(fs_.CreateDirs("db/sub"), StatusCode::kIOError);
  EXPECT_TRUE(fs_.crashed());

  // Nothing above changed the disk, and reads still work.
  ASSERT_OK_AND_ASSIGN(FileData durable, Read("durable"));
  EXPECT_EQ(durable, FileData("d"));
  ASSERT_OK_AND_ASSIGN(FileData log, Read("log"));
  EXPECT_EQ(log, FileData("one;two;"));
  ASSERT_OK_AND_ASSIGN(FileData fresh, Read("new"));
  EXPECT_EQ(fresh, std::nullopt);
  ASSERT_OK_AND_ASSIGN(auto names, fs_.ListDir(std::string(kDir)));
  EXPECT_EQ(names.size(), 2u);
  ASSERT_OK_AND_ASSIGN(std::uint64_t size, fs_.FileSize(InDir("log")));
  EXPECT_EQ(size, 8u);

  ASSERT_OK(fs_.PowerCut());
  EXPECT_FALSE(fs_.crashed());
  ASSERT_OK_AND_ASSIGN(log, Read("log"));
  EXPECT_EQ(log, FileData("one;"));  // The sync that crashed made nothing durable.

  ASSERT_OK_AND_ASSIGN(auto reopened, fs_.NewAppendableFile(InDir("log")));
  EXPECT_OK(reopened->Append("after reboot;"));
  EXPECT_OK(reopened->Sync());
  EXPECT_OK(WriteSynced(fs_, InDir("new"), "n"));
  EXPECT_OK(fs_.Rename(InDir("durable"), InDir("moved")));
  EXPECT_OK(fs_.SyncDir(std::string(kDir)));
  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(log, Read("log"));
  EXPECT_EQ(log, FileData("one;after reboot;"));
  ASSERT_OK_AND_ASSIGN(FileData moved, Read("moved"));
  EXPECT_EQ(moved, FileData("d"));
}

TEST_F(FaultFs, CrashAtSync_OnSyncDir_CountsAsASyncPoint) {
  ASSERT_OK(WriteSynced(fs_, InDir("f"), "x"));  // Sync #1 before CrashAtSync: not counted.
  fs_.CrashAtSync(1);
  EXPECT_STATUS(fs_.SyncDir(std::string(kDir)), StatusCode::kIOError);
  EXPECT_TRUE(fs_.crashed());
  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData after, Read("f"));
  EXPECT_EQ(after, std::nullopt);
}

TEST_F(FaultFs, PowerCut_ClearsPendingFaults) {
  fs_.FailNth(FaultOp::kWrite, 1, Status::IOError("injected"));
  fs_.FailNth(FaultOp::kSync, 1, Status::NoSpace("injected"));
  fs_.CrashAtSync(1);
  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewWritableFile(InDir("f")));
  EXPECT_OK(file->Append("x"));
  EXPECT_OK(file->Sync());
  EXPECT_OK(fs_.SyncDir(std::string(kDir)));
  EXPECT_FALSE(fs_.crashed());
}

TEST_F(FaultFs, HandlesOpenedBeforePowerCut_FailAfterIt) {
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewWritableFile(InDir("log")));
  ASSERT_OK(file->Append("synced;"));
  ASSERT_OK(file->Sync());
  ASSERT_OK(fs_.SyncDir(std::string(kDir)));
  ASSERT_OK(fs_.PowerCut());

  EXPECT_STATUS(file->Append("zombie;"), StatusCode::kIOError);
  EXPECT_STATUS(file->Flush(), StatusCode::kIOError);
  EXPECT_STATUS(file->Sync(), StatusCode::kIOError);
  ASSERT_OK_AND_ASSIGN(FileData after, Read("log"));
  EXPECT_EQ(after, FileData("synced;"));

  // A handle opened after the cut works on the same file.
  ASSERT_OK_AND_ASSIGN(auto fresh, fs_.NewAppendableFile(InDir("log")));
  EXPECT_OK(fresh->Append("alive;"));
  EXPECT_OK(fresh->Sync());
  ASSERT_OK_AND_ASSIGN(after, Read("log"));
  EXPECT_EQ(after, FileData("synced;alive;"));
  EXPECT_STATUS(file->Append("zombie;"), StatusCode::kIOError);
}

TEST_F(FaultFs, Counters_CountAppendAndSyncCallsIncludingFailedOnes) {
  EXPECT_EQ(fs_.write_count(), 0u);
  EXPECT_EQ(fs_.sync_count(), 0u);
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewWritableFile(InDir("log")));
  EXPECT_EQ(fs_.write_count(), 0u);
  ASSERT_OK(file->Append("a"));
  ASSERT_OK(file->Append("b"));
  ASSERT_OK(file->Flush());  // Not a write and not a sync.
  EXPECT_EQ(fs_.write_count(), 2u);
  EXPECT_EQ(fs_.sync_count(), 0u);
  ASSERT_OK(file->Sync());
  ASSERT_OK(fs_.SyncDir(std::string(kDir)));
  EXPECT_EQ(fs_.sync_count(), 2u);

  fs_.FailNth(FaultOp::kWrite, 1, Status::IOError("injected"));
  EXPECT_FALSE(file->Append("c").ok());
  fs_.FailNth(FaultOp::kSync, 1, Status::NoSpace("injected"));
  EXPECT_FALSE(file->Sync().ok());
  EXPECT_EQ(fs_.write_count(), 3u);
  EXPECT_EQ(fs_.sync_count(), 3u);

  ASSERT_OK(WriteFileAtomically(fs_, InDir("CURRENT"), "x"));  // One append, two syncs.
  EXPECT_EQ(fs_.write_count(), 4u);
  EXPECT_EQ(fs_.sync_count(), 5u);
}

TEST_F(FaultFs, KeepRandomPrefix_KeepsDurableBytesPlusAPrefixOfTheRest) {
  const std::string durable = "0123456789";
  std::set<std::size_t> lengths;
  for (std::uint64_t seed = 0; seed < 32; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    auto mem = NewMemFileSystem();
    FaultInjectionFileSystem fs(*mem);
    ASSERT_OK(fs.CreateDirs("db"));
    ASSERT_OK_AND_ASSIGN(auto file, fs.NewWritableFile("db/log"));
    ASSERT_OK(file->Append(durable));
    ASSERT_OK(file->Sync());
    ASSERT_OK(fs.SyncDir("db"));
    Random rng(seed + 1000);
    const std::string unsynced = rng.Bytes(100);
    ASSERT_OK(file->Append(unsynced.substr(0, 40)));
    ASSERT_OK(file->Append(unsynced.substr(40)));
    const std::string written = durable + unsynced;

    ASSERT_OK(fs.PowerCut(UnsyncedData::kKeepRandomPrefix, seed));
    ASSERT_OK_AND_ASSIGN(FileData after, ReadIfExists(fs, "db/log"));
    ASSERT_TRUE(after.has_value());
    EXPECT_GE(after->size(), durable.size());
    EXPECT_LE(after->size(), written.size());
    EXPECT_TRUE(*after == written.substr(0, after->size())) << "not a prefix of what was written";
    lengths.insert(after->size());
  }
  EXPECT_GT(lengths.size(), 1u) << "every seed kept the same length: the prefix is not random";
  EXPECT_GT(*lengths.rbegin(), durable.size()) << "no seed kept any unsynced byte";
}

// --- Reserved room (WritableFile::Reserve) ---

TEST_F(FaultFs, Reserve_SyncedZerosSurvive_UnsyncedAppendsOverThemAreLost) {
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewWritableFile(InDir("log")));
  ASSERT_OK(fs_.SyncDir(std::string(kDir)));
  ASSERT_OK(file->Append("head"));
  ASSERT_OK(file->Reserve(8));
  ASSERT_OK(file->Sync());
  ASSERT_OK(file->Append("tail"));
  ASSERT_OK(file->Flush());
  ASSERT_OK_AND_ASSIGN(FileData before, Read("log"));
  EXPECT_EQ(before, FileData(std::string("headtail") + std::string(4, '\0')));

  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData after, Read("log"));
  EXPECT_EQ(after, FileData(std::string("head") + std::string(8, '\0')))
      << "the synced zeros stay, the unsynced append over them is gone";
}

TEST_F(FaultFs, Reserve_UnsyncedZeros_AreLostWithTheAppendsOverThem) {
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewWritableFile(InDir("log")));
  ASSERT_OK(fs_.SyncDir(std::string(kDir)));
  ASSERT_OK(file->Append("head"));
  ASSERT_OK(file->Sync());
  ASSERT_OK(file->Reserve(8));
  ASSERT_OK(file->Append("tail"));
  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData after, Read("log"));
  EXPECT_EQ(after, FileData("head"));
}

TEST(FaultFsReserve, KeepRandomPrefix_APrefixOfTheAppendsThenTheDurableZeros) {
  const std::string unsynced = "0123456789";
  std::set<std::size_t> kept;
  for (std::uint64_t seed = 0; seed < 32; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    auto mem = NewMemFileSystem();
    FaultInjectionFileSystem fs(*mem);
    ASSERT_OK(fs.CreateDirs("db"));
    ASSERT_OK_AND_ASSIGN(auto file, fs.NewWritableFile("db/log"));
    ASSERT_OK(fs.SyncDir("db"));
    ASSERT_OK(file->Append("a"));
    ASSERT_OK(file->Reserve(16));
    ASSERT_OK(file->Sync());
    ASSERT_OK(file->Append(unsynced));
    ASSERT_OK(fs.PowerCut(UnsyncedData::kKeepRandomPrefix, seed));
    ASSERT_OK_AND_ASSIGN(FileData after, ReadIfExists(fs, "db/log"));
    ASSERT_TRUE(after.has_value());
    ASSERT_EQ(after->size(), 17u) << "the durable room keeps the file's length";
    const std::size_t n = after->find('\0') == std::string::npos ? 17 : after->find('\0');
    ASSERT_GE(n, 1u);
    EXPECT_EQ(after->substr(0, n), ("a" + unsynced).substr(0, n));
    EXPECT_EQ(after->substr(n), std::string(17 - n, '\0')) << "zeros after the surviving prefix";
    kept.insert(n - 1);
  }
  EXPECT_GT(kept.size(), 2u) << "the surviving prefix is not random";
  EXPECT_TRUE(kept.contains(0)) << "no seed lost every unsynced byte";
}

TEST_F(FaultFs, Reserve_CountsAsAWrite_AFailedOneChangesNothing) {
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewWritableFile(InDir("log")));
  ASSERT_OK(file->Append("abc"));
  const std::uint64_t writes = fs_.write_count();
  fs_.FailNth(FaultOp::kWrite, 1, Status::NoSpace("disk full"));
  EXPECT_EQ(file->Reserve(100).code(), StatusCode::kNoSpace);
  EXPECT_EQ(fs_.write_count(), writes + 1);
  ASSERT_OK_AND_ASSIGN(std::uint64_t size, fs_.FileSize(InDir("log")));
  EXPECT_EQ(size, 3u);
  ASSERT_OK(file->Reserve(100));
  ASSERT_OK_AND_ASSIGN(size, fs_.FileSize(InDir("log")));
  EXPECT_EQ(size, 103u);
}

TEST_F(FaultFs, KeepRandomPrefix_NeverResurrectsUnnamedFiles) {
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewWritableFile(InDir("unnamed")));
  ASSERT_OK(file->Append(std::string(100, 'x')));
  ASSERT_OK(fs_.PowerCut(UnsyncedData::kKeepRandomPrefix, 7));
  ASSERT_OK_AND_ASSIGN(FileData after, Read("unnamed"));
  EXPECT_EQ(after, std::nullopt);
}

// --- Property: after a power cut a dir-synced file holds exactly what its last Sync covered ---

// One step of the workload: kind 0..3 appends `data`, 4 syncs, 5 syncs with an injected kNoSpace.
using Step = std::pair<std::uint8_t, std::string>;

RC_GTEST_PROP(FaultFsProperty, AppendsAndSyncs_PowerCutKeepsExactlyLastSyncedBytes,
              (const std::vector<Step>& steps)) {
  auto mem = NewMemFileSystem();
  FaultInjectionFileSystem fs(*mem);
  RC_ASSERT(fs.CreateDirs("db").ok());
  auto opened = fs.NewWritableFile("db/log");
  RC_ASSERT(opened.has_value());
  auto file = std::move(opened).value();
  RC_ASSERT(fs.SyncDir("db").ok());

  std::string written;
  std::string synced;
  for (const auto& [kind, data] : steps) {
    switch (kind % 6) {
      case 4:
        RC_ASSERT(file->Sync().ok());
        synced = written;
        break;
      case 5:
        fs.FailNth(FaultOp::kSync, 1, Status::NoSpace("injected"));
        RC_ASSERT(file->Sync().code() == StatusCode::kNoSpace);
        break;
      default:
        RC_ASSERT(file->Append(data).ok());
        written += data;
        break;
    }
  }
  RC_ASSERT(fs.PowerCut().ok());
  auto after = ReadFileToString(fs, "db/log");
  RC_ASSERT(after.has_value());
  RC_ASSERT(*after == synced);
}

// --- Read faults ---

TEST_F(FaultFs, FailNthRead_FailsExactlyThatRead_LaterReadsSucceed) {
  ASSERT_OK(WriteDurable(fs_, InDir("r"), "0123456789"));
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewRandomAccessFile(InDir("r")));
  const std::uint64_t before = fs_.read_count();
  fs_.FailNth(FaultOp::kRead, 2, Status::IOError("bad sector"));
  std::string buf(4, '?');
  ASSERT_OK(file->Read(0, buf));
  auto failed = file->Read(0, buf);
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code(), StatusCode::kIOError);
  EXPECT_NE(failed.error().message().find("bad sector"), std::string::npos);
  ASSERT_OK_AND_ASSIGN(std::size_t n, file->Read(2, buf));
  EXPECT_EQ(buf.substr(0, n), "2345");
  EXPECT_EQ(fs_.read_count(), before + 3);
}

TEST_F(FaultFs, FlipBitOnRead_ReadsCoveringTheByteSeeItFlipped_FileUntouched) {
  ASSERT_OK(WriteDurable(fs_, InDir("r"), "abcdefgh"));
  ASSERT_OK(WriteDurable(fs_, InDir("other"), "abcdefgh"));
  fs_.FlipBitOnRead(InDir("r"), 3, 1);  // 'd' (0x64) reads as 'f' (0x66).
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewRandomAccessFile(InDir("r")));
  std::string buf(8, '?');
  ASSERT_OK_AND_ASSIGN(std::size_t n, file->Read(0, buf));
  EXPECT_EQ(buf.substr(0, n), "abcfefgh");
  buf.assign(2, '?');
  ASSERT_OK_AND_ASSIGN(n, file->Read(2, buf));
  EXPECT_EQ(buf.substr(0, n), "cf");
  ASSERT_OK_AND_ASSIGN(n, file->Read(4, buf));  // Does not cover byte 3.
  EXPECT_EQ(buf.substr(0, n), "ef");
  // Another file, and the bytes underneath, are untouched.
  ASSERT_OK_AND_ASSIGN(auto other, fs_.NewRandomAccessFile(InDir("other")));
  buf.assign(8, '?');
  ASSERT_OK_AND_ASSIGN(n, other->Read(0, buf));
  EXPECT_EQ(buf.substr(0, n), "abcdefgh");
  ASSERT_OK_AND_ASSIGN(std::string underneath, ReadFileToString(*mem_, InDir("r")));
  EXPECT_EQ(underneath, "abcdefgh");
  fs_.ClearFaults();
  buf.assign(8, '?');
  ASSERT_OK_AND_ASSIGN(n, file->Read(0, buf));
  EXPECT_EQ(buf.substr(0, n), "abcdefgh");
}

// A mapping would let a reader go around the read faults, so there is none; the wrapped file
// system could map (MemFileSystem does).
TEST_F(FaultFs, NewMappedFile_IsAPlainHandleSoReadFaultsApply) {
  ASSERT_OK(WriteDurable(fs_, InDir("t"), "abcdefgh"));
  ASSERT_OK_AND_ASSIGN(auto base_mapped, mem_->NewMappedFile(InDir("t")));
  ASSERT_TRUE(base_mapped->mapped().has_value());
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewMappedFile(InDir("t")));
  EXPECT_FALSE(file->mapped().has_value());
  fs_.FlipBitOnRead(InDir("t"), 0, 0);
  std::string buf(8, '?');
  ASSERT_OK_AND_ASSIGN(std::size_t n, file->Read(0, buf));
  EXPECT_EQ(buf.substr(0, n), "`bcdefgh");
  fs_.FailNth(FaultOp::kRead, 1, Status::IOError("bad sector"));
  EXPECT_STATUS(file->Read(0, buf), StatusCode::kIOError);
}

TEST_F(FaultFs, PowerCut_ClearsReadFaults) {
  ASSERT_OK(WriteDurable(fs_, InDir("r"), "abcd"));
  fs_.FailNth(FaultOp::kRead, 1, Status::IOError("bad sector"));
  fs_.FlipBitOnRead(InDir("r"), 0);
  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewRandomAccessFile(InDir("r")));
  std::string buf(4, '?');
  ASSERT_OK_AND_ASSIGN(std::size_t n, file->Read(0, buf));
  EXPECT_EQ(buf.substr(0, n), "abcd");
}

// --- Page files (NewRandomRWFile): writes in place ---

// Reads `n` bytes of `file` at `offset` (fewer at the end), as a string.
Result<std::string> ReadAt(const RandomRWFile& file, std::uint64_t offset, std::size_t n) {
  std::string buf(n, '?');
  KV_ASSIGN_OR_RETURN(std::size_t got, file.Read(offset, buf));
  buf.resize(got);
  return buf;
}

// Creates the page file `path` holding `data`, fully durable: written, synced, directory synced.
Status WriteRwDurable(FileSystem& fs, const std::string& path, std::string_view data) {
  KV_ASSIGN_OR_RETURN(auto file, fs.NewRandomRWFile(path));
  KV_RETURN_IF_ERROR(file->Write(0, data));
  KV_RETURN_IF_ERROR(file->Sync());
  KV_RETURN_IF_ERROR(file->Close());
  return fs.SyncDir(DirName(path));
}

TEST_F(FaultFs, RandomRW_UnsyncedWrites_DroppedByDropAll_FileIsItsDurableImage) {
  ASSERT_OK(WriteRwDurable(fs_, InDir("pages"), "0123456789"));
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewRandomRWFile(InDir("pages")));
  ASSERT_OK(file->Write(2, "AB"));
  ASSERT_OK(file->Write(20, "past the end"));
  ASSERT_OK_AND_ASSIGN(FileData before, Read("pages"));
  EXPECT_EQ(before, FileData(std::string("01AB456789") + std::string(10, '\0') + "past the end"));

  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData after, Read("pages"));
  EXPECT_EQ(after, FileData("0123456789"));
  ASSERT_OK_AND_ASSIGN(std::uint64_t size, fs_.FileSize(InDir("pages")));
  EXPECT_EQ(size, 10u);
}

// Sync() makes everything written so far durable, through any handle on the file (fdatasync
// flushes the inode, not the descriptor); writes after the last Sync() are lost.
TEST_F(FaultFs, RandomRW_SyncedWritesSurvive_LaterOnesDoNot) {
  ASSERT_OK_AND_ASSIGN(auto a, fs_.NewRandomRWFile(InDir("pages")));
  ASSERT_OK_AND_ASSIGN(auto b, fs_.NewRandomRWFile(InDir("pages")));
  ASSERT_OK(fs_.SyncDir(std::string(kDir)));
  ASSERT_OK(a->Write(0, "aaaa"));
  ASSERT_OK(b->Write(8, "bbbb"));  // Leaves a gap of zeros at 4..7.
  ASSERT_OK(a->Sync());            // Covers b's write too.
  ASSERT_OK(b->Write(2, "XX"));
  ASSERT_OK(b->Sync());
  ASSERT_OK(a->Write(0, "lost"));
  ASSERT_OK(a->Write(12, "lost"));
  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData after, Read("pages"));
  EXPECT_EQ(after, FileData(std::string("aaXX\0\0\0\0bbbb", 12)));
}

// A file appended to and then opened in place: its unsynced tail stays unsynced.
TEST_F(FaultFs, RandomRW_OpenedAfterUnsyncedAppends_TailStaysUnsynced) {
  ASSERT_OK_AND_ASSIGN(auto log, fs_.NewWritableFile(InDir("f")));
  ASSERT_OK(log->Append("synced;"));
  ASSERT_OK(log->Sync());
  ASSERT_OK(fs_.SyncDir(std::string(kDir)));
  ASSERT_OK(log->Append("unsynced;"));
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewRandomRWFile(InDir("f")));
  ASSERT_OK(file->Write(0, "S"));
  ASSERT_OK(log->Append("appended;"));  // Joins the page file's unsynced writes.
  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData after, Read("f"));
  EXPECT_EQ(after, FileData("synced;"));
}

TEST(FaultFsPreexisting, RandomRW_FileInBaseBeforeWrapping_IsDurableImage) {
  auto mem = NewMemFileSystem();
  ASSERT_OK(mem->CreateDirs("db"));
  ASSERT_OK(WriteSynced(*mem, "db/pages", "old pages"));
  FaultInjectionFileSystem fs(*mem);
  ASSERT_OK_AND_ASSIGN(auto file, fs.NewRandomRWFile("db/pages"));
  ASSERT_OK(file->Write(0, "NEW"));
  ASSERT_OK(fs.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData after, ReadIfExists(fs, "db/pages"));
  EXPECT_EQ(after, FileData("old pages"));
}

// The model of a torn power cut, checked over many seeds: every unsynced write ends up whole,
// lost or torn (each of the three happens), the survivors keep their order, every byte holds
// its old or its new value, and the size is the durable size extended by what survived.
TEST(FaultFsRandomRW, KeepRandomPrefix_EachWriteWholeLostOrTorn_EveryByteOldOrNew) {
  constexpr std::size_t kPage = 16;
  const std::string old_image(4 * kPage, 'o');  // Durable: pages 0..3.
  struct Planned {
    std::uint64_t offset;
    std::string data;
  };
  // Distinct, non-overlapping pages; the last lies past the durable end, leaving a gap (page 4).
  const std::vector<Planned> writes = {{1 * kPage, std::string(kPage, 'A')},
                                       {3 * kPage, std::string(kPage, 'B')},
                                       {0 * kPage, std::string(kPage, 'C')},
                                       {5 * kPage, std::string(kPage, 'D')}};
  std::string new_image = old_image;
  new_image.resize(6 * kPage, '\0');
  for (const auto& w : writes) new_image.replace(w.offset, w.data.size(), w.data);

  int whole = 0;
  int lost = 0;
  int torn = 0;
  for (std::uint64_t seed = 0; seed < 64; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    auto mem = NewMemFileSystem();
    FaultInjectionFileSystem fs(*mem);
    ASSERT_OK(fs.CreateDirs("db"));
    ASSERT_OK(WriteRwDurable(fs, "db/pages", old_image));
    ASSERT_OK_AND_ASSIGN(auto file, fs.NewRandomRWFile("db/pages"));
    for (const auto& w : writes) ASSERT_OK(file->Write(w.offset, w.data));
    ASSERT_OK(fs.PowerCut(UnsyncedData::kKeepRandomPrefix, seed));
    ASSERT_OK_AND_ASSIGN(FileData got, ReadIfExists(fs, "db/pages"));
    ASSERT_TRUE(got.has_value());
    const std::string& after = *got;

    std::uint64_t want_size = old_image.size();
    for (const auto& w : writes) {
      // How many leading bytes of the write survived; the rest of its range must be old bytes
      // (or absent), which the byte-by-byte check below and the size check enforce.
      std::size_t kept = 0;
      while (kept < w.data.size() && w.offset + kept < after.size() &&
             after[w.offset + kept] == w.data[kept]) {
        ++kept;
      }
      if (kept == w.data.size()) {
        ++whole;
      } else if (kept == 0) {
        ++lost;
      } else {
        ++torn;
      }
      if (kept > 0) want_size = std::max<std::uint64_t>(want_size, w.offset + kept);
      for (std::size_t i = w.offset + kept; i < w.offset + w.data.size() && i < after.size(); ++i) {
        const char old_byte = i < old_image.size() ? old_image[i] : '\0';
        ASSERT_EQ(after[i], old_byte) << "byte " << i << " is past the surviving prefix";
      }
    }
    EXPECT_EQ(after.size(), want_size);
    for (std::size_t i = 0; i < after.size(); ++i) {
      const char old_byte = i < old_image.size() ? old_image[i] : '\0';
      ASSERT_TRUE(after[i] == old_byte || after[i] == new_image[i])
          << "byte " << i << " is neither its old nor its new value";
    }
  }
  EXPECT_GT(whole, 0) << "no write survived whole";
  EXPECT_GT(lost, 0) << "no write was lost";
  EXPECT_GT(torn, 0) << "no write was torn";
}

// Overlapping unsynced writes are applied in their original order, each a prefix: the file reads
// as some 2s (the second write's surviving prefix), then some 1s (what shows of the first), then
// old dots. Applied in the wrong order, a 1 would come before a 2.
TEST(FaultFsRandomRW, KeepRandomPrefix_OverlappingWrites_AppliedInOrder) {
  std::set<std::string> seen;
  for (std::uint64_t seed = 0; seed < 64; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    auto mem = NewMemFileSystem();
    FaultInjectionFileSystem fs(*mem);
    ASSERT_OK(fs.CreateDirs("db"));
    ASSERT_OK(WriteRwDurable(fs, "db/p", "........"));
    ASSERT_OK_AND_ASSIGN(auto file, fs.NewRandomRWFile("db/p"));
    ASSERT_OK(file->Write(0, "11111111"));
    ASSERT_OK(file->Write(0, "22222222"));
    ASSERT_OK(fs.PowerCut(UnsyncedData::kKeepRandomPrefix, seed));
    ASSERT_OK_AND_ASSIGN(std::string after, ReadFileToString(fs, "db/p"));
    ASSERT_EQ(after.size(), 8u);
    const std::size_t twos = after.find_first_not_of('2');
    const std::size_t ones = twos == std::string::npos ? twos : after.find_first_not_of('1', twos);
    if (ones != std::string::npos) {
      EXPECT_EQ(after.find_first_not_of('.', ones), std::string::npos) << after;
    }
    seen.insert(after);
  }
  EXPECT_TRUE(seen.contains("22222222")) << "the second write never survived whole";
  EXPECT_TRUE(seen.contains("11111111")) << "the first write never showed alone";
  EXPECT_TRUE(seen.contains("........")) << "both writes were never lost together";
}

TEST_F(FaultFs, RandomRW_NewFileWithoutSyncDir_GoneAfterPowerCut_WithSyncDirStays) {
  {
    ASSERT_OK_AND_ASSIGN(auto file, fs_.NewRandomRWFile(InDir("orphan")));
    ASSERT_OK(file->Write(0, "synced contents"));
    ASSERT_OK(file->Sync());
  }
  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData orphan, Read("orphan"));
  EXPECT_EQ(orphan, std::nullopt);

  ASSERT_OK(WriteRwDurable(fs_, InDir("named"), "synced contents"));
  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData named, Read("named"));
  EXPECT_EQ(named, FileData("synced contents"));
}

TEST_F(FaultFs, RandomRW_RenameAndRemoveWithoutSyncDir_UndoneWithDurableImage) {
  ASSERT_OK(WriteRwDurable(fs_, InDir("moved"), "M durable"));
  ASSERT_OK(WriteRwDurable(fs_, InDir("removed"), "R durable"));
  ASSERT_OK_AND_ASSIGN(auto moved, fs_.NewRandomRWFile(InDir("moved")));
  ASSERT_OK_AND_ASSIGN(auto removed, fs_.NewRandomRWFile(InDir("removed")));
  ASSERT_OK(fs_.Rename(InDir("moved"), InDir("moved.new")));
  ASSERT_OK(fs_.RemoveFile(InDir("removed")));
  ASSERT_OK(moved->Write(0, "m"));  // Handles follow their inodes.
  ASSERT_OK(removed->Write(0, "r"));
  ASSERT_OK_AND_ASSIGN(auto names, fs_.ListDir(std::string(kDir)));
  EXPECT_EQ(names, std::vector<std::string>{"moved.new"});
  ASSERT_OK_AND_ASSIGN(FileData renamed, Read("moved.new"));
  EXPECT_EQ(renamed, FileData("m durable"));

  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData m, Read("moved"));
  ASSERT_OK_AND_ASSIGN(FileData m_new, Read("moved.new"));
  ASSERT_OK_AND_ASSIGN(FileData r, Read("removed"));
  EXPECT_EQ(m, FileData("M durable"));
  EXPECT_EQ(m_new, std::nullopt);
  EXPECT_EQ(r, FileData("R durable"));
}

TEST(FaultFsRandomRW, Truncate_CutsUnsyncedWritesPastTheNewEnd) {
  std::set<std::string> seen;
  for (std::uint64_t seed = 0; seed < 32; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    auto mem = NewMemFileSystem();
    FaultInjectionFileSystem fs(*mem);
    ASSERT_OK(fs.CreateDirs("db"));
    ASSERT_OK(WriteRwDurable(fs, "db/t", "0123456789"));
    ASSERT_OK_AND_ASSIGN(auto file, fs.NewRandomRWFile("db/t"));
    ASSERT_OK(file->Write(4, "ABCDEFGH"));  // Straddles the new end.
    ASSERT_OK(file->Write(20, "far"));      // Wholly past it.
    ASSERT_OK(fs.Truncate("db/t", 6));
    ASSERT_OK(fs.PowerCut(UnsyncedData::kKeepRandomPrefix, seed));
    ASSERT_OK_AND_ASSIGN(FileData after, ReadIfExists(fs, "db/t"));
    ASSERT_TRUE(after.has_value());
    EXPECT_TRUE(*after == "012345" || *after == "0123A5" || *after == "0123AB") << *after;
    seen.insert(*after);
  }
  EXPECT_TRUE(seen.contains("0123AB")) << "the straddling write never survived";
}

TEST_F(FaultFs, RandomRW_FailNthWrite_FailsThatWriteOnly_CountsAsAWrite) {
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewRandomRWFile(InDir("p")));
  const std::uint64_t before = fs_.write_count();
  fs_.FailNth(FaultOp::kWrite, 2, Status::NoSpace("disk full"));
  ASSERT_OK(file->Write(0, "aa"));
  EXPECT_STATUS(file->Write(2, "bb"), StatusCode::kNoSpace);
  ASSERT_OK(file->Write(4, "cc"));
  EXPECT_EQ(fs_.write_count(), before + 3);
  ASSERT_OK_AND_ASSIGN(std::string got, ReadAt(*file, 0, 10));
  EXPECT_EQ(got, std::string("aa\0\0cc", 6));
  ASSERT_OK(file->Sync());
  ASSERT_OK(fs_.SyncDir(std::string(kDir)));
  ASSERT_OK(fs_.PowerCut(UnsyncedData::kKeepRandomPrefix, 3));
  ASSERT_OK_AND_ASSIGN(FileData after, Read("p"));
  EXPECT_EQ(after, FileData(std::string("aa\0\0cc", 6)));
}

TEST_F(FaultFs, RandomRW_FailNthSync_DataStaysNonDurable_RetrySucceeds) {
  ASSERT_OK(WriteRwDurable(fs_, InDir("p"), "old"));
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewRandomRWFile(InDir("p")));
  ASSERT_OK(file->Write(0, "new"));
  const std::uint64_t before = fs_.sync_count();
  fs_.FailNth(FaultOp::kSync, 1, Status::NoSpace("disk full"));
  EXPECT_STATUS(file->Sync(), StatusCode::kNoSpace);
  EXPECT_EQ(fs_.sync_count(), before + 1);
  ASSERT_OK(file->Write(3, "er"));
  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData after, Read("p"));
  EXPECT_EQ(after, FileData("old"));

  ASSERT_OK_AND_ASSIGN(auto again, fs_.NewRandomRWFile(InDir("p")));
  ASSERT_OK(again->Write(0, "new"));
  fs_.FailNth(FaultOp::kSync, 1, Status::NoSpace("disk full"));
  EXPECT_STATUS(again->Sync(), StatusCode::kNoSpace);
  ASSERT_OK(again->Sync());
  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(after, Read("p"));
  EXPECT_EQ(after, FileData("new"));
}

TEST_F(FaultFs, RandomRW_FailNthRead_AndFlipBitOnRead_ReachTheReader) {
  ASSERT_OK(WriteRwDurable(fs_, InDir("p"), "abcdefgh"));
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewRandomRWFile(InDir("p")));
  const std::uint64_t before = fs_.read_count();
  fs_.FailNth(FaultOp::kRead, 2, Status::IOError("bad sector"));
  ASSERT_OK_AND_ASSIGN(std::string got, ReadAt(*file, 0, 4));
  EXPECT_EQ(got, "abcd");
  EXPECT_STATUS(ReadAt(*file, 0, 4), StatusCode::kIOError);
  ASSERT_OK_AND_ASSIGN(got, ReadAt(*file, 4, 4));
  EXPECT_EQ(got, "efgh");
  EXPECT_EQ(fs_.read_count(), before + 3);

  fs_.FlipBitOnRead(InDir("p"), 3, 1);  // 'd' (0x64) reads as 'f' (0x66).
  ASSERT_OK_AND_ASSIGN(got, ReadAt(*file, 0, 8));
  EXPECT_EQ(got, "abcfefgh");
  ASSERT_OK_AND_ASSIGN(got, ReadAt(*file, 2, 2));
  EXPECT_EQ(got, "cf");
  ASSERT_OK_AND_ASSIGN(got, ReadAt(*file, 4, 4));  // Does not cover byte 3.
  EXPECT_EQ(got, "efgh");
  // The bytes underneath are intact, and a write over the byte still reads flipped.
  ASSERT_OK_AND_ASSIGN(std::string underneath, ReadFileToString(*mem_, InDir("p")));
  EXPECT_EQ(underneath, "abcdefgh");
  ASSERT_OK(file->Write(3, "a"));  // 0x61 reads as 0x63.
  ASSERT_OK_AND_ASSIGN(got, ReadAt(*file, 3, 1));
  EXPECT_EQ(got, "c");
  fs_.ClearFaults();
  ASSERT_OK_AND_ASSIGN(got, ReadAt(*file, 0, 8));
  EXPECT_EQ(got, "abcaefgh");
}

TEST_F(FaultFs, RandomRW_CrashAtSync_ThatSyncAndLaterWritesFail_PowerCutKeepsDurableImage) {
  ASSERT_OK(WriteRwDurable(fs_, InDir("p"), "durable;"));
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewRandomRWFile(InDir("p")));
  ASSERT_OK(file->Write(0, "DURABLE;"));
  fs_.CrashAtSync(1);
  EXPECT_STATUS(file->Sync(), StatusCode::kIOError);
  EXPECT_TRUE(fs_.crashed());
  EXPECT_STATUS(file->Write(8, "more"), StatusCode::kIOError);
  EXPECT_STATUS(file->Sync(), StatusCode::kIOError);
  EXPECT_STATUS(fs_.NewRandomRWFile(InDir("other")), StatusCode::kIOError);
  // Reads still work and see what reached the (volatile) file.
  ASSERT_OK_AND_ASSIGN(std::string got, ReadAt(*file, 0, 100));
  EXPECT_EQ(got, "DURABLE;");

  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData after, Read("p"));
  EXPECT_EQ(after, FileData("durable;"));  // The crashed sync made nothing durable.
  ASSERT_OK_AND_ASSIGN(FileData other, Read("other"));
  EXPECT_EQ(other, std::nullopt);
}

TEST_F(FaultFs, RandomRW_HandlesOpenedBeforePowerCut_FailEveryCall) {
  ASSERT_OK(WriteRwDurable(fs_, InDir("p"), "synced;"));
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewRandomRWFile(InDir("p")));
  ASSERT_OK(fs_.PowerCut());

  EXPECT_STATUS(file->Write(0, "zombie;"), StatusCode::kIOError);
  EXPECT_STATUS(ReadAt(*file, 0, 4), StatusCode::kIOError);
  EXPECT_STATUS(file->Sync(), StatusCode::kIOError);
  EXPECT_STATUS(file->Size(), StatusCode::kIOError);
  EXPECT_STATUS(file->Close(), StatusCode::kIOError);
  ASSERT_OK_AND_ASSIGN(FileData after, Read("p"));
  EXPECT_EQ(after, FileData("synced;"));

  ASSERT_OK_AND_ASSIGN(auto fresh, fs_.NewRandomRWFile(InDir("p")));
  EXPECT_OK(fresh->Write(7, "alive;"));
  EXPECT_OK(fresh->Sync());
  ASSERT_OK_AND_ASSIGN(std::string got, ReadAt(*fresh, 0, 100));
  EXPECT_EQ(got, "synced;alive;");
  EXPECT_STATUS(file->Write(0, "zombie;"), StatusCode::kIOError);
}

// The fault-injecting handle is as thread-safe as the real one: writes at distinct offsets from
// several threads all land, and one Sync() makes all of them durable.
TEST_F(FaultFs, RandomRW_ConcurrentWritersAtDistinctOffsets_AllDurableAfterSync) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  ASSERT_OK_AND_ASSIGN(auto file, fs_.NewRandomRWFile(InDir("p")));
  ASSERT_OK(fs_.SyncDir(std::string(kDir)));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int slot = i * kThreads + t;
        EXPECT_OK(file->Write(static_cast<std::uint64_t>(slot) * 2,
                              std::string(2, static_cast<char>('a' + t))));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_OK(file->Sync());
  ASSERT_OK(fs_.PowerCut());
  ASSERT_OK_AND_ASSIGN(FileData after, Read("p"));
  ASSERT_TRUE(after.has_value());
  ASSERT_EQ(after->size(), 2u * kThreads * kPerThread);
  for (std::size_t i = 0; i < after->size(); ++i) {
    ASSERT_EQ((*after)[i], static_cast<char>('a' + (i / 2) % kThreads)) << "byte " << i;
  }
}

}  // namespace
}  // namespace kv
