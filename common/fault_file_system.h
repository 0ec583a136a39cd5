// FaultInjectionFileSystem: a FileSystem that can lose power and fail on command.
//
// It wraps another FileSystem (usually a MemFileSystem) and models what a real disk would keep
// after a power cut, given the durability contract in file_system.h:
//   * each file ("inode") has a durable length: what the last successful Sync() covered;
//   * once a file is opened with NewRandomRWFile() (a page file, written in place), its inode
//     instead keeps a durable image (its contents as the last successful Sync() of any handle on
//     it left them) and the list of writes (offset, bytes) made since, in order. Appends through
//     a WritableFile on such an inode join the list as writes at the end; when the inode turns
//     into a page file, the bytes appended past its durable length become the first write;
//   * a file whose WritableFile reserves room ahead (WritableFile::Reserve) holds zeros past its
//     appended bytes; the zeros are durable once a Sync() covered them, and the appended bytes
//     that overwrite them follow the append rule above (durable up to the last Sync(); after a
//     cut, a prefix of the rest may survive, and the zeros show through past it);
//   * each directory has durable entries: the name -> inode map of its last successful SyncDir().
// PowerCut() rewrites the wrapped file system to exactly that durable state: unsynced bytes are
// dropped (or, if asked, some survive, see UnsyncedData), files created since their directory's
// last sync disappear (page files included), un-synced renames are undone and un-synced removals
// come back. The model follows LevelDB's db/fault_injection_test.cc, extended to renames,
// removals and writes in place.
//
// Simplifications, chosen to be pessimistic or neutral for the code under test:
//   * Truncate() and the truncation done by NewWritableFile() on an existing file are durable at
//     once (the durable length or image shrinks with the file; unsynced writes past the new end
//     are cut off, as the truncation removed their bytes).
//   * Directories themselves are durable as soon as CreateDirs() returns.
//   * Files that existed in the wrapped file system before this object first saw them count as
//     durable, contents and names.
//   * LockFile() passes through: lock files are not part of the model and survive PowerCut().
//   * The wrapped file system's WritableFile must write through (MemFileSystem does): the model
//     reads unsynced bytes back from it.
//   * A torn write keeps a prefix of its bytes. A real disk tears at sector boundaries and may
//     keep sectors out of order; a prefix cut at any byte is the finer-grained, harsher case for
//     a reader that checksums its pages.
//
// Faults:
//   * FailNth(kWrite, n, status): the n-th write (WritableFile::Append() or Reserve(), or
//     RandomRWFile::Write()) from now fails with `status` (once) and changes nothing;
//     FailNth(kSync, n, status) likewise for Sync() of either handle and SyncDir(). Use
//     Status::NoSpace(...) for a full disk.
//   * CrashAtSync(n): the n-th sync from now, and every later operation that changes the disk,
//     fails with kIOError("power lost"), as if the machine died just before that sync. The test
//     then calls PowerCut() and reopens whatever it was testing. Enumerating n = 1..sync_count()+1
//     visits every sync point of a workload.
//   * FailNth(kRead, n, status): the n-th Read() (of a RandomAccessFile or a RandomRWFile) from
//     now fails with `status` (once), as a disk that reports a bad sector would.
//   * FlipBitOnRead(path, offset, bit): from now on, every Read() (of either kind of handle
//     opened as `path`) that covers byte `offset` returns that byte with `bit` flipped, while the
//     file itself stays intact: a disk, cable or controller that hands back wrong bytes without
//     reporting an error.
// Reads never go around these faults: NewMappedFile() returns a plain handle (mapped() is empty),
// so a reader that would use a mapping on a real disk takes its read path here.
// After PowerCut(), writable and read-write handles opened before it fail every call (the process
// they belonged to is gone; for a read-write handle that includes Read() and Size()); faults and
// the crashed state are cleared. (Read-only handles keep working and see the files as the cut
// left them.)
//
// Thread safety: safe to share between threads; all operations are serialized by one mutex, so
// the model sees a single order of events.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/file_system.h"

namespace kv {

enum class FaultOp { kWrite, kSync, kRead };

// What PowerCut() does with the bytes written to a file since its last successful Sync().
enum class UnsyncedData {
  // All are lost: an appended file is cut to its durable length, a page file (NewRandomRWFile)
  // becomes its durable image (the usual worst case).
  kDropAll,
  // Some survive, drawn from PowerCut()'s seed. Appended file: a random prefix of the unsynced
  // tail survives (uniform over every length from none to all of it), like a write torn by the
  // power cut. Page file: each unsynced write independently, with probability 1/3 each, survives
  // whole, is lost, or is torn (only its first k bytes survive, k uniform in [0, its size), so an
  // empty prefix is possible); the survivors are applied in their original order on top of the
  // durable image. The file's size is the durable image's, extended by surviving writes that
  // reach past it (a gap before them reads as zeros).
  kKeepRandomPrefix,
};

class FaultInjectionFileSystem final : public FileSystem {
 public:
  // `base` must outlive this object; this object is the only one that may change it.
  explicit FaultInjectionFileSystem(FileSystem& base);
  ~FaultInjectionFileSystem() override;

