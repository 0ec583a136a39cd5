// The data and the random choices of the workloads, exactly as ../shared/WORKLOADS.md defines
// them, so that every engine sees the same keys, values and operation sequence.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kv::bench {

// splitmix64: a 64-bit state advanced by a constant, then mixed. Small, fast, and the same on
// every platform, which is what a shared benchmark definition needs.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t Next();
  // A number in [0, n): the high 64 bits of Next() * n (no modulo bias worth speaking of).
  std::uint64_t Uniform(std::uint64_t n);
  // A double in [0, 1) with 53 random bits.
  double NextDouble();

 private:
  std::uint64_t state_;
};

// The seed of one workload: the run's seed mixed with the workload's name, so that workloads do
// not share a sequence and adding one does not change the others.
std::uint64_t WorkloadSeed(std::uint64_t run_seed, std::string_view workload);

constexpr std::size_t kKeyBytes = 16;
// Record i's key: 16 zero-padded decimal digits ("%016llu").
std::string KeyOf(std::uint64_t i);
// Writes record i's key into `out[0..16)`.
void FormatKey(std::uint64_t i, char* out);
// The missing key for i: KeyOf(i) followed by '.', which sorts right after it and is never stored.
std::string MissingKeyOf(std::uint64_t i);

// Values: consecutive slices of a 1 MiB buffer made of 100-byte pieces, each 50 random printable
// bytes written twice (so a value compresses to about half; compression is off everywhere).
class ValueSource {
 public:
  static constexpr std::size_t kBufferBytes = 1 << 20;
  explicit ValueSource(std::uint64_t seed);
  // The next `size` bytes of the buffer, wrapping to its start when they would run past its end.
  // REQUIRES: size <= kBufferBytes.
  std::string_view Next(std::size_t size);

 private:
  std::string buffer_;
  std::size_t pos_ = 0;
};

// A random permutation of 0..n-1 (Fisher–Yates, drawing with rng.Uniform).
std::vector<std::uint64_t> RandomPermutation(std::uint64_t n, SplitMix64& rng);

// YCSB's scrambled zipfian distribution over [0, n) with constant 0.99: a zipfian rank is drawn
// over a fixed universe of 10^10 items (so the shape does not depend on n), then hashed (FNV-1a,
// 64 bits) and reduced modulo n, which scatters the popular items over the key space.
class ScrambledZipfian {
 public:
  explicit ScrambledZipfian(std::uint64_t n);
  std::uint64_t Next(SplitMix64& rng);
  // The unscrambled rank in [0, 10^10), for tests of the distribution's shape.
  std::uint64_t NextRank(SplitMix64& rng);

  static constexpr double kTheta = 0.99;
  static constexpr std::uint64_t kUniverse = 10'000'000'000ULL;

 private:
  std::uint64_t n_;
  double zeta_universe_, zeta2_, alpha_, eta_;
};

// FNV-1a over the 8 little-endian bytes of `v`.
std::uint64_t Fnv1a64(std::uint64_t v);

}  // namespace kv::bench
