#include "phase2_storage/lsm/block.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "common/encoding.h"

namespace kv::storage::lsm {
namespace {

// Decodes a varint32 at p, not reading at or past `limit`; nullptr if it is malformed or cut.
// The hot path of every block seek, so it works on pointers rather than through a Decoder.
const char* DecodeVarint32(const char* p, const char* limit, std::uint32_t& value) {
  std::uint32_t result = 0;
  for (int shift = 0; shift <= 28 && p < limit; shift += 7) {
    const auto byte = static_cast<std::uint8_t>(*p++);
    result |= static_cast<std::uint32_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      value = result;
      return p;
    }
  }
  return nullptr;
}

// Decodes the entry header at p: shared key bytes, unshared key bytes, value length. Returns the
// start of the key delta, or nullptr if the header or the bytes it announces overrun `limit`.
const char* DecodeEntryHeader(const char* p, const char* limit, std::uint32_t& shared,
                              std::uint32_t& unshared, std::uint32_t& value_size) {
  if (limit - p >= 3 && ((static_cast<std::uint8_t>(p[0]) | static_cast<std::uint8_t>(p[1]) |
                          static_cast<std::uint8_t>(p[2])) < 128)) {
    // All three fit in one byte each: the usual case for small keys and values.
    shared = static_cast<std::uint8_t>(p[0]);
    unshared = static_cast<std::uint8_t>(p[1]);
    value_size = static_cast<std::uint8_t>(p[2]);
    p += 3;
  } else {
    if ((p = DecodeVarint32(p, limit, shared)) == nullptr) return nullptr;
    if ((p = DecodeVarint32(p, limit, unshared)) == nullptr) return nullptr;
    if ((p = DecodeVarint32(p, limit, value_size)) == nullptr) return nullptr;
  }
  if (static_cast<std::uint64_t>(limit - p) < std::uint64_t{unshared} + value_size) return nullptr;
  return p;
}

}  // namespace

std::string BlockLocation::ToString() const {
  if (kind == nullptr) return file != nullptr ? *file : std::string("block");
  return fmt::format("{} {} block at offset {}", file != nullptr ? std::string_view(*file) : "?",
                     kind, offset);
}

Result<BlockView> BlockView::Parse(std::string_view contents, const BlockLocation& where) {
  constexpr std::size_t kWord = sizeof(std::uint32_t);
  if (contents.size() < kWord) {
    return Status::Corruption(fmt::format("{}: block of {} bytes cannot hold its restart count",
                                          where.ToString(), contents.size()));
  }
  const std::uint32_t num_restarts =
      LoadFixed<std::uint32_t>(contents.data() + contents.size() - kWord);
  const std::uint64_t max_restarts = (contents.size() - kWord) / kWord;
  if (num_restarts == 0 || num_restarts > max_restarts) {
    return Status::Corruption(fmt::format("{}: block of {} bytes claims {} restart points",
                                          where.ToString(), contents.size(), num_restarts));
  }
  const auto restarts_offset =
      static_cast<std::uint32_t>(contents.size() - kWord - std::uint64_t{num_restarts} * kWord);
  // Restart points must be increasing offsets inside the entries, the first one at 0.
  std::uint32_t previous = 0;
  for (std::uint32_t i = 0; i < num_restarts; ++i) {
    const std::uint32_t r = LoadFixed<std::uint32_t>(contents.data() + restarts_offset + i * kWord);
    const bool bad = (i == 0 && r != 0) || (i > 0 && r <= previous) ||
                     (r >= restarts_offset && !(i == 0 && restarts_offset == 0));
    if (bad) {
      return Status::Corruption(
          fmt::format("{}: restart point {} at block offset {} is out of order or out of range",
                      where.ToString(), i, r));
    }
    previous = r;
  }
  return BlockView(contents, restarts_offset, num_restarts);
}

// ---------------------------------------------------------------------------------------------
// BlockCursor. Its position is the offset of the next entry; key_ is the current key in full
// (entries store only the part after the prefix they share with their predecessor).

void BlockCursor::Reset(const BlockView& block, const BlockLocation* where) {
  data_ = block.contents_.data();
  entries_end_ = block.restarts_offset_;
  num_restarts_ = block.num_restarts_;
  where_ = where;
  next_ = 0;
  valid_ = false;
  key_in_buffer_ = false;
  key_ = {};
  value_ = {};
  if (!status_.ok()) status_ = Status::Ok();
}

void BlockCursor::SeekToFirst() {
  if (!status_.ok()) return;
  SeekToRestart(0);
  ParseNext();
}

void BlockCursor::Next() {
  if (valid_) ParseNext();
}

void BlockCursor::Seek(std::string_view target) {
  if (!status_.ok()) return;
  // Binary search for the last restart point whose key is < target; the answer is at or after
  // it and before the next restart point's key (which is >= target), give or take one run.
  // Restart keys are stored whole, so the search compares views into the block.
  std::uint32_t left = 0;
  std::uint32_t right = num_restarts_ - 1;
  while (left < right) {
    const std::uint32_t mid = (left + right + 1) / 2;
    std::string_view mid_key;
    if (!RestartKey(mid, mid_key)) return;
    if (compare_(mid_key, target) < 0) {
      left = mid;
    } else {
      right = mid - 1;
    }
  }
  SeekToRestart(left);
  for (;;) {
    if (!ParseNext()) return;
    if (compare_(key_, target) >= 0) return;
  }
}

