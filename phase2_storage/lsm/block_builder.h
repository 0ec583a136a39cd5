// BlockBuilder: lays out sorted (key, value) entries as one block of an SSTable — a data block or
// the index block (docs/formats/sstable.md, "block").
//
// Keys are prefix-compressed: an entry stores only the bytes in which its key differs from the
// key before it. Every `restart_interval` entries the builder writes a key whole and records the
// entry's offset in the restart array at the block's end, so a reader can binary-search the
// restart points and decode forward from one, instead of decoding the block from its start.
//
// Thread safety: none (one builder per table being written).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kv::storage::lsm {

class BlockBuilder {
 public:
  // REQUIRES: restart_interval >= 1.
  explicit BlockBuilder(int restart_interval);

  // Appends an entry. REQUIRES: Finish() has not been called since the last Reset(), and `key`
  // sorts after every key added before (the caller checks, with its comparator).
  void Add(std::string_view key, std::string_view value);
  // Appends the restart array and returns the whole block; valid until Reset() or destruction.
  std::string_view Finish();
  // Starts a new, empty block.
  void Reset();

  // The size of the block if it were finished now.
  std::size_t SizeEstimate() const;
  bool empty() const { return entries_ == 0; }
  std::string_view last_key() const { return last_key_; }

 private:
  const int restart_interval_;
  std::string buffer_;
  std::vector<std::uint32_t> restarts_;  // Offsets of the entries that carry a whole key.
  int since_restart_ = 0;                // Entries added since the last restart point.
  std::size_t entries_ = 0;
  std::string last_key_;
  bool finished_ = false;
};

}  // namespace kv::storage::lsm
