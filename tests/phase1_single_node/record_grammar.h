// Test helper shared by the WAL and recovery tests: where framed records start, computed from
// the documented grammar (docs/formats/wal.md: the first 4 header bytes are the payload length),
// independently of RecordReader, the code under test.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/encoding.h"
#include "phase1_single_node/record_log.h"

namespace kv::phase1 {

// The offset of every record in `data`, then data.size(): record i spans
// [boundaries[i], boundaries[i + 1]). REQUIRES: `data` is a sequence of whole records.
inline std::vector<std::uint64_t> RecordBoundaries(std::string_view data) {
  std::vector<std::uint64_t> b;
  std::uint64_t off = 0;
  while (off < data.size()) {
    b.push_back(off);
    off += kRecordHeaderBytes + LoadFixed<std::uint32_t>(data.data() + off);
  }
  b.push_back(off);
  return b;
}

}  // namespace kv::phase1
