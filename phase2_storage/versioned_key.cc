#include "phase2_storage/versioned_key.h"

#include <fmt/format.h>

namespace kv::storage {

void AppendVersionedKeyPrefix(std::string& dst, std::string_view user_key) {
  for (char c : user_key) {
    dst.push_back(c);
    if (c == '\0') dst.push_back('\xff');
  }
  dst.push_back('\0');
  dst.push_back('\x01');
}

std::string VersionedKey(std::string_view user_key, std::uint64_t timestamp) {
  std::string out;
  out.reserve(user_key.size() + 10);
  AppendVersionedKeyPrefix(out, user_key);
  const std::uint64_t inverted = ~timestamp;
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((inverted >> shift) & 0xff));
  }
  return out;
}

Result<DecodedVersionedKey> DecodeVersionedKey(std::string_view key) {
  DecodedVersionedKey out;
  std::size_t i = 0;
  for (;;) {
    if (i >= key.size()) {
      return Status::Corruption(
          fmt::format("versioned key of {} bytes has no key terminator", key.size()));
    }
    const char c = key[i++];
    if (c != '\0') {
      out.user_key.push_back(c);
      continue;
    }
    if (i >= key.size()) break;
    if (key[i] == '\xff') {
      out.user_key.push_back('\0');
      ++i;
      continue;
    }
    if (key[i] == '\x01') {
      ++i;
      if (key.size() - i != 8) break;
      std::uint64_t inverted = 0;
      for (; i < key.size(); ++i) inverted = (inverted << 8) | static_cast<std::uint8_t>(key[i]);
      out.timestamp = ~inverted;
      return out;
    }
    break;
  }
  return Status::Corruption(fmt::format("malformed versioned key at byte {} of {}", i, key.size()));
}

}  // namespace kv::storage
