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

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

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
std::uint64_t ExtractTrailer(std::string_view internal_key);

// The order of internal keys described above: <0, 0, >0. Both keys must be well formed.
int CompareInternalKeys(std::string_view a, std::string_view b);

// Orders user keys bytewise (memcmp, shorter prefix first) as a three-way int.
inline int CompareUserKeys(std::string_view a, std::string_view b) {
  const auto c = a <=> b;
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

// A key for looking up `user_key` as of `sequence`: the internal key (user_key, sequence,
// kKindForSeek), kept in one buffer because every Get builds one.
class LookupKey {
 public:
  LookupKey(std::string_view user_key, SequenceNumber sequence)
      : key_(MakeInternalKey(user_key, sequence, kKindForSeek)) {}
  std::string_view internal_key() const { return key_; }
  std::string_view user_key() const { return ExtractUserKey(key_); }

 private:
  std::string key_;
};

}  // namespace kv::storage::lsm
