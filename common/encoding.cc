#include "common/encoding.h"

#include <fmt/format.h>

#include "common/check.h"

namespace kv {

void AppendVarint64(std::string& dst, std::uint64_t value) {
  char buf[kMaxVarint64Bytes];
  int n = 0;
  while (value >= 0x80) {
    buf[n++] = static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  buf[n++] = static_cast<char>(value);
  dst.append(buf, static_cast<std::size_t>(n));
}

void AppendVarint32(std::string& dst, std::uint32_t value) { AppendVarint64(dst, value); }

void AppendLengthPrefixed(std::string& dst, std::string_view bytes) {
  KV_CHECK(bytes.size() <= UINT32_MAX, "lenbytes field longer than 4 GiB");
  AppendVarint32(dst, static_cast<std::uint32_t>(bytes.size()));
  dst.append(bytes);
}

int VarintLength(std::uint64_t value) {
  int n = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++n;
  }
  return n;
}

Status Decoder::Truncated(const char* what, std::size_t need) const {
  return Status::Corruption(fmt::format("truncated {} at offset {}: need {} bytes, have {}", what,
                                        offset_, need, remaining()));
}

Result<std::uint64_t> Decoder::ReadVarint64() {
  std::uint64_t result = 0;
  for (int i = 0; i < kMaxVarint64Bytes; ++i) {
    if (static_cast<std::size_t>(i) >= remaining()) return Truncated("varint64", i + 1);
    auto byte = static_cast<unsigned char>(input_[offset_ + i]);
    // The tenth byte holds bit 63 only; anything more overflows 64 bits.
    if (i == kMaxVarint64Bytes - 1 && byte > 1) break;
    result |= static_cast<std::uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      offset_ += static_cast<std::size_t>(i) + 1;
      return result;
    }
  }
  return Status::Corruption(fmt::format("varint64 at offset {} overflows 64 bits", offset_));
}

Result<std::uint32_t> Decoder::ReadVarint32() {
  std::size_t start = offset_;
  std::uint32_t result = 0;
  for (int i = 0; i < kMaxVarint32Bytes; ++i) {
    if (static_cast<std::size_t>(i) >= remaining()) return Truncated("varint32", i + 1);
    auto byte = static_cast<unsigned char>(input_[offset_ + i]);
    // The fifth byte holds bits 28..31 only.
    if (i == kMaxVarint32Bytes - 1 && byte > 0x0f) break;
    result |= static_cast<std::uint32_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      offset_ += static_cast<std::size_t>(i) + 1;
      return result;
    }
  }
  return Status::Corruption(fmt::format("varint32 at offset {} overflows 32 bits", start));
}

Result<std::string_view> Decoder::ReadBytes(std::size_t n) {
  if (remaining() < n) return Truncated("byte string", n);
  std::string_view out = input_.substr(offset_, n);
  offset_ += n;
  return out;
}

Result<std::string_view> Decoder::ReadLengthPrefixed() {
  std::size_t start = offset_;
  KV_ASSIGN_OR_RETURN(std::uint32_t len, ReadVarint32());
  if (remaining() < len) {
    Status s = Truncated("lenbytes payload", len);
    offset_ = start;  // Consume nothing on failure.
    return s;
  }
  return ReadBytes(len);
}

}  // namespace kv