std::uint32_t BlockCursor::RestartOffset(std::uint32_t index) const {
  return LoadFixed<std::uint32_t>(data_ + entries_end_ + index * sizeof(std::uint32_t));
}

// The whole key stored at restart point `index` (restart entries share no prefix).
bool BlockCursor::RestartKey(std::uint32_t index, std::string_view& key) {
  const std::uint32_t offset = RestartOffset(index);
  std::uint32_t shared, unshared, value_size;
  const char* p =
      DecodeEntryHeader(data_ + offset, data_ + entries_end_, shared, unshared, value_size);
  if (p == nullptr || shared != 0 || unshared < min_key_size_) return Fail(offset);
  key = std::string_view(p, unshared);
  return true;
}

void BlockCursor::SeekToRestart(std::uint32_t index) {
  key_ = {};
  key_in_buffer_ = false;
  next_ = RestartOffset(index);
  valid_ = false;
}

char* BlockCursor::GrowKeyBuffer(std::size_t size, std::size_t keep) {
  if (size > key_capacity_) {
    const std::size_t capacity = std::max(size, 2 * key_capacity_);
    auto bigger = std::make_unique<char[]>(capacity);
    std::memcpy(bigger.get(), key_buffer_, keep);
    heap_key_ = std::move(bigger);
    key_buffer_ = heap_key_.get();
    key_capacity_ = capacity;
  }
  return key_buffer_;
}

// Decodes the entry at next_ into key_/value_. False at the end of the block or on damage.
bool BlockCursor::ParseNext() {
  if (next_ >= entries_end_) {
    valid_ = false;
    return false;
  }
  std::uint32_t shared, unshared, value_size;
  const char* p =
      DecodeEntryHeader(data_ + next_, data_ + entries_end_, shared, unshared, value_size);
  if (p == nullptr || shared > key_.size() || shared + std::size_t{unshared} < min_key_size_) {
    return Fail(next_);
  }
  if (shared == 0) {
    key_ = std::string_view(p, unshared);  // Stored whole: no copy.
    key_in_buffer_ = false;
  } else {
    const std::size_t size = std::size_t{shared} + unshared;
    // The prefix is in the buffer already if the previous key was assembled there.
    char* dst = GrowKeyBuffer(size, key_in_buffer_ ? shared : 0);
    if (!key_in_buffer_) std::memcpy(dst, key_.data(), shared);
    std::memcpy(dst + shared, p, unshared);
    key_ = std::string_view(dst, size);
    key_in_buffer_ = true;
  }
  value_ = std::string_view(p + unshared, value_size);
  next_ = static_cast<std::uint32_t>(p + unshared + value_size - data_);
  valid_ = true;
  return true;
}

bool BlockCursor::Fail(std::uint32_t offset) {
  valid_ = false;
  status_ = Status::Corruption(
      fmt::format("{}: malformed entry at block offset {}",
                  where_ != nullptr ? where_->ToString() : std::string("block"), offset));
  return false;
}

// ---------------------------------------------------------------------------------------------
// Block

Result<std::shared_ptr<const Block>> Block::Make(std::shared_ptr<Block> block) {
  KV_ASSIGN_OR_RETURN(block->view_, BlockView::Parse(block->contents_, block->where_));
  return std::shared_ptr<const Block>(std::move(block));
}

Result<std::shared_ptr<const Block>> Block::Parse(std::string contents, BlockLocation where,
                                                  std::shared_ptr<const void> pin) {
  return Make(
      std::make_shared<Block>(Token{}, std::move(contents), std::string(), std::move(pin), where));
}

Result<std::shared_ptr<const Block>> Block::Parse(std::string contents, std::string where) {
  auto block = std::make_shared<Block>(Token{}, std::move(contents), std::move(where), nullptr,
                                       BlockLocation{});
  block->where_.file = &block->description_;
  return Make(std::move(block));
}

namespace {

// The Iterator interface over a cursor; holds the block alive.
class BlockIterator final : public Iterator {
 public:
  BlockIterator(std::shared_ptr<const Block> block, KeyComparator compare, std::size_t min_key_size)
      : block_(std::move(block)), cursor_(compare, min_key_size) {
    cursor_.Reset(block_->view(), &block_->location());
  }

  bool Valid() const override { return cursor_.Valid(); }
  std::string_view key() const override { return cursor_.key(); }
  std::string_view value() const override { return cursor_.value(); }
  Status status() const override { return cursor_.status(); }
  void SeekToFirst() override { cursor_.SeekToFirst(); }
  void Next() override { cursor_.Next(); }
  void Seek(std::string_view target) override { cursor_.Seek(target); }

 private:
  const std::shared_ptr<const Block> block_;
  BlockCursor cursor_;
};

}  // namespace

std::unique_ptr<Iterator> Block::NewIterator(std::shared_ptr<const Block> block,
                                             KeyComparator compare, std::size_t min_key_size) {
  return std::make_unique<BlockIterator>(std::move(block), compare, min_key_size);
}

}  // namespace kv::storage::lsm
