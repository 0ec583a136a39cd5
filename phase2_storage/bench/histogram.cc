#include "phase2_storage/bench/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace kv::bench {

std::size_t Histogram::BucketOf(std::uint64_t v) {
  if (v < kExact) return v;
  const int octave = std::bit_width(v) - 1;  // >= 6
  const std::uint64_t sub = (v >> (octave - kSubBits)) & ((1u << kSubBits) - 1);
  return kExact + static_cast<std::size_t>(octave - 6) * 32 + sub;
}

std::uint64_t Histogram::BucketLow(std::size_t b) {
  if (b < kExact) return b;
  const int octave = static_cast<int>((b - kExact) / 32) + 6;
  const std::uint64_t sub = (b - kExact) % 32;
  return (std::uint64_t{1} << octave) + (sub << (octave - kSubBits));
}

std::uint64_t Histogram::BucketHigh(std::size_t b) {
  if (b < kExact) return b;
  const int octave = static_cast<int>((b - kExact) / 32) + 6;
  return BucketLow(b) + (std::uint64_t{1} << (octave - kSubBits)) - 1;
}

void Histogram::Record(std::uint64_t nanos) {
  ++buckets_[BucketOf(nanos)];
  ++count_;
  min_ = std::min(min_, nanos);
  max_ = std::max(max_, nanos);
}

double Histogram::Percentile(double p) const {
  if (count_ == 0) return 0;
  // The rank (1-based) of the sample at fraction p.
  const auto rank =
      static_cast<std::uint64_t>(std::max(1.0, std::ceil(p * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t b = 0; b < kBuckets; ++b) {
    seen += buckets_[b];
    if (seen >= rank) {
      const double mid =
          (static_cast<double>(BucketLow(b)) + static_cast<double>(BucketHigh(b))) / 2;
      return std::clamp(mid, static_cast<double>(min_), static_cast<double>(max_));
    }
  }
  return static_cast<double>(max_);
}

}  // namespace kv::bench
