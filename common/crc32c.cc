#include "common/crc32c.h"

#include <array>
#include <cstring>

#include "common/encoding.h"

#if defined(__x86_64__)
#include <immintrin.h>
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

// The carry-less multiplication path (below) keeps four 32-byte accumulators, and is taken for
// inputs of kFoldMinimum bytes or more: below that the crc32 chains are as fast (common_bench).
constexpr std::size_t kFoldBytes = 128;
constexpr std::size_t kFoldMinimum = 512;

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

// The carry-less multiplication path. The CRC is the remainder of the message polynomial, so
// any 32 bytes may be replaced by other bytes congruent to them modulo P at the same place,
// without changing it. Four accumulators of 32 bytes hold a 128-byte window congruent to
// everything read so far; each round carries each of them 128 bytes forward (a multiplication
// by x^1024 reduced modulo P, two vpclmulqdq per 16 bytes) and adds (XORs) the next 128 bytes
// into it. At the end the window's 128 bytes go through the crc32 instruction. The crc32 unit
// takes eight bytes a cycle at best; the multiplier here takes sixteen.
//
// The bit order is the CRC's: in each 64-bit word read from the message, bit j stands for x^(63-j)
// (the first bit is the highest power), and in a 16-byte lane the first word is the high half. A
// carry-less product of two such words a * b, read the same way as a 16-byte lane, is x * a * b
// (the product's top bit, 127, is always 0: one degree is lost to the reversal). So a lane
// lo * x^64 + hi is carried d bits forward by lo * K1 + hi * K2 with K1 = x^(d+63) mod P and
// K2 = x^(d-1) mod P, each written as a word in the same reversed order.
constexpr std::uint64_t XPowModP(std::size_t n) {
  std::uint64_t r = 1;  // Bit e is the coefficient of x^e; P = x^32 + 0x1edc6f41.
  for (std::size_t i = 0; i < n; ++i) {
    r <<= 1;
    if ((r >> 32) != 0) r ^= 0x11edc6f41ULL;
  }
  std::uint64_t word = 0;
  for (int e = 0; e < 32; ++e) {
    if ((r >> e) & 1) word |= std::uint64_t{1} << (63 - e);
  }
  return word;
}
constexpr std::uint64_t kFoldLo = XPowModP(8 * kFoldBytes + 63);
constexpr std::uint64_t kFoldHi = XPowModP(8 * kFoldBytes - 1);

#define KV_FOLD_TARGET __attribute__((target("sse4.2,avx2,pclmul,vpclmulqdq")))

KV_FOLD_TARGET inline __m256i Load32(const char* at) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(at));
}

// The accumulator `a` carried kFoldBytes forward, plus the next 32 bytes `v`.
KV_FOLD_TARGET inline __m256i Fold(__m256i a, __m256i k, __m256i v) {
  const __m256i lo = _mm256_clmulepi64_epi128(a, k, 0x00);
  const __m256i hi = _mm256_clmulepi64_epi128(a, k, 0x11);
  return _mm256_xor_si256(_mm256_xor_si256(lo, hi), v);
}

// The 32 bytes at p + i, also stored at out + i when copying.
template <bool kCopy>
KV_FOLD_TARGET inline __m256i Take(const char* p, char* out, std::size_t i) {
  __m256i v = Load32(p + i);
  if constexpr (kCopy) {
    // The stored register is the folded one. The empty asm makes the compiler treat v as
    // produced here, so it can never fold a second load of the source instead (which a source
    // changing meanwhile, a page being written back, would make differ from the copy).
    asm("" : "+x"(v));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), v);
  }
  return v;
}

// Extend(crc, data), also copying data to `out` when kCopy: the CRC is then of the bytes as they
// were stored, taken from the same registers. REQUIRES: data.size() >= kFoldBytes.
template <bool kCopy>
KV_FOLD_TARGET std::uint32_t ExtendFoldedImpl(std::uint32_t crc, std::string_view data, char* out) {
  const char* p = data.data();
  std::size_t n = data.size();
  // A register r before the message is the same as r added into its first four bytes.
  __m256i a0 = _mm256_xor_si256(Take<kCopy>(p, out, 0), _mm256_set_epi64x(0, 0, 0, ~crc));
  __m256i a1 = Take<kCopy>(p, out, 32);
  __m256i a2 = Take<kCopy>(p, out, 64);
  __m256i a3 = Take<kCopy>(p, out, 96);
  std::size_t i = kFoldBytes;
  const auto lo = static_cast<long long>(kFoldLo);
  const auto hi = static_cast<long long>(kFoldHi);
  const __m256i k = _mm256_set_epi64x(hi, lo, hi, lo);
  for (; i + kFoldBytes <= n; i += kFoldBytes) {
    a0 = Fold(a0, k, Take<kCopy>(p, out, i));
    a1 = Fold(a1, k, Take<kCopy>(p, out, i + 32));
    a2 = Fold(a2, k, Take<kCopy>(p, out, i + 64));
    a3 = Fold(a3, k, Take<kCopy>(p, out, i + 96));
  }
  alignas(32) char window[kFoldBytes];
  _mm256_store_si256(reinterpret_cast<__m256i*>(window), a0);
  _mm256_store_si256(reinterpret_cast<__m256i*>(window + 32), a1);
  _mm256_store_si256(reinterpret_cast<__m256i*>(window + 64), a2);
  _mm256_store_si256(reinterpret_cast<__m256i*>(window + 96), a3);
  std::uint64_t c = 0;
  for (std::size_t w = 0; w < kFoldBytes; w += 8) {
    c = _mm_crc32_u64(c, LoadFixed<std::uint64_t>(window + w));
  }
  // What is left (under 128 bytes) goes on from the window's register.
  std::string_view rest(p + i, n - i);
  if constexpr (kCopy) {
    std::memcpy(out + i, rest.data(), rest.size());
    rest = std::string_view(out + i, rest.size());
  }
  return ExtendSse42(~static_cast<std::uint32_t>(c), rest);
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

bool FoldingAvailable() {
#if defined(__x86_64__)
  static const bool available =
      __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("avx2") &&
      __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("vpclmulqdq");
  return available;
#else
  return false;
#endif
}

std::uint32_t ExtendFolded(std::uint32_t crc, std::string_view data) {
#if defined(__x86_64__)
  if (data.size() < kFoldBytes) return ExtendSse42(crc, data);
  return ExtendFoldedImpl<false>(crc, data, nullptr);
#else
  return ExtendPortable(crc, data);
#endif
}

std::uint32_t CopyAndExtend(std::uint32_t crc, std::string_view data, char* out) {
#if defined(__x86_64__)
  if (data.size() >= kFoldMinimum && FoldingAvailable()) {
    return ExtendFoldedImpl<true>(crc, data, out);
  }
#endif
  std::memcpy(out, data.data(), data.size());
  return Extend(crc, std::string_view(out, data.size()));
}

std::uint32_t Extend(std::uint32_t crc, std::string_view data) {
  if (data.size() >= kFoldMinimum && FoldingAvailable()) return ExtendFolded(crc, data);
  return HardwareAvailable() ? ExtendHardware(crc, data) : ExtendPortable(crc, data);
}

}  // namespace kv::crc32c
