// A latency histogram with bounded relative error: exact below 64 ns, then 32 buckets per power
// of two (each bucket at most ~3% wide), so a million samples cost a few kilobytes and a
// percentile is read in one pass over the buckets.
#pragma once

#include <array>
#include <cstdint>

namespace kv::bench {

class Histogram {
 public:
  void Record(std::uint64_t nanos);
  std::uint64_t count() const { return count_; }
  std::uint64_t min() const { return min_; }
  std::uint64_t max() const { return max_; }
  // The value below which a fraction `p` (0 < p <= 1) of the samples fall, in nanoseconds: the
  // middle of the bucket holding the sample of that rank, clamped to [min, max]. 0 if empty.
  double Percentile(double p) const;

  // Bucket arithmetic, exposed for tests.
  static std::size_t BucketOf(std::uint64_t nanos);
  static std::uint64_t BucketLow(std::size_t bucket);   // Smallest value in the bucket.
  static std::uint64_t BucketHigh(std::size_t bucket);  // Largest value in the bucket.

 private:
  static constexpr int kSubBits = 5;         // 32 buckets per octave
  static constexpr std::size_t kExact = 64;  // values 0..63 exactly
  static constexpr std::size_t kBuckets = kExact + (64 - 6) * 32;
  std::array<std::uint64_t, kBuckets> buckets_{};
  std::uint64_t count_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
};

}  // namespace kv::bench
