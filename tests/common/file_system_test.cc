// Tests of the FileSystem contract (common/file_system.h), run unchanged against every
// implementation: the real disk (PosixFileSystem, in a fresh temporary directory per test) and the
// in-memory double (MemFileSystem). A behaviour the crash tests rely on must hold for both, or a
// test that passes in memory could fail on disk.
//
// Also tests the free helpers JoinPath, DirName, BaseName, ReadFileToString and
// WriteFileAtomically.
#include "common/file_system.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/mem_file_system.h"
#include "common/posix_file_system.h"
#include "common/testing/status_matchers.h"

namespace kv {
namespace {

enum class Impl { kPosix, kMem };

std::string ImplName(const ::testing::TestParamInfo<Impl>& info) {
  return info.param == Impl::kPosix ? "Posix" : "Mem";
}

// Creates `path` (truncating it) holding exactly `data`, and closes it.
Status WriteWholeFile(FileSystem& fs, const std::string& path, std::string_view data) {
  KV_ASSIGN_OR_RETURN(auto file, fs.NewWritableFile(path));
  KV_RETURN_IF_ERROR(file->Append(data));
  return file->Close();
}

std::vector<std::string> Sorted(std::vector<std::string> names) {
  std::ranges::sort(names);
  return names;
}

class FileSystemTest : public ::testing::TestWithParam<Impl> {
 protected:
  void SetUp() override {
    if (GetParam() == Impl::kPosix) {
      std::string templ = ::testing::TempDir() + "kv_file_system_test_XXXXXX";
      ASSERT_NE(::mkdtemp(templ.data()), nullptr) << "mkdtemp: " << std::strerror(errno);
      root_ = templ;
      fs_ = NewPosixFileSystem();
    } else {
      root_ = "/mem_root";
      fs_ = NewMemFileSystem();
      ASSERT_OK(fs_->CreateDirs(root_));
    }
  }

  void TearDown() override {
    if (GetParam() == Impl::kPosix && !root_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(root_, ec);
      EXPECT_FALSE(ec) << "removing " << root_ << ": " << ec.message();
    }
  }

  std::string Path(std::string_view name) const { return JoinPath(root_, name); }

