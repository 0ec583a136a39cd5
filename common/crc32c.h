// CRC32C (Castagnoli polynomial 0x1EDC6F41, reflected 0x82F63B78), as in iSCSI (RFC 3720),
// ext4 and LevelDB: the checksum of every record and block the project writes.
//
// Extend() uses the SSE4.2 crc32 instruction when the CPU has it (checked once, at run time)
// and a table-driven slicing-by-8 loop otherwise. The hardware path runs three independent
// chains over inputs of 384 bytes or more and combines them (crc32c.cc): one chain waits on the
// instruction's latency, three keep it busy. A 4 KiB block took 411 ns with one chain and 168 ns
// with three (common_bench, this project's 2-core EPYC). From 512 bytes on, CPUs with VPCLMULQDQ
// take a third path, which folds the input with carry-less multiplications instead: 144 ns for
// 4 KiB, 764 ns rather than 832 ns for a 4 KiB block not in the CPU's cache (common_bench,
// 2026-11-21). Every path is exposed so tests can check that they agree.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kv::crc32c {

// The CRC of `data` appended to bytes whose CRC is `crc` (0 for the empty prefix).
std::uint32_t Extend(std::uint32_t crc, std::string_view data);
inline std::uint32_t Value(std::string_view data) { return Extend(0, data); }
// Copies `data` to `out` (data.size() bytes, not overlapping it) and returns Extend(crc, copy):
// the CRC of the bytes as copied, even if `data` changes meanwhile. One pass where Extend() would
// take the carry-less path, so that bytes still on their way from memory are checksummed as
// they arrive (a page read from a mapping: phase2_storage/btree/buffer_pool.cc).
std::uint32_t CopyAndExtend(std::uint32_t crc, std::string_view data, char* out);

// The implementations behind Extend().
std::uint32_t ExtendPortable(std::uint32_t crc, std::string_view data);
// REQUIRES: HardwareAvailable().
std::uint32_t ExtendHardware(std::uint32_t crc, std::string_view data);
bool HardwareAvailable();
// The carry-less multiplication path (crc32c.cc), which Extend() takes for inputs of 512 bytes or
// more on CPUs with VPCLMULQDQ and AVX2. REQUIRES: FoldingAvailable().
std::uint32_t ExtendFolded(std::uint32_t crc, std::string_view data);
bool FoldingAvailable();

// A CRC stored next to the data it covers is masked, because the CRC of a string that contains
// its own CRC is degenerate (LevelDB does the same). Mask before storing, Unmask after loading.
inline constexpr std::uint32_t kMaskDelta = 0xa282ead8u;
inline std::uint32_t Mask(std::uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }
inline std::uint32_t Unmask(std::uint32_t masked) {
  std::uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace kv::crc32c
