// Little-endian fixed-width and varint encoding, with bounds-checked decoding.
//
// Every on-disk and on-wire format in the project is built from these pieces; the formats in
// docs/formats/ refer to them by name:
//   fixedN      N/8 bytes, least significant byte first.
//   varint      7 bits per byte, least significant group first, high bit set on all bytes but
//               the last (the encoding of protocol buffers and LevelDB). varint32 is at most 5
//               bytes, varint64 at most 10.
//   lenbytes    varint32 length, then that many bytes.
//
// Encoding appends to a std::string. Decoding goes through Decoder, which never reads past the
// end of its input: a truncated or overlong field is a kCorruption Status naming the offset.
//
// Thread safety: free functions are pure; a Decoder is a cursor owned by one thread.
#pragma once

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/status.h"

namespace kv {

inline constexpr int kMaxVarint32Bytes = 5;
inline constexpr int kMaxVarint64Bytes = 10;

// Writes `value` little-endian into the sizeof(T) bytes at `dst`.
// REQUIRES: dst points to at least sizeof(T) writable bytes.
template <std::unsigned_integral T>
inline void StoreFixed(char* dst, T value) {
  if constexpr (std::endian::native == std::endian::little) {
    // One store. (GCC 12 does not fuse the byte loop below into one; see the journal entry
    // 2026-11-21-common-seams.md, "Evidence".)
    std::memcpy(dst, &value, sizeof(T));
  } else {
    for (std::size_t i = 0; i < sizeof(T); ++i) {
      dst[i] = static_cast<char>(static_cast<unsigned char>(value >> (8 * i)));
    }
  }
}

// Reads a little-endian T from the sizeof(T) bytes at `src`, without a bounds check.
// REQUIRES: src points to at least sizeof(T) readable bytes. Prefer Decoder elsewhere.
template <std::unsigned_integral T>
inline T LoadFixed(const char* src) {
  T value = 0;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&value, src, sizeof(T));
  } else {
    for (std::size_t i = 0; i < sizeof(T); ++i) {
      value |= static_cast<T>(static_cast<unsigned char>(src[i])) << (8 * i);
    }
  }
  return value;
}

template <std::unsigned_integral T>
inline void AppendFixed(std::string& dst, T value) {
  char buf[sizeof(T)];
  StoreFixed(buf, value);
  dst.append(buf, sizeof(T));
}

inline void AppendFixed8(std::string& dst, std::uint8_t v) { AppendFixed(dst, v); }
inline void AppendFixed16(std::string& dst, std::uint16_t v) { AppendFixed(dst, v); }
inline void AppendFixed32(std::string& dst, std::uint32_t v) { AppendFixed(dst, v); }
inline void AppendFixed64(std::string& dst, std::uint64_t v) { AppendFixed(dst, v); }

void AppendVarint32(std::string& dst, std::uint32_t value);
void AppendVarint64(std::string& dst, std::uint64_t value);

// Appends varint32(bytes.size()) then the bytes. REQUIRES: bytes.size() < 2^32.
void AppendLengthPrefixed(std::string& dst, std::string_view bytes);

// The number of bytes AppendVarint64 writes for `value` (1..10).
int VarintLength(std::uint64_t value);

// A cursor over borrowed bytes. Each Read* consumes a field or, on failure, consumes nothing
// and returns kCorruption saying which field was truncated or malformed and at which offset.
// The string_views it returns point into the input, which must outlive them.
class Decoder {
 public:
  explicit Decoder(std::string_view input) : input_(input) {}

  Result<std::uint8_t> ReadFixed8() { return ReadFixed<std::uint8_t>("fixed8"); }
  Result<std::uint16_t> ReadFixed16() { return ReadFixed<std::uint16_t>("fixed16"); }
  Result<std::uint32_t> ReadFixed32() { return ReadFixed<std::uint32_t>("fixed32"); }
  Result<std::uint64_t> ReadFixed64() { return ReadFixed<std::uint64_t>("fixed64"); }
  Result<std::uint32_t> ReadVarint32();
  Result<std::uint64_t> ReadVarint64();
  // The next `n` bytes.
  Result<std::string_view> ReadBytes(std::size_t n);
  // A lenbytes field.
  Result<std::string_view> ReadLengthPrefixed();

  std::size_t offset() const { return offset_; }
  std::size_t remaining() const { return input_.size() - offset_; }
  bool empty() const { return remaining() == 0; }
  std::string_view rest() const { return input_.substr(offset_); }

 private:
  template <std::unsigned_integral T>
  Result<T> ReadFixed(const char* what) {
    if (remaining() < sizeof(T)) return Truncated(what, sizeof(T));
    T v = LoadFixed<T>(input_.data() + offset_);
    offset_ += sizeof(T);
    return v;
  }
  Status Truncated(const char* what, std::size_t need) const;

  std::string_view input_;
  std::size_t offset_ = 0;
};

// Orders byte strings as memcmp does, a proper prefix first, as a three-way int.
//
// Inline, eight bytes at a time: the LSM tree's skip list and block seeks and the B+tree's node
// searches compare short keys millions of times per second, and the call to the library's memcmp
// cost more than the comparison (7% of the LSM tree's read profile). Loading each word big-endian
// makes integer order byte order.
inline int CompareBytes(std::string_view a, std::string_view b) {
  const std::size_t n = a.size() < b.size() ? a.size() : b.size();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t x, y;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    if (x != y) {
      if constexpr (std::endian::native == std::endian::little) {
        x = __builtin_bswap64(x);
        y = __builtin_bswap64(y);
      }
      return x < y ? -1 : 1;
    }
  }
  for (; i < n; ++i) {
    const auto x = static_cast<unsigned char>(a[i]);
    const auto y = static_cast<unsigned char>(b[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

}  // namespace kv