  std::string root_;
  std::unique_ptr<FileSystem> fs_;
};

TEST_P(FileSystemTest, AppendFlushSync_ReadBackReturnsEveryByte) {
  const std::string path = Path("data");
  const std::string binary("zero\0byte\0\xff", 11);  // Embedded NULs and a high byte.
  {
    ASSERT_OK_AND_ASSIGN(auto file, fs_->NewWritableFile(path));
    EXPECT_EQ(file->Size(), 0u);
    ASSERT_OK(file->Append("hello "));
    ASSERT_OK(file->Flush());
    ASSERT_OK(file->Append(binary));
    ASSERT_OK(file->Sync());
    ASSERT_OK(file->Append("!"));
    EXPECT_EQ(file->Size(), 6 + binary.size() + 1);
    ASSERT_OK(file->Close());
  }
  ASSERT_OK_AND_ASSIGN(std::string contents, ReadFileToString(*fs_, path));
  EXPECT_EQ(contents, "hello " + binary + "!");
  ASSERT_OK_AND_ASSIGN(std::uint64_t size, fs_->FileSize(path));
  EXPECT_EQ(size, contents.size());
}

TEST_P(FileSystemTest, WritableFile_AfterClose_FurtherAppendsFail) {
  ASSERT_OK_AND_ASSIGN(auto file, fs_->NewWritableFile(Path("closed")));
  ASSERT_OK(file->Append("abc"));
  ASSERT_OK(file->Close());
  EXPECT_FALSE(file->Append("def").ok());
  ASSERT_OK_AND_ASSIGN(std::string contents, ReadFileToString(*fs_, Path("closed")));
  EXPECT_EQ(contents, "abc");
}

TEST_P(FileSystemTest, NewWritableFile_ExistingFile_IsTruncated) {
  const std::string path = Path("f");
  ASSERT_OK(WriteWholeFile(*fs_, path, "old contents that are long"));
  {
    ASSERT_OK_AND_ASSIGN(auto file, fs_->NewWritableFile(path));
    EXPECT_EQ(file->Size(), 0u);
    ASSERT_OK_AND_ASSIGN(std::uint64_t size_while_open, fs_->FileSize(path));
    EXPECT_EQ(size_while_open, 0u);
    ASSERT_OK(file->Append("new"));
    ASSERT_OK(file->Close());
  }
  ASSERT_OK_AND_ASSIGN(std::string contents, ReadFileToString(*fs_, path));
  EXPECT_EQ(contents, "new");
}

TEST_P(FileSystemTest, NewAppendableFile_ExistingFile_AppendsAtEndAndReportsSize) {
  const std::string path = Path("log");
  ASSERT_OK(WriteWholeFile(*fs_, path, "first;"));
  {
    ASSERT_OK_AND_ASSIGN(auto file, fs_->NewAppendableFile(path));
    EXPECT_EQ(file->Size(), 6u);
    ASSERT_OK(file->Append("second;"));
    EXPECT_EQ(file->Size(), 13u);
    ASSERT_OK(file->Sync());
    ASSERT_OK(file->Close());
  }
  ASSERT_OK_AND_ASSIGN(std::string contents, ReadFileToString(*fs_, path));
  EXPECT_EQ(contents, "first;second;");
}

TEST_P(FileSystemTest, Reserve_ZerosPastEverything_AppendsOverwriteThemInPlace) {
  const std::string path = Path("log");
  ASSERT_OK_AND_ASSIGN(auto file, fs_->NewWritableFile(path));
  ASSERT_OK(file->Append("abc"));
  ASSERT_OK(file->Reserve(10));
  EXPECT_EQ(file->Size(), 3u) << "reserved room is not appended data";
  ASSERT_OK_AND_ASSIGN(std::uint64_t reserved_size, fs_->FileSize(path));
  EXPECT_EQ(reserved_size, 13u);
  ASSERT_OK(file->Append("defg"));
  ASSERT_OK(file->Sync());
  EXPECT_EQ(file->Size(), 7u);
  ASSERT_OK_AND_ASSIGN(std::string contents, ReadFileToString(*fs_, path));
  EXPECT_EQ(contents, std::string("abcdefg") + std::string(6, '\0'));
  // More room goes after the room already there; appends past all of it extend the file.
  ASSERT_OK(file->Reserve(2));
  ASSERT_OK(file->Append("0123456789"));
  ASSERT_OK(file->Close());
  ASSERT_OK_AND_ASSIGN(contents, ReadFileToString(*fs_, path));
  EXPECT_EQ(contents, "abcdefg0123456789");
}

TEST_P(FileSystemTest, Reserve_FileOpenedForAppending_IsNotSupportedAndChangesNothing) {
  const std::string path = Path("log");
  ASSERT_OK(WriteWholeFile(*fs_, path, "abc"));
  ASSERT_OK_AND_ASSIGN(auto file, fs_->NewAppendableFile(path));
  EXPECT_EQ(file->Reserve(10).code(), StatusCode::kNotSupported);
  ASSERT_OK(file->Append("d"));
  ASSERT_OK(file->Close());
  ASSERT_OK_AND_ASSIGN(std::string contents, ReadFileToString(*fs_, path));
  EXPECT_EQ(contents, "abcd");
}

TEST_P(FileSystemTest, NewAppendableFile_MissingFile_IsCreatedEmpty) {
  const std::string path = Path("fresh");
  ASSERT_OK_AND_ASSIGN(auto file, fs_->NewAppendableFile(path));
  EXPECT_EQ(file->Size(), 0u);
  ASSERT_OK_AND_ASSIGN(bool exists, fs_->FileExists(path));
  EXPECT_TRUE(exists);
  ASSERT_OK(file->Append("x"));
  ASSERT_OK(file->Close());
  ASSERT_OK_AND_ASSIGN(std::string contents, ReadFileToString(*fs_, path));
  EXPECT_EQ(contents, "x");
}

TEST_P(FileSystemTest, Read_AtOffsets_ShortAtEndOfFileAndEmptyPastIt) {
  const std::string path = Path("r");
  ASSERT_OK(WriteWholeFile(*fs_, path, "hello world"));  // 11 bytes.
  ASSERT_OK_AND_ASSIGN(auto file, fs_->NewRandomAccessFile(path));
  ASSERT_OK_AND_ASSIGN(std::uint64_t size, file->Size());
  EXPECT_EQ(size, 11u);

  std::string buf(5, '?');
  ASSERT_OK_AND_ASSIGN(std::size_t n, file->Read(0, buf));
  EXPECT_EQ(n, 5u);
  EXPECT_EQ(buf, "hello");

  ASSERT_OK_AND_ASSIGN(n, file->Read(6, buf));
  EXPECT_EQ(n, 5u);
  EXPECT_EQ(buf, "world");

  buf.assign(10, '?');
  ASSERT_OK_AND_ASSIGN(n, file->Read(8, buf));  // Only 3 bytes are left.
  EXPECT_EQ(n, 3u);
  EXPECT_EQ(buf.substr(0, n), "rld");

  ASSERT_OK_AND_ASSIGN(n, file->Read(11, buf));  // Exactly at the end.
  EXPECT_EQ(n, 0u);
  ASSERT_OK_AND_ASSIGN(n, file->Read(1000, buf));  // Past the end.
  EXPECT_EQ(n, 0u);
  ASSERT_OK_AND_ASSIGN(n, file->Read(3, std::span<char>()));  // An empty buffer.
  EXPECT_EQ(n, 0u);
}

// A mapped file is the file: mapped() holds exactly its bytes (both implementations map), and
// Read() through the mapped handle behaves as on a plain one.
TEST_P(FileSystemTest, NewMappedFile_MappingHoldsExactlyTheFileAndReadsAgree) {
  const std::string path = Path("mapped");
  std::string data;
  for (int i = 0; i < 10000; ++i) data.push_back(static_cast<char>(i * 7 + (i >> 8)));
  data.append(std::string("\0\xff", 2));
  ASSERT_OK(WriteWholeFile(*fs_, path, data));
  ASSERT_OK_AND_ASSIGN(auto file, fs_->NewMappedFile(path));
  ASSERT_TRUE(file->mapped().has_value());
  EXPECT_EQ(*file->mapped(), data);
  ASSERT_OK_AND_ASSIGN(std::uint64_t size, file->Size());
  EXPECT_EQ(size, data.size());
  std::string buf(100, '?');
  ASSERT_OK_AND_ASSIGN(std::size_t n, file->Read(5000, buf));
  EXPECT_EQ(n, 100u);
  EXPECT_EQ(buf, data.substr(5000, 100));
  ASSERT_OK_AND_ASSIGN(n, file->Read(data.size() - 3, buf));
  EXPECT_EQ(n, 3u);
  ASSERT_OK_AND_ASSIGN(n, file->Read(data.size() + 10, buf));
  EXPECT_EQ(n, 0u);
  // A plain handle exposes no mapping.
  ASSERT_OK_AND_ASSIGN(auto plain, fs_->NewRandomAccessFile(path));
  EXPECT_FALSE(plain->mapped().has_value());
}

// The mapping outlives the file's name (a table being deleted while a reader holds it).
TEST_P(FileSystemTest, NewMappedFile_RemovedWhileMapped_BytesStayReadable) {
  const std::string path = Path("doomed");
  ASSERT_OK(WriteWholeFile(*fs_, path, "still here"));
  ASSERT_OK_AND_ASSIGN(auto file, fs_->NewMappedFile(path));
  ASSERT_OK(fs_->RemoveFile(path));
  ASSERT_TRUE(file->mapped().has_value());
  EXPECT_EQ(*file->mapped(), "still here");
}

TEST_P(FileSystemTest, NewMappedFile_EmptyFileOpens_MissingIsNotFound) {
  const std::string path = Path("empty");
  ASSERT_OK(WriteWholeFile(*fs_, path, ""));
  ASSERT_OK_AND_ASSIGN(auto file, fs_->NewMappedFile(path));
  // Whether an empty file is "mapped" is up to the implementation; either way it holds nothing.
  if (file->mapped()) {
    EXPECT_TRUE(file->mapped()->empty());
  }
  std::string buf(4, '?');
  ASSERT_OK_AND_ASSIGN(std::size_t n, file->Read(0, buf));
  EXPECT_EQ(n, 0u);
  EXPECT_STATUS(fs_->NewMappedFile(Path("missing")), StatusCode::kNotFound);
}

TEST(PosixFileSystem, NewMappedFile_PastTheLimitOnMappings_FallsBackToReads) {
  std::string templ = ::testing::TempDir() + "kv_mmap_limit_XXXXXX";
  ASSERT_NE(::mkdtemp(templ.data()), nullptr) << "mkdtemp: " << std::strerror(errno);
  auto fs = NewPosixFileSystem();
  const std::string path = JoinPath(templ, "f");
  ASSERT_OK(WriteWholeFile(*fs, path, "abc"));
  std::vector<std::unique_ptr<RandomAccessFile>> files;
  int mapped = 0;
  for (int i = 0; i < 1001; ++i) {
    ASSERT_OK_AND_ASSIGN(auto file, fs->NewMappedFile(path));
    mapped += file->mapped().has_value() ? 1 : 0;
    files.push_back(std::move(file));
  }
  EXPECT_EQ(mapped, 1000);
  EXPECT_FALSE(files.back()->mapped().has_value());
  std::string buf(3, '?');
  ASSERT_OK_AND_ASSIGN(std::size_t n, files.back()->Read(0, buf));
  EXPECT_EQ(buf.substr(0, n), "abc");
  // Closing a mapped file gives its slot back.
  files.front().reset();
  ASSERT_OK_AND_ASSIGN(auto again, fs->NewMappedFile(path));
  EXPECT_TRUE(again->mapped().has_value());
  files.clear();
  again.reset();
  std::error_code ec;
  std::filesystem::remove_all(templ, ec);
}

TEST_P(FileSystemTest, NewRandomAccessFile_MissingFile_IsNotFound) {
  EXPECT_STATUS(fs_->NewRandomAccessFile(Path("missing")), StatusCode::kNotFound);
}

TEST_P(FileSystemTest, FileExistsAndFileSize_FollowTheFile) {
  const std::string path = Path("f");
  ASSERT_OK_AND_ASSIGN(bool exists, fs_->FileExists(path));
  EXPECT_FALSE(exists);
  EXPECT_STATUS(fs_->FileSize(path), StatusCode::kNotFound);

  ASSERT_OK(WriteWholeFile(*fs_, path, "1234567"));
  ASSERT_OK_AND_ASSIGN(exists, fs_->FileExists(path));
  EXPECT_TRUE(exists);
  ASSERT_OK_AND_ASSIGN(std::uint64_t size, fs_->FileSize(path));
  EXPECT_EQ(size, 7u);

  ASSERT_OK(WriteWholeFile(*fs_, path, ""));
  ASSERT_OK_AND_ASSIGN(size, fs_->FileSize(path));
  EXPECT_EQ(size, 0u);
}

TEST_P(FileSystemTest, Rename_ExistingTarget_IsReplaced) {
  const std::string from = Path("from");
  const std::string to = Path("to");
  ASSERT_OK(WriteWholeFile(*fs_, from, "new"));
  ASSERT_OK(WriteWholeFile(*fs_, to, "old and longer"));
  ASSERT_OK(fs_->Rename(from, to));

  ASSERT_OK_AND_ASSIGN(bool from_exists, fs_->FileExists(from));
  EXPECT_FALSE(from_exists);
  ASSERT_OK_AND_ASSIGN(std::string contents, ReadFileToString(*fs_, to));
  EXPECT_EQ(contents, "new");
  ASSERT_OK_AND_ASSIGN(auto names, fs_->ListDir(root_));
  EXPECT_EQ(names, std::vector<std::string>{"to"});
}

TEST_P(FileSystemTest, Rename_MissingSource_IsNotFound) {
  EXPECT_STATUS(fs_->Rename(Path("missing"), Path("to")), StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(bool exists, fs_->FileExists(Path("to")));
  EXPECT_FALSE(exists);
}

TEST_P(FileSystemTest, RemoveFile_FileIsGone_AndRemovingMissingFileIsNotFound) {
  const std::string path = Path("doomed");
  ASSERT_OK(WriteWholeFile(*fs_, path, "x"));
  ASSERT_OK(fs_->RemoveFile(path));
  ASSERT_OK_AND_ASSIGN(bool exists, fs_->FileExists(path));
  EXPECT_FALSE(exists);
  EXPECT_STATUS(fs_->RemoveFile(path), StatusCode::kNotFound);
  EXPECT_STATUS(fs_->RemoveFile(Path("never_existed")), StatusCode::kNotFound);
}

TEST_P(FileSystemTest, Truncate_ShortensFileToPrefix) {
  const std::string path = Path("t");
  ASSERT_OK(WriteWholeFile(*fs_, path, "abcdefgh"));
  ASSERT_OK(fs_->Truncate(path, 3));
  ASSERT_OK_AND_ASSIGN(std::uint64_t size, fs_->FileSize(path));
  EXPECT_EQ(size, 3u);
  ASSERT_OK_AND_ASSIGN(std::string contents, ReadFileToString(*fs_, path));
  EXPECT_EQ(contents, "abc");

  ASSERT_OK(fs_->Truncate(path, 0));
  ASSERT_OK_AND_ASSIGN(contents, ReadFileToString(*fs_, path));
  EXPECT_EQ(contents, "");
}

TEST_P(FileSystemTest, CreateDirs_NestedMissingParents_CreatedAndIdempotent) {
  const std::string deep = Path("a/b/c");
  ASSERT_OK(fs_->CreateDirs(deep));
  ASSERT_OK(fs_->CreateDirs(deep));          // Again: already exists.
  ASSERT_OK(fs_->CreateDirs(Path("a/b")));   // A parent that exists.
  ASSERT_OK(fs_->CreateDirs(Path("a/b2")));  // A sibling under an existing parent.

  ASSERT_OK(WriteWholeFile(*fs_, JoinPath(deep, "leaf"), "leaf"));
  ASSERT_OK(WriteWholeFile(*fs_, Path("a/b2/other"), "other"));
  ASSERT_OK_AND_ASSIGN(auto names, fs_->ListDir(deep));
  EXPECT_EQ(names, std::vector<std::string>{"leaf"});
  ASSERT_OK_AND_ASSIGN(std::string contents, ReadFileToString(*fs_, JoinPath(deep, "leaf")));
  EXPECT_EQ(contents, "leaf");
}

TEST_P(FileSystemTest, ListDir_ListsFileNamesButNotSubdirectories) {
  ASSERT_OK_AND_ASSIGN(auto empty, fs_->ListDir(root_));
  EXPECT_TRUE(empty.empty());

  ASSERT_OK(WriteWholeFile(*fs_, Path("one"), "1"));
  ASSERT_OK(WriteWholeFile(*fs_, Path("two"), "2"));
  ASSERT_OK(fs_->CreateDirs(Path("sub")));
  ASSERT_OK(WriteWholeFile(*fs_, Path("sub/nested"), "3"));

  ASSERT_OK_AND_ASSIGN(auto names, fs_->ListDir(root_));
  EXPECT_EQ(Sorted(names), (std::vector<std::string>{"one", "two"}));
  ASSERT_OK_AND_ASSIGN(auto sub_names, fs_->ListDir(Path("sub")));
  EXPECT_EQ(sub_names, std::vector<std::string>{"nested"});
}

TEST_P(FileSystemTest, ListDir_MissingDirectory_IsNotFound) {
  EXPECT_STATUS(fs_->ListDir(Path("no_such_dir")), StatusCode::kNotFound);
}

TEST_P(FileSystemTest, OpenForWriting_InMissingDirectory_IsNotFound) {
  const std::string path = Path("no_such_dir/f");
  EXPECT_STATUS(fs_->NewWritableFile(path), StatusCode::kNotFound);
  EXPECT_STATUS(fs_->NewAppendableFile(path), StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(bool exists, fs_->FileExists(path));
  EXPECT_FALSE(exists);
}

TEST_P(FileSystemTest, SyncDir_ExistingDirectorySucceeds_MissingIsNotFound) {
  ASSERT_OK(WriteWholeFile(*fs_, Path("f"), "x"));
  EXPECT_OK(fs_->SyncDir(root_));
  ASSERT_OK(fs_->CreateDirs(Path("sub")));
  EXPECT_OK(fs_->SyncDir(Path("sub")));
  EXPECT_STATUS(fs_->SyncDir(Path("no_such_dir")), StatusCode::kNotFound);
}

TEST_P(FileSystemTest, LockFile_SecondLockIsBusy_UntilFirstIsReleased) {
  const std::string path = Path("LOCK");
  ASSERT_OK_AND_ASSIGN(auto lock, fs_->LockFile(path));
  ASSERT_NE(lock, nullptr);
  ASSERT_OK_AND_ASSIGN(bool exists, fs_->FileExists(path));
  EXPECT_TRUE(exists);

  EXPECT_STATUS(fs_->LockFile(path), StatusCode::kBusy);
  EXPECT_STATUS(fs_->LockFile(path), StatusCode::kBusy);  // Still busy; a failure releases nothing.
  // A different path is independent.
  ASSERT_OK_AND_ASSIGN(auto other, fs_->LockFile(Path("OTHER_LOCK")));

  lock.reset();
  ASSERT_OK_AND_ASSIGN(auto again, fs_->LockFile(path));
  EXPECT_NE(again, nullptr);
  EXPECT_STATUS(fs_->LockFile(path), StatusCode::kBusy);
}

TEST_P(FileSystemTest, WritableFile_RenamedWhileOpen_KeepsWritingTheSameFile) {
  const std::string old_path = Path("old_name");
  const std::string new_path = Path("new_name");
  ASSERT_OK_AND_ASSIGN(auto file, fs_->NewWritableFile(old_path));
  ASSERT_OK(file->Append("before;"));
  ASSERT_OK(file->Flush());
  ASSERT_OK(fs_->Rename(old_path, new_path));
  ASSERT_OK(file->Append("after;"));
  ASSERT_OK(file->Sync());
  EXPECT_EQ(file->Size(), 13u);
  ASSERT_OK(file->Close());

  ASSERT_OK_AND_ASSIGN(bool old_exists, fs_->FileExists(old_path));
  EXPECT_FALSE(old_exists);
  ASSERT_OK_AND_ASSIGN(std::string contents, ReadFileToString(*fs_, new_path));
  EXPECT_EQ(contents, "before;after;");
}

TEST_P(FileSystemTest, ReadFileToString_ReadsWholeFile_MissingIsNotFound) {
  std::string big(200 * 1024, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31 % 251);
  ASSERT_OK(WriteWholeFile(*fs_, Path("big"), big));
  ASSERT_OK_AND_ASSIGN(std::string contents, ReadFileToString(*fs_, Path("big")));
  EXPECT_EQ(contents.size(), big.size());
  EXPECT_TRUE(contents == big);  // Not EXPECT_EQ: a 200 KiB diff helps nobody.

  ASSERT_OK(WriteWholeFile(*fs_, Path("empty"), ""));
  ASSERT_OK_AND_ASSIGN(contents, ReadFileToString(*fs_, Path("empty")));
  EXPECT_EQ(contents, "");

  EXPECT_STATUS(ReadFileToString(*fs_, Path("missing")), StatusCode::kNotFound);
}

TEST_P(FileSystemTest, WriteFileAtomically_CreatesThenReplaces_LeavesNoTmpFile) {
  const std::string path = Path("CURRENT");
  ASSERT_OK(WriteFileAtomically(*fs_, path, "version 1"));
  ASSERT_OK_AND_ASSIGN(std::string contents, ReadFileToString(*fs_, path));
  EXPECT_EQ(contents, "version 1");

  ASSERT_OK(WriteFileAtomically(*fs_, path, "v2"));
  ASSERT_OK_AND_ASSIGN(contents, ReadFileToString(*fs_, path));
  EXPECT_EQ(contents, "v2");

  ASSERT_OK_AND_ASSIGN(bool tmp_exists, fs_->FileExists(path + ".tmp"));
  EXPECT_FALSE(tmp_exists);
  ASSERT_OK_AND_ASSIGN(auto names, fs_->ListDir(root_));
  EXPECT_EQ(names, std::vector<std::string>{"CURRENT"});
}

TEST_P(FileSystemTest, WriteFileAtomically_MissingDirectory_FailsAndCreatesNothing) {
  const std::string path = Path("no_such_dir/CURRENT");
  EXPECT_STATUS(WriteFileAtomically(*fs_, path, "x"), StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(bool exists, fs_->FileExists(path));
  EXPECT_FALSE(exists);
}

// --- RandomRWFile ---

// Reads `n` bytes of `file` at `offset` (fewer at the end), as a string.
Result<std::string> ReadAt(const RandomRWFile& file, std::uint64_t offset, std::size_t n) {
  std::string buf(n, '?');
  KV_ASSIGN_OR_RETURN(std::size_t got, file.Read(offset, buf));
  buf.resize(got);
  return buf;
}

TEST_P(FileSystemTest, RandomRW_WritesAtOffsets_OverwriteInPlaceAndReadBack) {
  const std::string path = Path("pages");
  ASSERT_OK_AND_ASSIGN(auto file, fs_->NewRandomRWFile(path));
  ASSERT_OK_AND_ASSIGN(std::uint64_t size, file->Size());
  EXPECT_EQ(size, 0u);
  ASSERT_OK(file->Write(5, "world"));
  ASSERT_OK(file->Write(0, "hello"));
  ASSERT_OK(file->Write(0, "J"));  // Overwrites one byte, keeps the rest.
  ASSERT_OK(file->Write(7, std::string_view("\0\xff", 2)));
  const std::string want = std::string("Jellowo\0\xff", 9) + "d";
  ASSERT_OK_AND_ASSIGN(size, file->Size());
  EXPECT_EQ(size, want.size());
  ASSERT_OK_AND_ASSIGN(std::string got, ReadAt(*file, 0, 100));  // Short: only 10 bytes exist.
  EXPECT_EQ(got, want);
  ASSERT_OK_AND_ASSIGN(got, ReadAt(*file, 3, 4));
  EXPECT_EQ(got, "lowo");
  ASSERT_OK_AND_ASSIGN(got, ReadAt(*file, 10, 4));  // Exactly at the end.
  EXPECT_EQ(got, "");
  ASSERT_OK_AND_ASSIGN(got, ReadAt(*file, 500, 4));  // Past the end.
  EXPECT_EQ(got, "");
  ASSERT_OK(file->Sync());
  // Other handles see the same bytes.
  ASSERT_OK_AND_ASSIGN(std::string contents, ReadFileToString(*fs_, path));
  EXPECT_EQ(contents, want);
  ASSERT_OK_AND_ASSIGN(size, fs_->FileSize(path));
  EXPECT_EQ(size, want.size());
  ASSERT_OK(file->Close());
}

TEST_P(FileSystemTest, RandomRW_WritePastEnd_ExtendsFileAndGapReadsAsZeros) {
  const std::string path = Path("sparse");
  ASSERT_OK_AND_ASSIGN(auto file, fs_->NewRandomRWFile(path));
  ASSERT_OK(file->Write(0, "head"));
  ASSERT_OK(file->Write(10000, "tail"));
  ASSERT_OK_AND_ASSIGN(std::uint64_t size, file->Size());
  EXPECT_EQ(size, 10004u);
  ASSERT_OK_AND_ASSIGN(std::string got, ReadAt(*file, 0, 20000));
  ASSERT_EQ(got.size(), 10004u);
  EXPECT_EQ(got.substr(0, 4), "head");
  EXPECT_EQ(got.substr(4, 9996), std::string(9996, '\0'));
  EXPECT_EQ(got.substr(10000), "tail");
  // Writing nothing past the end does not extend the file.
  ASSERT_OK(file->Write(20000, ""));
  ASSERT_OK_AND_ASSIGN(size, file->Size());
  EXPECT_EQ(size, 10004u);
}

// Where the file system maps (the real disk), a store into the writable mapping is a write: it
// shows in reads of the file through this and any other handle, and in the read-only view, and it
// survives closing. Allocate grows the file with zeros, keeps the bytes written (holes included)
// and never shrinks it. Where it does not map (memory), there is no view and Allocate says so.
TEST_P(FileSystemTest, RandomRW_MapForWriting_StoresAreWritesAndAllocateGrowsWithZeros) {
  const std::string path = Path("mapped");
  ASSERT_OK_AND_ASSIGN(auto file, fs_->NewRandomRWFile(path));
  ASSERT_OK(file->Write(0, "head"));
  std::optional<std::span<char>> map = file->MapForWriting(1 << 20);
  if (GetParam() == Impl::kMem) {
    EXPECT_FALSE(map.has_value());
    EXPECT_FALSE(file->MapForReading(1 << 20).has_value());
    EXPECT_EQ(file->Allocate(0, 8192).code(), StatusCode::kNotSupported);
    ASSERT_OK_AND_ASSIGN(std::uint64_t size, file->Size());
    EXPECT_EQ(size, 4u);
    return;
  }
  ASSERT_TRUE(map.has_value());
  ASSERT_EQ(map->size(), 1u << 20);
  std::optional<std::string_view> view = file->MapForReading(1 << 20);
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->data(), map->data()) << "one mapping serves both views";
  EXPECT_EQ(std::string_view(map->data(), 4), "head") << "a write shows in the mapping";

  ASSERT_OK(file->Allocate(0, 8192));
  ASSERT_OK_AND_ASSIGN(std::uint64_t size, file->Size());
  EXPECT_EQ(size, 8192u);
  EXPECT_EQ(std::string_view(map->data() + 4, 8188), std::string(8188, '\0'));
  std::memcpy(map->data() + 4096, "stored", 6);
  ASSERT_OK_AND_ASSIGN(std::string got, ReadAt(*file, 4090, 20));
  EXPECT_EQ(got, std::string(6, '\0') + "stored" + std::string(8, '\0'));
  ASSERT_OK(file->Allocate(0, 100));  // Inside the file: nothing changes.
  ASSERT_OK_AND_ASSIGN(size, file->Size());
  EXPECT_EQ(size, 8192u);
  ASSERT_OK(file->Write(20000, "far"));    // A hole from 8192 to 20000.
  ASSERT_OK(file->Allocate(4096, 20480));  // Over the stored page, the hole and past the end.
  ASSERT_OK_AND_ASSIGN(size, file->Size());
  EXPECT_EQ(size, 24576u);
  EXPECT_EQ(std::string_view(map->data() + 4096, 6), "stored");
  EXPECT_EQ(std::string_view(map->data() + 20000, 3), "far");
  EXPECT_EQ(std::string_view(map->data() + 8192, 11808), std::string(11808, '\0'));
  ASSERT_OK(file->Sync());
  ASSERT_OK(file->Close());
  file.reset();
  ASSERT_OK_AND_ASSIGN(std::string contents, ReadFileToString(*fs_, path));
  ASSERT_EQ(contents.size(), 24576u);
  EXPECT_EQ(contents.substr(0, 4), "head");
  EXPECT_EQ(contents.substr(4096, 6), "stored");
}

TEST_P(FileSystemTest, RandomRW_ExistingFile_OpensWithoutTruncating) {
  const std::string path = Path("existing");
  ASSERT_OK(WriteWholeFile(*fs_, path, "abcdef"));
  {
    ASSERT_OK_AND_ASSIGN(auto file, fs_->NewRandomRWFile(path));
    ASSERT_OK_AND_ASSIGN(std::uint64_t size, file->Size());
    EXPECT_EQ(size, 6u);
    ASSERT_OK(file->Write(2, "XY"));
    ASSERT_OK(file->Close());
  }
  ASSERT_OK_AND_ASSIGN(auto again, fs_->NewRandomRWFile(path));  // Destroyed unclosed below.
  ASSERT_OK_AND_ASSIGN(std::string got, ReadAt(*again, 0, 10));
  EXPECT_EQ(got, "abXYef");
}

TEST_P(FileSystemTest, RandomRW_MissingFileIsCreatedEmpty_MissingDirectoryIsNotFound) {
  ASSERT_OK_AND_ASSIGN(auto file, fs_->NewRandomRWFile(Path("fresh")));
  ASSERT_OK_AND_ASSIGN(bool exists, fs_->FileExists(Path("fresh")));
  EXPECT_TRUE(exists);
  ASSERT_OK_AND_ASSIGN(std::uint64_t size, fs_->FileSize(Path("fresh")));
  EXPECT_EQ(size, 0u);
  EXPECT_STATUS(fs_->NewRandomRWFile(Path("no_such_dir/f")), StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(exists, fs_->FileExists(Path("no_such_dir/f")));
  EXPECT_FALSE(exists);
}

// Two handles on one file share its bytes at once, without Sync (both write through).
TEST_P(FileSystemTest, RandomRW_TwoHandles_SeeEachOthersWrites) {
  const std::string path = Path("shared");
  ASSERT_OK_AND_ASSIGN(auto a, fs_->NewRandomRWFile(path));
  ASSERT_OK_AND_ASSIGN(auto b, fs_->NewRandomRWFile(path));
  ASSERT_OK(a->Write(0, "from a;"));
  ASSERT_OK_AND_ASSIGN(std::string got, ReadAt(*b, 0, 100));
  EXPECT_EQ(got, "from a;");
  ASSERT_OK(b->Write(5, "B;"));
  ASSERT_OK_AND_ASSIGN(got, ReadAt(*a, 0, 100));
  EXPECT_EQ(got, "from B;");
}

TEST_P(FileSystemTest, RandomRW_AfterClose_CallsFail) {
  ASSERT_OK_AND_ASSIGN(auto file, fs_->NewRandomRWFile(Path("closed")));
  ASSERT_OK(file->Write(0, "abc"));
  ASSERT_OK(file->Close());
  EXPECT_FALSE(file->Write(0, "def").ok());
  EXPECT_FALSE(file->Read(0, std::span<char>()).has_value());
  EXPECT_FALSE(file->Sync().ok());
  EXPECT_FALSE(file->Size().has_value());
  ASSERT_OK_AND_ASSIGN(std::string contents, ReadFileToString(*fs_, Path("closed")));
  EXPECT_EQ(contents, "abc");
}

// The B+tree's writers share one handle: writes at distinct offsets from many threads all land,
// and reads and syncs may run alongside them.
TEST_P(FileSystemTest, RandomRW_ConcurrentWritersAtDistinctOffsets_EveryByteLands) {
  constexpr int kThreads = 4;
  constexpr int kPagesPerThread = 64;
  constexpr std::size_t kPage = 512;
  // Page p of the file belongs to thread p % kThreads, so the threads' pages interleave.
  auto page_bytes = [](int page) {
    std::string bytes(kPage, '\0');
    for (std::size_t i = 0; i < kPage; ++i) bytes[i] = static_cast<char>(page * 31 + i);
    return bytes;
  };
  const std::string path = Path("concurrent");
  ASSERT_OK_AND_ASSIGN(auto file, fs_->NewRandomRWFile(path));
  std::vector<Status> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Highest pages first, so the file grows from several threads at once.
      for (int i = kPagesPerThread - 1; i >= 0; --i) {
        const int page = i * kThreads + t;
        const std::string bytes = page_bytes(page);
        Status s = file->Write(static_cast<std::uint64_t>(page) * kPage, bytes);
        std::string back(kPage, '?');
        if (s.ok()) {
          auto n = file->Read(static_cast<std::uint64_t>(page) * kPage, back);
          if (!n.has_value()) {
            s = n.error();
          } else if (*n != kPage || back != bytes) {
            s = Status::Corruption("page " + std::to_string(page) + " read back wrong");
          }
        }
        if (s.ok() && i % 16 == 0) s = file->Sync();
        if (!s.ok()) {
          errors[t] = s;
          return;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    SCOPED_TRACE(::testing::Message() << "thread " << t);
    EXPECT_OK(errors[t]);
  }
  ASSERT_OK_AND_ASSIGN(std::string contents, ReadFileToString(*fs_, path));
  ASSERT_EQ(contents.size(), kThreads * kPagesPerThread * kPage);
  for (int page = 0; page < kThreads * kPagesPerThread; ++page) {
    EXPECT_TRUE(contents.substr(page * kPage, kPage) == page_bytes(page)) << "page " << page;
  }
}

INSTANTIATE_TEST_SUITE_P(AllImpls, FileSystemTest, ::testing::Values(Impl::kPosix, Impl::kMem),
                         ImplName);

TEST(FilePath, JoinPath_AddsExactlyOneSeparator) {
  EXPECT_EQ(JoinPath("a/b", "c"), "a/b/c");
  EXPECT_EQ(JoinPath("a/b/", "c"), "a/b/c");
  EXPECT_EQ(JoinPath("/", "c"), "/c");
  EXPECT_EQ(JoinPath("", "c"), "c");
  EXPECT_EQ(JoinPath("dir", "sub/file"), "dir/sub/file");
}

TEST(FilePath, DirName_DropsLastComponent) {
  EXPECT_EQ(DirName("a/b/c"), "a/b");
  EXPECT_EQ(DirName("a/b"), "a");
  EXPECT_EQ(DirName("c"), ".");
  EXPECT_EQ(DirName("/c"), "/");
  EXPECT_EQ(DirName("/a/b"), "/a");
}

TEST(FilePath, BaseName_KeepsLastComponent) {
  EXPECT_EQ(BaseName("a/b/c"), "c");
  EXPECT_EQ(BaseName("c"), "c");
  EXPECT_EQ(BaseName("/c"), "c");
  EXPECT_EQ(BaseName("a/"), "");
}

TEST(FilePath, JoinPath_RoundTripsThroughDirNameAndBaseName) {
  for (const auto& [dir, name] : std::vector<std::pair<std::string, std::string>>{
           {"db", "CURRENT"}, {"/tmp/x", "000001.log"}, {"a/b/c", "d"}, {"/", "root_file"}}) {
    const std::string path = JoinPath(dir, name);
    EXPECT_EQ(DirName(path), dir) << path;
    EXPECT_EQ(BaseName(path), name) << path;
  }
}

}  // namespace
}  // namespace kv
