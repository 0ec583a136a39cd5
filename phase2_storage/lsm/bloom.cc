#include "phase2_storage/lsm/bloom.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>

#include "common/check.h"
#include "common/encoding.h"

namespace kv::storage::lsm {
namespace {

// k is stored in one byte; 30 probes already corresponds to ~43 bits per key (an FPR near 1e-9),
// far beyond what any table configuration asks for, so larger values are treated as unknown.
constexpr int kMaxProbes = 30;
// Even a filter for no keys gets this many bits, so that a tiny table's filter is not degenerate
// (a handful of bits would be nearly all ones after a few keys).
constexpr std::uint64_t kMinBits = 64;

// 2^64 / golden ratio, rounded to odd: a multiplier whose bits look random, so one multiply
// spreads every input bit over the higher bits of the product. Also the increment of splitmix64's
// generator, which DeriveStep reuses for the same reason.
constexpr std::uint64_t kGoldenGamma = 0x9e3779b97f4a7c15ULL;

// The splitmix64 finaliser (Steele, Lea, Flood, "Fast splittable pseudorandom number
// generators", OOPSLA 2014, with Vigna's constants): a bijection on 64-bit words in which every
// input bit flips each output bit with probability close to 1/2. The word loop below is cheap
// but leaves differences in the last word concentrated in a few high bits; this step is what
// makes every bit of the hash depend on every bit of the key.
std::uint64_t Avalanche(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Folds one 8-byte word into the running state. Each of the three operations (xor, multiply by
// an odd constant, xorshift) is a bijection, both of the state for a fixed word and of the word
// for a fixed state: two keys of equal length that differ in a single word can never collide.
std::uint64_t MixWord(std::uint64_t h, std::uint64_t word) {
  h = (h ^ word) * kGoldenGamma;
  return h ^ (h >> 29);
}

// The 64-bit hash that places a key's probes. Why our own rather than a library's:
//   * std::hash<std::string_view> is implementation-defined and may change with the standard
//     library, while this hash is part of the on-disk format (see bloom.h);
//   * CRC32C, which the project already has, gives only 32 bits and is linear (the CRC of
//     a xor b is determined by the CRCs of a and b), so structured keys such as consecutive
//     decimal numbers would produce structured, correlated probe positions.
// One multiply per 8 bytes keeps it cheap for the short keys a table holds; the final avalanche
// supplies the quality.
std::uint64_t Hash64(std::string_view key) {
  // The length enters the seed so that keys which pad to the same last word ("a" and "a\0")
  // still hash apart.
  std::uint64_t h = MixWord(kGoldenGamma, key.size());
  std::size_t i = 0;
  for (; i + 8 <= key.size(); i += 8) h = MixWord(h, LoadFixed<std::uint64_t>(key.data() + i));
  if (i < key.size()) {
    std::uint64_t tail = 0;
    for (std::size_t j = 0; i + j < key.size(); ++j) {
      tail |= static_cast<std::uint64_t>(static_cast<unsigned char>(key[i + j])) << (8 * j);
    }
    h = MixWord(h, tail);
  }
  return Avalanche(h);
}

// The probe positions of a key: double hashing, g_i = (h1 + i * h2) mod m for i = 0..k-1.
//
// Why two hashes suffice (Kirsch and Mitzenmacher, "Less Hashing, Same Performance: Building a
// Better Bloom Filter", ESA 2006): with h1 and h2 independent and uniform, the false-positive
// rate of a filter probed at h1 + i*h2 tends to that of one probed by k independent hash
// functions as m grows. A probe sequence only has to make "all k probes of an absent key hit set
// bits" as unlikely as it is for independent probes; the arithmetic progression does that while
// costing one hash per key instead of k.
//
// h1 is the key's hash; h2 is one more splitmix64 step from it (add the gamma, avalanche), so it
// is as unrelated to h1 as two consecutive outputs of that generator. h2 is forced odd: m is a
// multiple of 8, so an odd step is never 0 mod m (which would put all k probes on one bit) and
// shares no factor of 2 with m (which would confine the probes to a sub-lattice of the bits).
class ProbeSequence {
 public:
  ProbeSequence(std::uint64_t hash, std::uint64_t num_bits)
      : num_bits_(num_bits),
        position_(hash % num_bits),
        step_((Avalanche(hash + kGoldenGamma) | 1) % num_bits) {}

  // The current probe's bit index, in [0, num_bits).
  std::uint64_t position() const { return position_; }

  void Next() {
    // Invariant: position_ and step_ are below num_bits_, so the sum is below 2 * num_bits_ and
    // one subtraction reduces it, without a division per probe.
    position_ += step_;
    if (position_ >= num_bits_) position_ -= num_bits_;
  }

 private:
  std::uint64_t num_bits_;
  std::uint64_t position_;
  std::uint64_t step_;
};

// k = round(bits_per_key * ln 2) minimises the false-positive rate (1 - e^(-k/b))^k for b bits
// per key; clamped so a tiny budget still probes once and k fits the format.
int ProbeCount(int bits_per_key) {
  const long k = std::lround(bits_per_key * std::numbers::ln2);
  return static_cast<int>(std::clamp(k, 1L, static_cast<long>(kMaxProbes)));
}

}  // namespace

std::string BuildBloomFilter(std::span<const std::string_view> keys, int bits_per_key) {
  KV_CHECK(bits_per_key >= 1, "BuildBloomFilter: bits_per_key must be at least 1");
  const int k = ProbeCount(bits_per_key);
  const std::uint64_t wanted_bits =
      std::max<std::uint64_t>(kMinBits, keys.size() * static_cast<std::uint64_t>(bits_per_key));
  const std::size_t num_bytes = static_cast<std::size_t>((wanted_bits + 7) / 8);
  // The rounding-up bits are used too: the reader cannot know m, only the byte count.
  const std::uint64_t num_bits = num_bytes * std::uint64_t{8};

  std::string filter(num_bytes, '\0');
  for (std::string_view key : keys) {
    ProbeSequence probe(Hash64(key), num_bits);
    for (int i = 0; i < k; ++i, probe.Next()) {
      const std::uint64_t bit = probe.position();
      filter[bit / 8] = static_cast<char>(filter[bit / 8] | (1 << (bit % 8)));
    }
  }
  filter.push_back(static_cast<char>(k));
  return filter;
}

bool BloomMayContain(std::string_view filter, std::string_view key) {
  if (filter.size() < 2) return true;
  const int k = static_cast<unsigned char>(filter.back());
  if (k > kMaxProbes) return true;
  // (k == 0 needs no case: no probe can fail, so the answer is "may contain".)
  const std::string_view bits = filter.substr(0, filter.size() - 1);
  const std::uint64_t num_bits = bits.size() * std::uint64_t{8};

  ProbeSequence probe(Hash64(key), num_bits);
  for (int i = 0; i < k; ++i, probe.Next()) {
    const std::uint64_t bit = probe.position();
    if ((static_cast<unsigned char>(bits[bit / 8]) & (1 << (bit % 8))) == 0) return false;
  }
  return true;
}

double BloomTheoreticalFpr(int bits_per_key) {
  KV_CHECK(bits_per_key >= 1, "BloomTheoreticalFpr: bits_per_key must be at least 1");
  const double k = ProbeCount(bits_per_key);
  return std::pow(1.0 - std::exp(-k / bits_per_key), k);
}

}  // namespace kv::storage::lsm
