#include "common/random.h"

#include <bit>

#include "common/check.h"

namespace kv {
namespace {

__extension__ using Uint128 = unsigned __int128;  // GCC/Clang extension, not ISO C++.

std::uint64_t SplitMix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

Random::Random(std::uint64_t seed) : seed_(seed) {
  std::uint64_t x = seed;
  for (auto& word : s_) word = SplitMix64(x);
}

std::uint64_t Random::Next() {
  // xoshiro256** (Blackman and Vigna, 2018).
  std::uint64_t result = std::rotl(s_[1] * 5, 7) * 9;
  std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = std::rotl(s_[3], 45);
  return result;
}

std::uint64_t Random::Uniform(std::uint64_t n) {
  KV_CHECK(n > 0, "Uniform(0)");
  // Lemire's multiply-shift with rejection: unbiased for every n.
  while (true) {
    Uint128 m = static_cast<Uint128>(Next()) * n;
    auto low = static_cast<std::uint64_t>(m);
    if (low >= n || low >= (0 - n) % n) return static_cast<std::uint64_t>(m >> 64);
  }
}

std::string Random::Bytes(std::size_t len) {
  std::string out(len, '\0');
  for (auto& c : out) c = static_cast<char>(Next() & 0xff);
  return out;
}

std::string Random::Letters(std::size_t len) {
  std::string out(len, '\0');
  for (auto& c : out) c = static_cast<char>('a' + Uniform(26));
  return out;
}

}  // namespace kv
