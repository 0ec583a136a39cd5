#include "phase2_storage/lsm/internal_key.h"

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

std::uint64_t ExtractTrailer(std::string_view internal_key) {
  return LoadFixed<std::uint64_t>(internal_key.data() + internal_key.size() - kTrailerSize);
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

int CompareInternalKeys(std::string_view a, std::string_view b) {
  if (int c = CompareUserKeys(ExtractUserKey(a), ExtractUserKey(b)); c != 0) return c;
  // Same user key: the larger trailer (newer sequence) sorts first.
  const std::uint64_t ta = ExtractTrailer(a);
  const std::uint64_t tb = ExtractTrailer(b);
  if (ta > tb) return -1;
  if (ta < tb) return 1;
  return 0;
}

}  // namespace kv::storage::lsm
