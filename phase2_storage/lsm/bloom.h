// Bloom filters for SSTables: a compact, lossy summary of a table's keys.
//
// A point lookup in an LSM tree may have to consult one SSTable per level (and every overlapping
// table in level 0), and for most of them the answer is "not here". Without a filter, finding
// that out costs a data-block read (a disk access on a cold cache) per table. A table's bloom
// filter answers "certainly not here" for almost all absent keys from a few bits kept in memory,
// so the lookup skips that table's data block; it never wrongly says "absent" for a key the
// table holds. The price is a small false-positive rate, set by the bits spent per key
// (BloomTheoreticalFpr).
//
// Layout of the filter bytes (what BuildBloomFilter returns and a table stores):
//
//   filter := bits[ceil(m / 8)] k[1]
//
//   * bits: the bit array; bit j (0 <= j < 8 * ceil(m / 8)) is bit (j % 8) of byte (j / 8),
//     counting from the least significant bit. The reader uses every bit of these bytes, so the
//     effective m is 8 * (filter size - 1).
//   * k: the number of probes per key, 1..30. Values outside that range are encodings this code
//     does not know; such a filter (or one under 2 bytes) answers "may contain" for every key.
//
// A key sets (when building) or tests (when querying) k bit positions derived from one 64-bit
// hash of its bytes. The hash is this project's own and is part of the format: changing it makes
// every existing filter answer wrongly, so it must not change once tables are on disk.
//
// Thread safety: pure functions of their arguments; safe to call from any number of threads.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace kv::storage::lsm {

// The filter for `keys` (duplicates allowed; an empty set is allowed and gives a filter that
// matches no key). The bit array has m = max(64, keys.size() * bits_per_key) bits rounded up to
// whole bytes, and k = round(bits_per_key * ln 2) clamped to [1, 30] probes.
// REQUIRES: bits_per_key >= 1.
std::string BuildBloomFilter(std::span<const std::string_view> keys, int bits_per_key);

// False only if `key` was certainly not among the keys `filter` was built from. A filter shorter
// than 2 bytes or with an unknown k answers true: the filter only saves reads, and corruption of
// the bytes it came from is caught by the table's block checksums, not here.
bool BloomMayContain(std::string_view filter, std::string_view key);

// The false-positive rate a filter built with `bits_per_key` should show on keys it does not
// hold, in the usual model where the probes are independent and uniform:
//   (1 - e^(-k / bits_per_key))^k,  with the k the builder uses.
// After n keys are added with k probes each into m = n * bits_per_key bits, a given bit is still
// clear with probability (1 - 1/m)^(k n) ~= e^(-k n / m) = e^(-k / bits_per_key); an absent key
// is a false positive when all k of its probes land on set bits.
// REQUIRES: bits_per_key >= 1.
double BloomTheoreticalFpr(int bits_per_key);

}  // namespace kv::storage::lsm
