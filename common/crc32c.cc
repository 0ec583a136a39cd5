#include "common/crc32c.h"

#include <array>

#include "common/encoding.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace kv::crc32c {
namespace {

constexpr std::uint32_t kPoly = 0x82f63b78u;  // Reflected Castagnoli polynomial.

// kTables[0] is the classic byte-at-a-time table; kTables[k][b] is the CRC of byte b followed by
// k zero bytes, which lets the loop below fold eight input bytes per step (slicing-by-8).
using Tables = std::array<std::array<std::uint32_t, 256>, 8>;

constexpr Tables MakeTables() {
  Tables t{};
  for (std::uint32_t b = 0; b < 256; ++b) {
    std::uint32_t crc = b;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) ? kPoly : 0);
    t[0][b] = crc;
  }
  for (std::size_t k = 1; k < 8; ++k) {
    for (std::size_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
  }
  return t;
}

constexpr Tables kTables = MakeTables();

// Feeding zero bytes to a raw CRC register (no pre- or post-inversion) is a linear map of the
// register. ShiftTable holds that map for `kBytes` zero bytes, split by register byte, so applying
// it costs four lookups: Shift(x) = the register after x is followed by kBytes zero bytes.
//
// This is what lets the hardware path run three independent crc32 chains: the CRC instruction has
// a latency of ~3 cycles but issues one per cycle, so a single chain leaves two thirds of the unit
// idle. Over a stretch A B C of kBytes each, with raw registers a (started from the running CRC),
// b and c (both started from 0), the register after A B C is Shift(Shift(a) ^ b) ^ c, because the
// raw register after data d from start r is Shift_len(d)(r) ^ (the register after d from 0).
struct ShiftTable {
  std::array<std::array<std::uint32_t, 256>, 4> t{};
  std::uint32_t operator()(std::uint32_t x) const {
    return t[0][x & 0xff] ^ t[1][(x >> 8) & 0xff] ^ t[2][(x >> 16) & 0xff] ^ t[3][x >> 24];
  }
};

constexpr ShiftTable MakeShiftTable(std::size_t bytes) {
  // The image of each of the 32 register bits, then every byte value as a sum of its bits' images.
  std::array<std::uint32_t, 32> basis{};
  for (int j = 0; j < 32; ++j) {
    std::uint32_t x = std::uint32_t{1} << j;
    for (std::size_t i = 0; i < bytes; ++i) x = (x >> 8) ^ kTables[0][x & 0xff];
    basis[j] = x;
  }
  ShiftTable s;
  for (int i = 0; i < 4; ++i) {
    for (std::uint32_t b = 0; b < 256; ++b) {
      std::uint32_t x = 0;
      for (int bit = 0; bit < 8; ++bit) {
        if ((b >> bit) & 1) x ^= basis[8 * i + bit];
      }
      s.t[i][b] = x;
    }
  }
  return s;
}

// Stretch lengths of the three-chain loop: long stretches for the bulk, short ones for what is
// left (a 4 KiB block is one long round, then short rounds, then a short single-chain tail).
constexpr std::size_t kLongStretch = 1024;
constexpr std::size_t kShortStretch = 128;
constexpr ShiftTable kShiftLong = MakeShiftTable(kLongStretch);
constexpr ShiftTable kShiftShort = MakeShiftTable(kShortStretch);

#if defined(__x86_64__)
// Runs rounds of three interleaved chains over stretches of `kStretch` bytes while at least
// 3 * kStretch bytes remain; `c` is the raw register, advanced past what was consumed.
template <std::size_t kStretch>
__attribute__((target("sse4.2"))) inline void ThreeChains(std::uint64_t& c, const char*& p,
                                                          std::size_t& n, const ShiftTable& shift) {
  while (n >= 3 * kStretch) {
    std::uint64_t c1 = 0;
    std::uint64_t c2 = 0;
    for (std::size_t i = 0; i < kStretch; i += 8) {
      if (kStretch >= 1024 && i % 64 == 0) {
        // Bytes not yet in the CPU's cache (a table block read from a mapping) arrive faster
        // when each stream asks 512 bytes ahead: -5% per 4 KiB block in that case, nothing
        // when the block is cached (common_bench). Prefetches never fault, even past the end.
        __builtin_prefetch(p + i + 512);
        __builtin_prefetch(p + kStretch + i + 512);
        __builtin_prefetch(p + 2 * kStretch + i + 512);
      }
      c = _mm_crc32_u64(c, LoadFixed<std::uint64_t>(p + i));
      c1 = _mm_crc32_u64(c1, LoadFixed<std::uint64_t>(p + kStretch + i));
      c2 = _mm_crc32_u64(c2, LoadFixed<std::uint64_t>(p + 2 * kStretch + i));
    }
    const std::uint32_t ab = shift(static_cast<std::uint32_t>(c)) ^ static_cast<std::uint32_t>(c1);
    c = shift(ab) ^ static_cast<std::uint32_t>(c2);
    p += 3 * kStretch;
    n -= 3 * kStretch;
  }
}

__attribute__((target("sse4.2"))) std::uint32_t ExtendSse42(std::uint32_t crc,
                                                            std::string_view data) {
  const char* p = data.data();
  std::size_t n = data.size();
  std::uint64_t c = ~crc;
  if (n >= 3 * kShortStretch) {
    ThreeChains<kLongStretch>(c, p, n, kShiftLong);
    ThreeChains<kShortStretch>(c, p, n, kShiftShort);
  }
  while (n >= 8) {
    c = _mm_crc32_u64(c, LoadFixed<std::uint64_t>(p));
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<std::uint32_t>(c);
  while (n > 0) {
    c32 = _mm_crc32_u8(c32, static_cast<unsigned char>(*p));
    ++p;
    --n;
  }
  return ~c32;
}
#endif

}  // namespace

std::uint32_t ExtendPortable(std::uint32_t crc, std::string_view data) {
  const char* p = data.data();
  std::size_t n = data.size();
  std::uint32_t c = ~crc;
  while (n >= 8) {
    std::uint32_t lo = c ^ LoadFixed<std::uint32_t>(p);
    std::uint32_t hi = LoadFixed<std::uint32_t>(p + 4);
    c = kTables[7][lo & 0xff] ^ kTables[6][(lo >> 8) & 0xff] ^ kTables[5][(lo >> 16) & 0xff] ^
        kTables[4][lo >> 24] ^ kTables[3][hi & 0xff] ^ kTables[2][(hi >> 8) & 0xff] ^
        kTables[1][(hi >> 16) & 0xff] ^ kTables[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    c = (c >> 8) ^ kTables[0][(c ^ static_cast<unsigned char>(*p)) & 0xff];
    ++p;
    --n;
  }
  return ~c;
}

bool HardwareAvailable() {
#if defined(__x86_64__)
  static const bool available = __builtin_cpu_supports("sse4.2");
  return available;
#else
  return false;
#endif
}

std::uint32_t ExtendHardware(std::uint32_t crc, std::string_view data) {
#if defined(__x86_64__)
  return ExtendSse42(crc, data);
#else
  return ExtendPortable(crc, data);
#endif
}

std::uint32_t Extend(std::uint32_t crc, std::string_view data) {
  return HardwareAvailable() ? ExtendHardware(crc, data) : ExtendPortable(crc, data);
}

}  // namespace kv::crc32c
