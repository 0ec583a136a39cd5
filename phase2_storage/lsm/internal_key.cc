#include "phase2_storage/lsm/internal_key.h"

#include <cstring>

#include <fmt/format.h>

#include "common/check.h"
#include "common/encoding.h"

namespace kv::storage::lsm {

void AppendInternalKey(std::string& dst, std::string_view user_key, SequenceNumber sequence,
                       EntryKind kind) {
  KV_CHECK(sequence <= kMaxSequenceNumber, "sequence number over 56 bits");
  dst.append(user_key);
  AppendFixed64(dst, PackTrailer(sequence, kind));
}

std::string MakeInternalKey(std::string_view user_key, SequenceNumber sequence, EntryKind kind) {
  std::string key;
  key.reserve(user_key.size() + kTrailerSize);
  AppendInternalKey(key, user_key, sequence, kind);
  return key;
}

LookupKey::LookupKey(std::string_view user_key, SequenceNumber sequence)
    : data_(inline_), size_(user_key.size() + kTrailerSize) {
  KV_CHECK(sequence <= kMaxSequenceNumber, "sequence number over 56 bits");
  if (size_ > kInline) {
    heap_ = std::make_unique<char[]>(size_);
    data_ = heap_.get();
  }
  if (!user_key.empty()) std::memcpy(data_, user_key.data(), user_key.size());
  StoreFixed(data_ + user_key.size(), PackTrailer(sequence, kKindForSeek));
}

Result<ParsedInternalKey> ParseInternalKey(std::string_view internal_key) {
  if (internal_key.size() < kTrailerSize) {
    return Status::Corruption(fmt::format(
        "internal key of {} bytes, shorter than its 8-byte trailer", internal_key.size()));
  }
  const std::uint64_t trailer = ExtractTrailer(internal_key);
  const std::uint8_t kind = static_cast<std::uint8_t>(trailer & 0xff);
  if (kind > static_cast<std::uint8_t>(EntryKind::kValue)) {
    return Status::Corruption(fmt::format("internal key with unknown kind {}", kind));
  }
  return ParsedInternalKey{ExtractUserKey(internal_key), trailer >> 8,
                           static_cast<EntryKind>(kind)};
}

}  // namespace kv::storage::lsm
