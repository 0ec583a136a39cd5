// FileSystem: the seam between the project and the disk.
//
// Every phase reaches files only through this interface, injected through its constructor, so a
// test can hand it an in-memory file system (MemFileSystem) or one that fails and loses power on
// command (FaultInjectionFileSystem). PosixFileSystem is the real one.
//
// The durability contract is POSIX's, stated here because the crash tests rely on it:
//   * Bytes appended to a WritableFile are durable only after Sync() returns OK.
//   * A new file's name (or a rename's new name) is durable only after SyncDir() of the
//     directory that holds it returns OK. Until then a power cut may lose the name (and, for a
//     rename, bring back the old one).
//   * Remove() is likewise durable only after SyncDir().
//   * Bytes written in place through a RandomRWFile are durable only after its Sync() returns
//     OK. Until then a power cut may keep any of the writes made since the last Sync(), each
//     whole, partly (a torn write) or not at all, so a byte written since may read back as its
//     old or its new value; the file's length may grow by the writes that survived. A file that
//     NewRandomRWFile() created follows the rule for new names above.
//
// Paths are plain strings with '/' separators; the file system does not interpret them further.
//
// Thread safety: a FileSystem may be used from many threads at once. A WritableFile object
// belongs to one thread at a time; RandomAccessFile and RandomRWFile say in their comments which
// calls may run at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace kv {

// A file open for appending. Closing (or destroying) it does not sync it.
class WritableFile {
 public:
  virtual ~WritableFile() = default;

  // Adds `data` at the end. The bytes may sit in a user-space buffer until Flush() or Sync().
  virtual Status Append(std::string_view data) = 0;
  // Hands buffered bytes to the operating system: they survive a process crash, not a power cut.
  virtual Status Flush() = 0;
  // Flushes, then makes the file's contents durable (fdatasync). They survive a power cut.
  virtual Status Sync() = 0;
  // Flushes and closes. Further calls fail. Called by the destructor if the user did not.
  virtual Status Close() = 0;
  // Bytes appended so far, buffered or not.
  virtual std::uint64_t Size() const = 0;

  // Reserves room ahead: writes `bytes` zero bytes past everything the file holds (appended or
  // reserved before), without changing Size(); later Appends overwrite those zeros in place. A
  // log that reserves ahead makes most of its syncs cheaper, because an fdatasync that does not
  // grow the file has no new file size to write (journal, 2026-11-21-phase1-preallocated-log.md).
  // The zeros are durable only after Sync(), like appended bytes, and a reader of the file sees
  // them after the last append. kNotSupported for a handle from NewAppendableFile, whose
  // appends always land at the end of the file.
  virtual Status Reserve(std::uint64_t bytes) = 0;
};

// A file open for reading at arbitrary offsets. Read() and mapped() are safe from many threads at
// once.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;

  // Reads up to buf.size() bytes at `offset` into `buf` and returns how many were read; fewer
  // than asked only at the end of the file.
  virtual Result<std::size_t> Read(std::uint64_t offset, std::span<char> buf) const = 0;
  virtual Result<std::uint64_t> Size() const = 0;

  // The whole file as one range of memory, if this handle came from FileSystem::NewMappedFile and
  // the file system could map it; nullopt otherwise (then use Read). The bytes stay valid while
  // this object lives. They are what the disk holds, exactly as trustworthy as what Read()
  // returns: a reader that checksums what it reads must checksum these bytes too, and must not
  // assume that bytes it verified once still read the same later (the kernel may drop the pages
  // and read them again from the disk).
  virtual std::optional<std::string_view> mapped() const { return std::nullopt; }
};

// A file read and written in place at any offset (the B+tree's page file). Write(), Read(),
// Sync() and Size() are safe from many threads at once; writes that overlap in the file, or a
// read that overlaps a write running at the same time, see the bytes in an unspecified mix.
// Close() must not run at the same time as any other call.
class RandomRWFile {
 public:
  virtual ~RandomRWFile() = default;

  // Writes `data` at `offset`. Writing past the end extends the file (a gap reads as zeros);
  // writing nothing changes nothing. Durable only after Sync().
  virtual Status Write(std::uint64_t offset, std::string_view data) = 0;
  // Reads up to buf.size() bytes at `offset` into `buf` and returns how many were read; fewer
  // than asked only at the end of the file.
  virtual Result<std::size_t> Read(std::uint64_t offset, std::span<char> buf) const = 0;
  // Makes every Write() so far durable (fdatasync).
  virtual Status Sync() = 0;
  virtual Result<std::uint64_t> Size() const = 0;
  // Closes; further calls fail. Called by the destructor if the user did not. Does not sync.
  // A view from MapForReading() stays valid until the destructor.
  virtual Status Close() = 0;