  // --- faults ---
  void FailNth(FaultOp op, std::uint64_t n, Status error);
  void CrashAtSync(std::uint64_t n);
  // REQUIRES: 0 <= bit < 8.
  void FlipBitOnRead(const std::string& path, std::uint64_t offset, int bit = 0);
  void ClearFaults();
  bool crashed() const;

  // Cuts the power: rewrites the wrapped file system to its durable state (see above).
  // `seed` chooses the surviving prefixes for kKeepRandomPrefix.
  Status PowerCut(UnsyncedData unsynced = UnsyncedData::kDropAll, std::uint64_t seed = 0);

  // Counters since construction: writes (Append() + RandomRWFile::Write()), syncs (Sync() of
  // either handle + SyncDir()), and reads (Read() of either handle), failed calls included.
  std::uint64_t write_count() const;
  std::uint64_t sync_count() const;
  std::uint64_t read_count() const;

  // --- FileSystem ---
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override;
  Result<std::unique_ptr<RandomRWFile>> NewRandomRWFile(const std::string& path) override;
  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& path) override;
  Result<bool> FileExists(const std::string& path) override;
  Result<std::uint64_t> FileSize(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status RemoveFile(const std::string& path) override;
  Status Truncate(const std::string& path, std::uint64_t size) override;
  Status CreateDirs(const std::string& dir) override;
  Result<std::vector<std::string>> ListDir(const std::string& dir) override;
  Status SyncDir(const std::string& dir) override;
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override;

 private:
  friend class FaultWritableFile;
  friend class FaultRandomAccessFile;
  friend class FaultRandomRWFile;
  struct PendingWrite {
    std::uint64_t offset;
    std::string data;
  };
  // The model of a page file (see the top of this header).
  struct InPlace {
    std::string durable;                 // The contents as of the last successful Sync().
    std::vector<PendingWrite> unsynced;  // Writes since, oldest first.
  };
  struct Inode {
    // What the last successful Sync() covered, for an inode written only by appending.
    std::uint64_t durable_size = 0;
    // Set once the inode is opened with NewRandomRWFile(); from then on it, not durable_size,
    // says what is durable.
    std::optional<InPlace> in_place;
    // Set when the last live name of the inode goes away: its bytes as they were then, extended
    // by later appends through handles still open, so that PowerCut() can bring the file back if
    // a durable directory entry still names it. Unused once in_place is set.
    std::optional<std::string> unlinked_data;
    // Set once a WritableFile on the inode reserves room (WritableFile::Reserve): the file
    // then holds zeros past its appended bytes.
    struct Reserved {
      std::uint64_t end = 0;          // Length of the file: appended bytes and zeros.
      std::uint64_t durable_end = 0;  // `end` as of the last successful Sync().
      std::uint64_t appended = 0;     // Bytes appended: the handle's Size().
    };
    std::optional<Reserved> reserved;
  };

  // All REQUIRES: mu_ held.
  Status CheckMutation() const;
  Status CountWrite();
  Status CountSync();
  Status CountRead();
  // Flips the bit FlipBitOnRead() asked for if it lies in `buf`, which holds `n` bytes of `path`
  // read at `offset`.
  void ApplyBitFlip(const std::string& path, std::uint64_t offset, std::span<char> buf,
                    std::size_t n) const;
  // Turns `inode`, whose current contents are `contents`, into a page file: the durable image is
  // the first durable_size bytes, the rest one unsynced write. REQUIRES: !inode.in_place.
  static void StartInPlace(Inode& inode, std::string contents);
  // A successful Sync() of a page file: every unsynced write joins the durable image.
  static void SyncInPlace(InPlace& in_place);
  void Track(const std::string& path);
  Status SaveBeforeUnlink(const std::string& path);

  FileSystem& base_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Inode>> live_;     // GUARDED_BY(mu_)
  std::map<std::string, std::shared_ptr<Inode>> durable_;  // GUARDED_BY(mu_); null = absent
  std::uint64_t generation_ = 0;                           // GUARDED_BY(mu_)
  std::uint64_t writes_ = 0;                               // GUARDED_BY(mu_)
  std::uint64_t syncs_ = 0;                                // GUARDED_BY(mu_)
  std::optional<std::uint64_t> fail_write_at_;             // GUARDED_BY(mu_)
  Status fail_write_status_;                               // GUARDED_BY(mu_)
  std::optional<std::uint64_t> fail_sync_at_;              // GUARDED_BY(mu_)
  Status fail_sync_status_;                                // GUARDED_BY(mu_)
  std::optional<std::uint64_t> crash_at_sync_;             // GUARDED_BY(mu_)
  std::uint64_t reads_ = 0;                                // GUARDED_BY(mu_)
  std::optional<std::uint64_t> fail_read_at_;              // GUARDED_BY(mu_)
  Status fail_read_status_;                                // GUARDED_BY(mu_)
  struct BitFlip {
    std::string path;
    std::uint64_t offset;
    int bit;
  };
  std::optional<BitFlip> flip_on_read_;  // GUARDED_BY(mu_)
  bool crashed_ = false;                 // GUARDED_BY(mu_)
};

}  // namespace kv
