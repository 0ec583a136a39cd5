// Names of the files in a store's directory:
//   wal-NNNNNN.log          a write-ahead log segment (wal.h)
//   checkpoint-NNNNNN.ckpt  a checkpoint; NNNNNN is the first segment to replay after it
//   *.tmp                   a file being written; removed at open
//   LOCK                    held while a process has the store open
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kv::phase1 {

inline constexpr std::string_view kLockFileName = "LOCK";

std::string WalSegmentName(std::uint64_t number);
std::string CheckpointName(std::uint64_t first_segment);
// The number in a segment or checkpoint name, or nullopt if `name` is not one.
std::optional<std::uint64_t> ParseWalSegmentName(std::string_view name);
std::optional<std::uint64_t> ParseCheckpointName(std::string_view name);
// The decimal number (1 to 18 digits) between `prefix` and `suffix` in `name`, or nullopt if
// `name` does not have that form. Phase 2 names its tables and manifests the same way.
std::optional<std::uint64_t> ParseNumberedName(std::string_view name, std::string_view prefix,
                                               std::string_view suffix);

}  // namespace kv::phase1