  // A read-only view of the file's first `length` bytes through a shared memory mapping, if the
  // file system can make one; nullopt otherwise (the in-memory and fault-injecting file systems
  // never map: use Read). The first call maps, later calls return the same view. The view
  // follows the file: bytes written later, through any handle, show in it as the file grows.
  // Only bytes below the file's current size may be touched (the kernel answers a read past the
  // end with SIGBUS), and the bytes may change under the reader while a write to them runs, so
  // a reader copies them before it checks them.
  virtual std::optional<std::string_view> MapForReading(std::uint64_t length) {
    (void)length;
    return std::nullopt;
  }
  // The same mapping as MapForReading (one per handle, whichever call comes first), writable.
  // Storing bytes into it is a Write() without a system call: they land in the same cache of the
  // file, show at once to every reader of it, survive the process crashing, and are durable only
  // after Sync(). Only bytes below the file's current size may be stored (past it the kernel
  // answers with SIGBUS); Allocate() makes room first. Stores that overlap a read or another
  // store leave the bytes in an unspecified mix, as with Write().
  virtual std::optional<std::span<char>> MapForWriting(std::uint64_t length) {
    (void)length;
    return std::nullopt;
  }
  // Sets disk space aside for the bytes [offset, offset + length): holes in that range and bytes
  // past the end of the file become zeros with space of their own, and the file grows to cover
  // the range. Bytes already written are left as they are. A store into the mapping inside the
  // range then needs no allocation at the fault, so a full disk is kNoSpace here rather than a
  // SIGBUS later (on file systems that write in place, as ext4 does; one that copies on write,
  // such as btrfs, may need new space for any overwrite). kNotSupported where the file system
  // does not map.
  virtual Status Allocate(std::uint64_t offset, std::uint64_t length) {
    (void)offset;
    (void)length;
    return Status::NotSupported("Allocate: this file system does not map files");
  }
};

// An advisory lock on a file, held until this object is destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // Creates `path`, or truncates it if it exists, and opens it for appending.
  // Fails with kNotFound if the directory does not exist.
  virtual Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) = 0;
  // Opens `path` for appending at its end, creating it empty if it does not exist.
  virtual Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) = 0;
  // Opens an existing file for reading; kNotFound if it does not exist.
  virtual Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) = 0;
  // Opens `path` for reading and writing in place, creating it empty if it does not exist (the
  // new name is durable only after SyncDir). Never truncates. Fails with kNotFound if the
  // directory does not exist.
  virtual Result<std::unique_ptr<RandomRWFile>> NewRandomRWFile(const std::string& path) = 0;
  // Opens an existing file that no longer changes (an SSTable) for reading and, where the file
  // system can, maps its whole contents into memory (RandomAccessFile::mapped()): a read is then
  // a memory access, with no system call and no copy. A file system that cannot or will not map
  // it (the default here, the fault-injecting one, or the real one past its limit on mappings)
  // returns a plain handle, so callers must handle both.
  // REQUIRES: nobody appends to, truncates or rewrites the file while the handle lives. (On the
  // real disk, touching a mapped page past a truncation kills the process with SIGBUS.)
  virtual Result<std::unique_ptr<RandomAccessFile>> NewMappedFile(const std::string& path) {
    return NewRandomAccessFile(path);
  }

  virtual Result<bool> FileExists(const std::string& path) = 0;
  virtual Result<std::uint64_t> FileSize(const std::string& path) = 0;
  // Atomically replaces `to` (if it exists) with `from`.
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  // Shortens `path` to `size` bytes (used to cut a torn log tail). REQUIRES: size <= FileSize.
  virtual Status Truncate(const std::string& path, std::uint64_t size) = 0;

  // Creates `dir` and any missing parents; OK if it already exists.
  virtual Status CreateDirs(const std::string& dir) = 0;
  // The names (not paths) of the files in `dir`, in no particular order. Subdirectories excluded.
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  // Makes the directory's entries (creations, renames, removals) durable (fsync on the dir).
  virtual Status SyncDir(const std::string& dir) = 0;

  // Takes an exclusive advisory lock on `path` (creating it), so two processes or two stores in
  // one process cannot open the same data directory. kBusy if it is already held.
  virtual Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) = 0;
};

// "a/b" + "c" -> "a/b/c".
std::string JoinPath(std::string_view dir, std::string_view name);
// "a/b/c" -> "a/b"; "c" -> ".".
std::string DirName(std::string_view path);
// "a/b/c" -> "c".
std::string BaseName(std::string_view path);

// Reads a whole file.
Result<std::string> ReadFileToString(FileSystem& fs, const std::string& path);
// Writes `data` to `path` durably and atomically: into "<path>.tmp", Sync, Rename, SyncDir.
// After a crash the file holds either its old contents or `data`, never a mixture.
Status WriteFileAtomically(FileSystem& fs, const std::string& path, std::string_view data);

}  // namespace kv
