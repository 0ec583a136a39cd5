// Internal keys: how the LSM tree keeps several versions of one user key apart.
//
// Every write the tree accepts gets a sequence number, one more than the write before (a batch
// takes one number per entry). What the memtables and SSTables store is not the user's key but
// an internal key:
//
//   internal_key := user_key  trailer
//   trailer      := fixed64 little-endian of (sequence << 8 | kind)     (8 bytes)
//
// `kind` says whether the entry is a value or a tombstone (a delete). Internal keys sort by user
// key ascending (bytewise), then by sequence number *descending*, then kind descending: the newest
// version of a key comes first, so a read "as of sequence s" seeks to (key, s) and the first
// entry it lands on with the same user key is the answer. docs/formats/sstable.md has the grammar.
//
// Sequence numbers are 56 bits: 2^56 writes at a million per second last two thousand years.
//
// Thread safety: plain functions and values.
#pragma once

#include <bit>
#include <compare>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "common/encoding.h"
#include "common/status.h"

namespace kv::storage::lsm {

using SequenceNumber = std::uint64_t;
inline constexpr SequenceNumber kMaxSequenceNumber = (SequenceNumber{1} << 56) - 1;

enum class EntryKind : std::uint8_t {
  kDelete = 0,  // A tombstone: the key has no value from this sequence number on.
  kValue = 1,
};
// A seek for (key, s) uses the largest kind so that it lands on, not after, an entry at s.
inline constexpr EntryKind kKindForSeek = EntryKind::kValue;

inline constexpr std::size_t kTrailerSize = 8;

struct ParsedInternalKey {
  std::string_view user_key;
  SequenceNumber sequence = 0;
  EntryKind kind = EntryKind::kValue;
};

inline std::uint64_t PackTrailer(SequenceNumber sequence, EntryKind kind) {
  return (sequence << 8) | static_cast<std::uint64_t>(kind);
}

// Appends the internal key of (user_key, sequence, kind) to `dst`.
// REQUIRES: sequence <= kMaxSequenceNumber.
void AppendInternalKey(std::string& dst, std::string_view user_key, SequenceNumber sequence,
                       EntryKind kind);
std::string MakeInternalKey(std::string_view user_key, SequenceNumber sequence, EntryKind kind);

// Splits an internal key; kCorruption if it is shorter than a trailer or has an unknown kind.
// The caller adds the file and offset to the message.
Result<ParsedInternalKey> ParseInternalKey(std::string_view internal_key);

// The user key of a well-formed internal key (no checks: for keys this process built or parsed).
inline std::string_view ExtractUserKey(std::string_view internal_key) {
  return internal_key.substr(0, internal_key.size() - kTrailerSize);
}
inline std::uint64_t ExtractTrailer(std::string_view internal_key) {
  std::uint64_t trailer;
  std::memcpy(&trailer, internal_key.data() + internal_key.size() - kTrailerSize, kTrailerSize);
  if constexpr (std::endian::native == std::endian::big) trailer = __builtin_bswap64(trailer);
  return trailer;  // fixed64 is little-endian.
}

// Orders user keys bytewise (as memcmp, a proper prefix first) as a three-way int; inline and
// eight bytes at a time (common/encoding.h).
inline int CompareUserKeys(std::string_view a, std::string_view b) { return CompareBytes(a, b); }

// The order of internal keys described above: <0, 0, >0. Both keys must be well formed.
inline int CompareInternalKeys(std::string_view a, std::string_view b) {
  if (int c = CompareUserKeys(ExtractUserKey(a), ExtractUserKey(b)); c != 0) return c;
  // Same user key: the larger trailer (newer sequence) sorts first.
  const std::uint64_t ta = ExtractTrailer(a);
  const std::uint64_t tb = ExtractTrailer(b);
  if (ta > tb) return -1;
  if (ta < tb) return 1;
  return 0;
}

// A key for looking up `user_key` as of `sequence`: the internal key (user_key, sequence,
// kKindForSeek), built in one buffer because every Get and every seek builds one. Keys up to
// 56 bytes live inside the object, so building one does not allocate.
class LookupKey {
 public:
  LookupKey(std::string_view user_key, SequenceNumber sequence);
  LookupKey(const LookupKey&) = delete;
  LookupKey& operator=(const LookupKey&) = delete;

  std::string_view internal_key() const { return std::string_view(data_, size_); }
  std::string_view user_key() const { return std::string_view(data_, size_ - kTrailerSize); }

 private:
  static constexpr std::size_t kInline = 64;
  char inline_[kInline];
  std::unique_ptr<char[]> heap_;
  char* data_;
  std::size_t size_;
};

}  // namespace kv::storage::lsm
