// VersionEdit: one change to the set of live files of the LSM tree, as recorded in the manifest.
//
// The tree's state on disk is a set of SSTables, each in a level, plus the log segments whose
// writes are not yet in any table. That state changes only by edits: a flush adds one table to
// level 0 and retires the log segments it covers; a compaction deletes its input tables and adds
// its outputs. Each edit is appended to the manifest (a log of edits) and synced before the
// change takes effect, so a crash at any moment leaves the state of the last edit that reached
// the disk whole: never half a compaction. Recovery replays the edits from the start
// (version_set.h). The record layout is in docs/formats/sstable.md ("manifest").
//
// Thread safety: a plain value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "phase2_storage/lsm/internal_key.h"

namespace kv::storage::lsm {

inline constexpr int kNumLevels = 7;

// What the manifest says about one SSTable.
struct FileMeta {
  std::uint64_t number = 0;  // The file is <number>.sst (six digits at least).
  std::uint64_t size = 0;    // Bytes; locates the footer.
  std::string smallest;      // Smallest internal key in the file.
  std::string largest;       // Largest internal key in the file.
  std::uint64_t entries = 0;
  friend bool operator==(const FileMeta&, const FileMeta&) = default;
};

struct VersionEdit {
  // Log segments numbered below this one are fully in tables and may be deleted.
  std::optional<std::uint64_t> log_number;
  // The next number to give a new file (table or manifest); every number below is taken.
  std::optional<std::uint64_t> next_file_number;
  // The largest sequence number that any table or retired log may hold.
  std::optional<SequenceNumber> last_sequence;
  // Per level: where the next leveled compaction of that level starts (round robin).
  std::vector<std::pair<int, std::string>> compact_pointers;
  std::vector<std::pair<int, std::uint64_t>> deleted_files;  // (level, number)
  std::vector<std::pair<int, FileMeta>> new_files;           // (level, file)

  void Encode(std::string& dst) const;
  // kCorruption naming the field that is malformed (the caller adds file and offset).
  static Result<VersionEdit> Decode(std::string_view src);

  // A one-line account for logs and test failures.
  std::string DebugString() const;
  friend bool operator==(const VersionEdit&, const VersionEdit&) = default;
};

}  // namespace kv::storage::lsm
