// TableBuilder: writes one SSTable — sorted internal keys and their values — to a file, in the
// layout of docs/formats/sstable.md: data blocks of about `block_size` bytes, then a bloom filter
// over the table's user keys, then an index with one entry per data block, then the footer.
//
// The builder only appends; the caller syncs the file, and only then lets the table be referred
// to (from the manifest). A table abandoned half-written is deleted by the caller.
//
// Thread safety: none (one builder per file, used by one thread).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/file_system.h"
#include "common/status.h"
#include "phase2_storage/lsm/block_builder.h"
#include "phase2_storage/lsm/table_format.h"

namespace kv::storage::lsm {

struct TableOptions {
  std::size_t block_size = 4096;  // Target size of a data block before its trailer.
  int restart_interval = 16;      // Entries between whole keys in a data block.
  int bloom_bits_per_key = 10;    // 0: no filter block. 10 bits give about 1% false positives.
};

class TableBuilder {
 public:
  // `file` must be empty and outlive the builder; `path` names it in errors.
  TableBuilder(const TableOptions& options, WritableFile& file, std::string path);

  // Appends an entry. REQUIRES: `internal_key` is well formed and sorts after every key added
  // before (checked: a violation is a bug in the caller and aborts).
  Status Add(std::string_view internal_key, std::string_view value);
  // Writes the last data block, the filter, the index and the footer. Does not sync.
  Status Finish();

  std::uint64_t entries() const { return entries_; }
  // Bytes written (or buffered) so far; after Finish, the file's size.
  std::uint64_t FileSize() const { return offset_; }
  // The first and last internal keys added. REQUIRES: entries() > 0.
  std::string_view smallest() const { return smallest_; }
  std::string_view largest() const {
    return data_block_.empty() ? last_key_ : data_block_.last_key();
  }

 private:
  Status FlushDataBlock();
  // Writes `contents` plus its trailer and returns where it went.
  Result<BlockHandle> WriteBlock(std::string_view contents);

  const TableOptions options_;
  WritableFile& file_;
  const std::string path_;
  BlockBuilder data_block_;
  BlockBuilder index_block_;
  std::uint64_t offset_ = 0;
  std::uint64_t entries_ = 0;
  std::string smallest_;
  std::string last_key_;  // The last key of the last flushed data block.
  // User keys for the filter, concatenated, with their end offsets; each distinct user key once.
  std::string filter_keys_;
  std::vector<std::size_t> filter_key_ends_;
  std::string scratch_;
  Status status_;
  bool finished_ = false;
};

}  // namespace kv::storage::lsm
