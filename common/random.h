// Random: a small, fast, seeded pseudo-random source (xoshiro256**, seeded through splitmix64).
//
// Everything random in the project's tests and simulations comes from a Random built from one
// seed, so a failure can be replayed exactly by reusing the seed (tests print it; see
// common/testing/seed.h). Not for cryptography.
//
// Thread safety: none; give each thread its own Random (e.g. seeded from a parent's Next()).
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace kv {

class Random {
 public:
  explicit Random(std::uint64_t seed);

  std::uint64_t seed() const { return seed_; }
  // 64 uniformly distributed bits.
  std::uint64_t Next();
  // Uniform in [0, n). REQUIRES: n > 0.
  std::uint64_t Uniform(std::uint64_t n);
  // Uniform in [lo, hi]. REQUIRES: lo <= hi.
  std::uint64_t Range(std::uint64_t lo, std::uint64_t hi) { return lo + Uniform(hi - lo + 1); }
  // True with probability 1/n. REQUIRES: n > 0.
  bool OneIn(std::uint64_t n) { return Uniform(n) == 0; }
  // `len` random bytes (any value 0..255).
  std::string Bytes(std::size_t len);
  // `len` random lower-case letters: readable keys for tests that print them.
  std::string Letters(std::size_t len);

 private:
  std::uint64_t seed_;
  std::array<std::uint64_t, 4> s_;
};

}  // namespace kv
