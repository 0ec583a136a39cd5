// Version and VersionSet: which SSTables make up the LSM tree, and the manifest that records it.
//
// A Version is an immutable snapshot of the live files, level by level:
//  * level 0 holds tables flushed from memtables, newest first. Their key ranges may overlap,
//    since each holds whatever keys one memtable had, so a read must consult every one whose
//    range covers its key, newest first;
//  * levels 1..6 each hold tables with disjoint key ranges, sorted by key: a read consults at
//    most one table per level.
// Readers (Get, iterators) hold a shared_ptr to the Version they started with, so the files it
// names stay on disk until they finish, however many compactions happen meanwhile.
//
// The VersionSet owns the current Version and the manifest. The manifest is a log of
// VersionEdits (phase 1's record framing, docs/formats/wal.md §3) in a file MANIFEST-NNNNNN;
// the file CURRENT names the manifest in use and is replaced atomically. Every change to the set
// of files is first synced to the manifest and then installed, so after a crash recovery sees
// every change that was installed and nothing half-made (docs/formats/sstable.md, "manifest").
//
// Thread safety: a Version is immutable. VersionSet's LogAndApply calls must not overlap (the
// engine serialises them); current() and the number accessors may be called from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/file_system.h"
#include "common/status.h"
#include "phase2_storage/lsm/version_edit.h"

namespace kv::storage::lsm {

std::string TableFileName(std::uint64_t number);  // "000012.sst"
// The number of a table file name TableFileName wrote; nullopt for any other name.
std::optional<std::uint64_t> ParseTableFileName(std::string_view name);
std::string ManifestFileName(std::uint64_t number);  // "MANIFEST-000012"
inline constexpr std::string_view kCurrentFileName = "CURRENT";

class Version {
 public:
  using Files = std::vector<std::shared_ptr<const FileMeta>>;

  const Files& files(int level) const { return levels_[static_cast<std::size_t>(level)]; }
  std::uint64_t LevelBytes(int level) const;
  std::size_t NumFiles() const;

  // The tables of `level` whose user-key range intersects [smallest, largest] (user keys).
  // For level 0 they come newest first.
  Files Overlapping(int level, std::string_view smallest_user_key,
                    std::string_view largest_user_key) const;

  // Checks the structural invariants; kCorruption describing the first violation:
  //  * every file's smallest key <= its largest key;
  //  * level 0 is ordered by file number, newest first;
  //  * in levels >= 1, files are sorted by key and no two share a user key (disjoint ranges);
  //  * no file number appears twice.
  Status CheckInvariants() const;

  // "L0: 3 files 12.1 MiB | L1: ..." for STATS and test failures.
  std::string Describe() const;

 private:
  friend class VersionSet;
  std::array<Files, kNumLevels> levels_;
};

class VersionSet {
 public:
  VersionSet(FileSystem& fs, std::string dir) : fs_(fs), dir_(std::move(dir)) {}

  // Opens the tree's state in `dir`: reads CURRENT and replays its manifest, then starts a new
  // manifest holding the recovered state and points CURRENT at it. With no CURRENT, creates an
  // empty tree if `create_if_missing`, else kNotFound. A torn last record of the manifest (a
  // crash during an edit that was never acknowledged) is ignored; any other damage is
  // kCorruption naming the manifest and the offset. Files named in the manifest must exist.
  Status Recover(bool create_if_missing);

  // Applies `edit` to the current version: checks the result's invariants, appends the edit to
  // the manifest and syncs it, then installs the new version. An edit that is malformed (one
  // recovery could not read back) or would break an invariant is refused with kInvalidArgument
  // and changes nothing: it is a bug in the caller, never written down. Fills in next_file_number
  // and last_sequence from this set's counters. On an I/O error nothing is installed and every
  // later call fails: the manifest's tail is in doubt until the tree is reopened. REQUIRES: calls
  // do not overlap.
  Status LogAndApply(VersionEdit edit);

  std::shared_ptr<const Version> current() const;

  // Hands out a file number (for a new table or log); never reused.
  std::uint64_t NewFileNumber();
  std::uint64_t log_number() const;
  SequenceNumber last_sequence() const;
  // REQUIRES: sequence >= last_sequence().
  void SetLastSequence(SequenceNumber sequence);
  std::uint64_t manifest_number() const;
  // Per level, the key where the next leveled compaction starts (empty: the level's start).
  std::string compact_pointer(int level) const;

  // Every table number named by a version that is still referenced (the current one or one a
  // reader holds): the tables that must not be deleted.
  std::vector<std::uint64_t> LiveTables() const;

 private:
  // Builds the version `edit` leads to from `base`.
  static Result<std::shared_ptr<Version>> Apply(const Version& base, const VersionEdit& edit);
  // Writes a new manifest holding `version` and points CURRENT at it.
  Status StartManifest(const Version& version);
  VersionEdit SnapshotEdit(const Version& version) const;
  // Deletes every MANIFEST-* file but the current one.
  Status RemoveStaleManifests();

  FileSystem& fs_;
  const std::string dir_;

  mutable std::mutex mu_;  // Guards the fields below (not the manifest writes themselves).
  std::shared_ptr<const Version> current_;
  std::vector<std::weak_ptr<const Version>> old_versions_;  // For LiveTables().
  std::uint64_t next_file_number_ = 2;
  std::uint64_t log_number_ = 0;
  SequenceNumber last_sequence_ = 0;
  std::uint64_t manifest_number_ = 0;
  std::array<std::string, kNumLevels> compact_pointers_;

  std::unique_ptr<WritableFile> manifest_;  // Touched only by LogAndApply and Recover.
  Status error_;
};

}  // namespace kv::storage::lsm
