#include "phase2_storage/bench/generators.h"

#include <cmath>
#include <cstring>
#include <utility>

#include "common/check.h"

namespace kv::bench {

std::uint64_t SplitMix64::Next() {
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t SplitMix64::Uniform(std::uint64_t n) {
  // The high half of the 128-bit product, from two 64-bit multiplications of 32-bit halves
  // (standard C++ has no 128-bit integer).
  const std::uint64_t x = Next();
  const std::uint64_t x_lo = x & 0xffffffff, x_hi = x >> 32;
  const std::uint64_t n_lo = n & 0xffffffff, n_hi = n >> 32;
  const std::uint64_t lo_lo = x_lo * n_lo;
  const std::uint64_t hi_lo = x_hi * n_lo;
  const std::uint64_t lo_hi = x_lo * n_hi;
  const std::uint64_t hi_hi = x_hi * n_hi;
  const std::uint64_t cross = (lo_lo >> 32) + (hi_lo & 0xffffffff) + lo_hi;
  return hi_hi + (hi_lo >> 32) + (cross >> 32);
}

double SplitMix64::NextDouble() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

std::uint64_t WorkloadSeed(std::uint64_t run_seed, std::string_view workload) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a of the name
  for (unsigned char c : workload) h = (h ^ c) * 0x100000001b3ULL;
  return SplitMix64(run_seed ^ h).Next();
}

void FormatKey(std::uint64_t i, char* out) {
  for (int pos = static_cast<int>(kKeyBytes) - 1; pos >= 0; --pos) {
    out[pos] = static_cast<char>('0' + i % 10);
    i /= 10;
  }
}

std::string KeyOf(std::uint64_t i) {
  std::string key(kKeyBytes, '0');
  FormatKey(i, key.data());
  return key;
}

std::string MissingKeyOf(std::uint64_t i) { return KeyOf(i) + '.'; }

ValueSource::ValueSource(std::uint64_t seed) {
  SplitMix64 rng(seed);
  buffer_.reserve(kBufferBytes + 100);
  while (buffer_.size() < kBufferBytes) {
    char half[50];
    for (char& c : half) c = static_cast<char>(' ' + rng.Uniform(95));  // printable ASCII
    buffer_.append(half, sizeof half);
    buffer_.append(half, sizeof half);
  }
  buffer_.resize(kBufferBytes);
}

std::string_view ValueSource::Next(std::size_t size) {
  KV_CHECK(size <= kBufferBytes, "value larger than the value buffer");
  if (pos_ + size > buffer_.size()) pos_ = 0;
  std::string_view v(buffer_.data() + pos_, size);
  pos_ += size;
  return v;
}

std::vector<std::uint64_t> RandomPermutation(std::uint64_t n, SplitMix64& rng) {
  std::vector<std::uint64_t> p(n);
  for (std::uint64_t i = 0; i < n; ++i) p[i] = i;
  for (std::uint64_t i = n; i > 1; --i) std::swap(p[i - 1], p[rng.Uniform(i)]);
  return p;
}

std::uint64_t Fnv1a64(std::uint64_t v) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (int i = 0; i < 8; ++i) {
    h = (h ^ (v & 0xff)) * 0x100000001b3ULL;
    v >>= 8;
  }
  return h;
}

namespace {

// zeta(n, theta) = sum over i = 1..n of 1 / i^theta.
double Zeta(std::uint64_t n, double theta) {
  double sum = 0;
  for (std::uint64_t i = 1; i <= n; ++i) sum += 1.0 / std::pow(static_cast<double>(i), theta);
  return sum;
}

}  // namespace

ScrambledZipfian::ScrambledZipfian(std::uint64_t n) : n_(n) {
  KV_CHECK(n > 0, "zipfian over an empty range");
  // zeta(10^10, 0.99) takes minutes to sum, so it is the constant YCSB also uses (computed once
  // by summing); Zeta(2) is summed here.
  zeta_universe_ = 26.46902820178302;
  zeta2_ = Zeta(2, kTheta);
  alpha_ = 1.0 / (1.0 - kTheta);
  eta_ = (1.0 - std::pow(2.0 / static_cast<double>(kUniverse), 1.0 - kTheta)) /
         (1.0 - zeta2_ / zeta_universe_);
}

std::uint64_t ScrambledZipfian::NextRank(SplitMix64& rng) {
  // Gray et al., "Quickly generating billion-record synthetic databases" (SIGMOD 1994).
  const double u = rng.NextDouble();
  const double uz = u * zeta_universe_;
  if (uz < 1.0) return 0;
  if (uz < 1.0 + std::pow(0.5, kTheta)) return 1;
  const double rank = static_cast<double>(kUniverse) * std::pow(eta_ * u - eta_ + 1.0, alpha_);
  return std::min<std::uint64_t>(static_cast<std::uint64_t>(rank), kUniverse - 1);
}

std::uint64_t ScrambledZipfian::Next(SplitMix64& rng) { return Fnv1a64(NextRank(rng)) % n_; }

}  // namespace kv::bench
