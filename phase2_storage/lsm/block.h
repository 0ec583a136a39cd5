// Block: a read-only view of one block of an SSTable, parsed from the bytes BlockBuilder laid out
// (docs/formats/sstable.md, "block"), and an iterator over its entries.
//
// A block is checked twice: its checksum when it is read from the file (table_format.h), and its
// structure here — the restart array must lie inside the block and point at entries in order,
// every entry's lengths must fit. Structure errors are kCorruption naming the file and the offset
// of the block, so a bug in a writer is reported, not read past.
//
// Thread safety: a Block is immutable and may be shared by many threads (the block cache hands
// out shared_ptrs); each iterator is used by one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "phase2_storage/ordered_engine.h"

namespace kv::storage::lsm {

// A three-way comparison of keys: <0, 0, >0.
using KeyComparator = int (*)(std::string_view, std::string_view);

// Where a block came from, for error messages: "<file> <kind> block at offset <offset>". Kept as
// parts and formatted only when an error is reported: a table read parses a block per cache
// miss, and building the text each time showed in the profile.
struct BlockLocation {
  std::shared_ptr<const std::string> file;
  const char* kind = nullptr;  // "data", "index"; nullptr: `file` holds the whole description.
  std::uint64_t offset = 0;
  std::string ToString() const;
};

class Block {
 public:
  // Takes the block's bytes (checksum already verified). `where` names the block in errors,
  // e.g. "000012.sst data block at offset 4096".
  static Result<std::shared_ptr<const Block>> Parse(std::string contents, BlockLocation where);
  static Result<std::shared_ptr<const Block>> Parse(std::string contents, std::string where) {
    return Parse(std::move(contents),
                 BlockLocation{std::make_shared<const std::string>(std::move(where))});
  }

  // An iterator over the entries, ordered by `compare`. It keeps the block alive. A key shorter
  // than `min_key_size` is reported as corruption before `compare` sees it (internal keys must
  // hold their 8-byte trailer; CompareInternalKeys requires it).
  static std::unique_ptr<Iterator> NewIterator(std::shared_ptr<const Block> block,
                                               KeyComparator compare, std::size_t min_key_size = 0);

  std::size_t size() const { return contents_.size(); }
  std::string where() const { return where_.ToString(); }

 private:
  Block(std::string contents, BlockLocation where, std::uint32_t restarts_offset,
        std::uint32_t num_restarts)
      : contents_(std::move(contents)),
        where_(std::move(where)),
        restarts_offset_(restarts_offset),
        num_restarts_(num_restarts) {}
  friend class BlockIterator;

  const std::string contents_;
  const BlockLocation where_;
  const std::uint32_t restarts_offset_;  // Where the restart array starts = end of entries.
  const std::uint32_t num_restarts_;
};

}  // namespace kv::storage::lsm
