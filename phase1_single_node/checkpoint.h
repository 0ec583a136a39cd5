// Checkpoints: a consistent snapshot of the store at one timestamp, so that recovery does not
// replay the log from the beginning and old log segments can be deleted.
//
// A checkpoint file checkpoint-NNNNNN.ckpt holds every live key and value as of its timestamp,
// in the record framing of record_log.h (grammar in docs/formats/wal.md). NNNNNN is the first
// WAL segment recovery must replay after loading it: every commit up to the checkpoint's
// timestamp is in earlier segments, every later commit in that segment or after.
//
// The file is written to "<name>.tmp", synced, renamed and its directory synced, so after a
// crash it is either wholly there or not there; a checkpoint that fails its checks is corruption,
// never silently skipped.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/file_system.h"
#include "common/status.h"
#include "phase1_single_node/versioned_engine.h"

namespace kv::phase1 {

struct CheckpointInfo {
  Timestamp ts = 0;
  std::uint64_t first_segment = 0;
  std::uint64_t entries = 0;
};

// Writes the checkpoint of `engine` as of `ts` durably into `dir`.
Status WriteCheckpoint(FileSystem& fs, const std::string& dir, const VersionedEngine& engine,
                       Timestamp ts, std::uint64_t first_segment);

// Reads a checkpoint: `on_header(info)` once its header has been read (info.ts and
// info.first_segment set, info.entries 0), then `fn(key, value)` for each entry. kCorruption
// naming the file and offset if any part of it is damaged or missing (including its footer);
// entries before the damage have been passed to `fn` by then. The file is memory-mapped where
// the file system can (a checkpoint is never changed once it has its name), so a checkpoint
// larger than memory is read through the page cache rather than copied onto the heap.
Result<CheckpointInfo> ReadCheckpoint(
    FileSystem& fs, const std::string& path,
    const std::function<Status(const CheckpointInfo& header)>& on_header,
    const std::function<Status(std::string_view key, std::string_view value)>& fn);

}  // namespace kv::phase1
