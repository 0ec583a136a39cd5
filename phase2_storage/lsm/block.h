// Block: one block of an SSTable, parsed from the bytes BlockBuilder laid out
// (docs/formats/sstable.md, "block"), and the ways to walk its entries.
//
// A block is checked twice: its checksum when it is read from the file (table_format.h), and its
// structure here — the restart array must lie inside the block and point at entries in order,
// every entry's lengths must fit. Structure errors are kCorruption naming the file and the offset
// of the block, so a bug in a writer is reported, not read past.
//
// Three layers, so that a point read can walk a block without allocating:
//   * BlockView: the checked layout of bytes someone else owns (a value; no ownership);
//   * BlockCursor: walks a BlockView (seek, next); keys are views into the block where they are
//     stored whole, and assembled in an inline buffer where they share a prefix;
//   * Block: a BlockView over bytes it owns, shared through shared_ptr by the block cache and
//     iterators; NewIterator wraps a cursor in the Iterator interface.
//
// Thread safety: BlockView and Block are immutable and may be shared by many threads; each
// cursor and iterator is used by one thread.
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
// miss, and building the text each time showed in the profile. It does not own `file`: whoever
// holds the location keeps the string alive (a Block does, through its pin).
struct BlockLocation {
  const std::string* file = nullptr;
  const char* kind = nullptr;  // "data", "index"; nullptr: `file` holds the whole description.
  std::uint64_t offset = 0;
  std::string ToString() const;
};

// The checked layout of a block's contents (checksum already verified). Does not own the bytes.
class BlockView {
 public:
  BlockView() = default;
  // kCorruption naming `where` if the restart array does not fit or is out of order.
  static Result<BlockView> Parse(std::string_view contents, const BlockLocation& where);

  std::string_view contents() const { return contents_; }
  std::size_t size() const { return contents_.size(); }

 private:
  friend class BlockCursor;
  BlockView(std::string_view contents, std::uint32_t restarts_offset, std::uint32_t num_restarts)
      : contents_(contents), restarts_offset_(restarts_offset), num_restarts_(num_restarts) {}

  std::string_view contents_;
  std::uint32_t restarts_offset_ = 0;  // Where the restart array starts = end of the entries.
  std::uint32_t num_restarts_ = 0;
};

// Walks the entries of one block in order; the iterator contract, without virtual calls or
// ownership. Keys longer than 64 bytes that share a prefix with their predecessor are assembled
// on the heap (once per cursor, the buffer is reused); shorter ones cost no allocation.
// Not copyable or movable (the key may point into the cursor itself).
class BlockCursor {
 public:
  // A key shorter than `min_key_size` is reported as corruption before `compare` sees it
  // (internal keys must hold their 8-byte trailer; CompareInternalKeys requires it).
  BlockCursor(KeyComparator compare, std::size_t min_key_size)
      : compare_(compare), min_key_size_(min_key_size) {}
  BlockCursor(const BlockCursor&) = delete;
  BlockCursor& operator=(const BlockCursor&) = delete;

  // Points the cursor at `block`, unpositioned (not Valid) and with an OK status.
  // REQUIRES: the block's bytes and `*where` outlive every use of the cursor until the next Reset.
  void Reset(const BlockView& block, const BlockLocation* where);

  bool Valid() const { return valid_; }
  // REQUIRES: Valid(). Views valid until the cursor moves or is Reset.
  std::string_view key() const { return key_; }
  std::string_view value() const { return value_; }
  const Status& status() const { return status_; }

  void SeekToFirst();
  void Next();  // REQUIRES: Valid().
  // The first entry whose key is >= target.
  void Seek(std::string_view target);

 private:
  std::uint32_t RestartOffset(std::uint32_t index) const;
  bool RestartKey(std::uint32_t index, std::string_view& key);
  void SeekToRestart(std::uint32_t index);
  bool ParseNext();
  bool Fail(std::uint32_t offset);
  // Room for a key of `size` bytes whose first `keep` bytes are already in the buffer.
  char* GrowKeyBuffer(std::size_t size, std::size_t keep);

  const KeyComparator compare_;
  const std::size_t min_key_size_;
  const char* data_ = nullptr;
  std::uint32_t entries_end_ = 0;
  std::uint32_t num_restarts_ = 0;
  const BlockLocation* where_ = nullptr;
  std::uint32_t next_ = 0;  // Offset of the entry after the current one.
  bool valid_ = false;
  bool key_in_buffer_ = false;  // key_ points into the buffer (true) or into the block (false).
  std::string_view key_;
  std::string_view value_;
  Status status_;
  static constexpr std::size_t kInlineKey = 64;
  char inline_key_[kInlineKey];
  std::unique_ptr<char[]> heap_key_;
  char* key_buffer_ = inline_key_;
  std::size_t key_capacity_ = kInlineKey;
};

class Block {
 public:
  // Takes the block's bytes (checksum already verified). `pin`, if given, keeps `*where.file`
  // alive as long as the block; without it `*where.file` must outlive the block.
  static Result<std::shared_ptr<const Block>> Parse(std::string contents, BlockLocation where,
                                                    std::shared_ptr<const void> pin = nullptr);
  // As above; `where` is the whole description, e.g. "000012.sst data block at offset 4096".
  static Result<std::shared_ptr<const Block>> Parse(std::string contents, std::string where);

  // An iterator over the entries, ordered by `compare`. It keeps the block alive. See
  // BlockCursor for `min_key_size`.
  static std::unique_ptr<Iterator> NewIterator(std::shared_ptr<const Block> block,
                                               KeyComparator compare, std::size_t min_key_size = 0);

  const BlockView& view() const { return view_; }
  const BlockLocation& location() const { return where_; }
  std::size_t size() const { return view_.size(); }
  std::string where() const { return where_.ToString(); }

  // Constructed only by Parse (public for make_shared, which needs a public constructor).
  struct Token {
    explicit Token() = default;
  };
  Block(Token, std::string contents, std::string description, std::shared_ptr<const void> pin,
        BlockLocation where)
      : contents_(std::move(contents)),
        description_(std::move(description)),
        pin_(std::move(pin)),
        where_(where) {}
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;

 private:
  static Result<std::shared_ptr<const Block>> Make(std::shared_ptr<Block> block);

  const std::string contents_;
  const std::string description_;          // `where` as text, for Parse(contents, std::string).
  const std::shared_ptr<const void> pin_;  // Keeps *where_.file alive.
  BlockLocation where_;
  BlockView view_;  // Over contents_.
};

}  // namespace kv::storage::lsm
