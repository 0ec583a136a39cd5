// kvbench's definitions against ../shared/WORKLOADS.md, and its statistics against exact ones:
//   * keys, missing keys and values have the documented format;
//   * splitmix64, uniform(n), the permutation and the seeds are deterministic and well formed;
//   * the scrambled zipfian has the skew of constant 0.99 and stays in range;
//   * histogram percentiles are within one bucket (~3%) of the exact sorted-sample percentile;
//   * a small run of the phase 1 store produces a result for every workload, n/a for scans.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "phase2_storage/bench/engine.h"
#include "phase2_storage/bench/generators.h"
#include "phase2_storage/bench/histogram.h"
#include "phase2_storage/bench/workloads.h"

namespace kv::bench {
namespace {

TEST(KvbenchData, KeysAreSixteenZeroPaddedDigits_MissingKeysSortRightAfter) {
  EXPECT_EQ(KeyOf(0), "0000000000000000");
  EXPECT_EQ(KeyOf(42), "0000000000000042");
  EXPECT_EQ(KeyOf(1'000'000), "0000000001000000");
  EXPECT_EQ(KeyOf(9'999'999'999'999'999ULL), "9999999999999999");
  EXPECT_EQ(MissingKeyOf(7), "0000000000000007.");
  for (std::uint64_t i : {0ULL, 9ULL, 99'999ULL, 123'456'789ULL}) {
    EXPECT_EQ(KeyOf(i), fmt::format("{:016}", i));
    EXPECT_LT(KeyOf(i), MissingKeyOf(i));
    EXPECT_LT(MissingKeyOf(i), KeyOf(i + 1)) << "a missing key must fall between two records";
  }
}

TEST(KvbenchData, ValuesArePrintableHalvesRepeatedTwice_ConsecutiveSlicesWrapping) {
  ValueSource a(301), b(301), c(302);
  const std::string first(a.Next(100));
  EXPECT_EQ(first, std::string(b.Next(100))) << "same seed, same values";
  EXPECT_NE(first, std::string(c.Next(100))) << "another seed, other values";
  for (char ch : first) EXPECT_TRUE(ch >= ' ' && ch <= '~') << int(ch);
  EXPECT_EQ(first.substr(0, 50), first.substr(50, 50)) << "each 100-byte piece is 50 bytes twice";
  // Consecutive slices: the second value starts where the first ended.
  const std::string second(a.Next(100));
  EXPECT_EQ(second.substr(0, 50), second.substr(50, 50));
  EXPECT_NE(first, second);
  // A slice that would run past the 1 MiB buffer starts again at its beginning.
  ValueSource d(301);
  std::size_t used = 0;
  while (used + 4096 <= ValueSource::kBufferBytes) {
    (void)d.Next(4096);
    used += 4096;
  }
  EXPECT_EQ(std::string(d.Next(100)), first);
}

TEST(KvbenchRandom, SplitMixIsTheReferenceSequence_UniformInRange) {
  // splitmix64 seeded with 0 starts with this number in every implementation of it.
  SplitMix64 r(0);
  EXPECT_EQ(r.Next(), 0xe220a8397b1dcdafULL);
  SplitMix64 u(301);
  std::vector<int> counts(10);
  for (int i = 0; i < 100'000; ++i) {
    const std::uint64_t x = u.Uniform(10);
    ASSERT_LT(x, 10u);
    ++counts[x];
  }
  for (int c : counts) EXPECT_NEAR(c, 10'000, 500);
  EXPECT_NE(WorkloadSeed(301, "fillrandom"), WorkloadSeed(301, "overwrite"));
  EXPECT_EQ(WorkloadSeed(301, "fillrandom"), WorkloadSeed(301, "fillrandom"));
}

RC_GTEST_PROP(KvbenchRandom, PermutationHoldsEveryIndexOnce,
              (std::uint16_t n, std::uint64_t seed)) {
  SplitMix64 rng(seed);
  auto p = RandomPermutation(n, rng);
  std::sort(p.begin(), p.end());
  for (std::uint64_t i = 0; i < n; ++i) RC_ASSERT(p[i] == i);
}

TEST(KvbenchRandom, ScrambledZipfian_SkewOfConstant099_InRange) {
  // Unscrambled ranks: P(rank 0) = 1 / zeta(10^10, 0.99) = 1 / 26.469 = 3.78%, and rank 1 is
  // 2^0.99 times rarer.
  ScrambledZipfian z(1'000'000);
  SplitMix64 rng(7);
  constexpr int kDraws = 400'000;
  std::map<std::uint64_t, int> ranks;
  std::map<std::uint64_t, int> keys;
  for (int i = 0; i < kDraws; ++i) {
    ++ranks[z.NextRank(rng)];
  }
  SplitMix64 rng2(7);
  for (int i = 0; i < kDraws; ++i) {
    const std::uint64_t k = z.Next(rng2);
    ASSERT_LT(k, 1'000'000u);
    ++keys[k];
  }
  EXPECT_NEAR(ranks[0] / double(kDraws), 1 / 26.46902820178302, 0.002);
  EXPECT_NEAR(ranks[0] / double(ranks[1]), std::pow(2.0, 0.99), 0.08);
  // Scrambling moves the hottest rank away from key 0, to the key its hash picks.
  const auto hottest = std::max_element(keys.begin(), keys.end(),
                                        [](auto& a, auto& b) { return a.second < b.second; });
  EXPECT_EQ(hottest->first, Fnv1a64(0) % 1'000'000);
  EXPECT_GT(keys.size(), 50'000u) << "the tail still reaches many keys";
}

TEST(KvbenchHistogram, BucketsTileTheNumbers_WidthAtMostOne32ndOfTheValue) {
  for (std::uint64_t v : std::vector<std::uint64_t>{0, 1, 63, 64, 65, 127, 128, 1000, 123'456'789,
                                                    (1ULL << 40) + 12345, UINT64_MAX}) {
    const std::size_t b = Histogram::BucketOf(v);
    EXPECT_LE(Histogram::BucketLow(b), v);
    EXPECT_GE(Histogram::BucketHigh(b), v);
    EXPECT_LE(Histogram::BucketHigh(b) - Histogram::BucketLow(b), v / 32);
    if (b > 0) {
      EXPECT_EQ(Histogram::BucketHigh(b - 1) + 1, Histogram::BucketLow(b));
    }
  }
}

RC_GTEST_PROP(KvbenchHistogram, PercentileWithinOneBucketOfExact, (std::vector<std::uint32_t> xs)) {
  RC_PRE(!xs.empty());
  Histogram h;
  for (auto x : xs) h.Record(x);
  std::sort(xs.begin(), xs.end());
  for (double p : {0.5, 0.9, 0.99, 0.999, 1.0}) {
    const std::size_t rank = std::max<std::size_t>(1, std::ceil(p * xs.size()));
    const double exact = xs[rank - 1];
    const double got = h.Percentile(p);
    RC_ASSERT(std::abs(got - exact) <= std::max(1.0, exact / 32.0));
  }
  RC_ASSERT(h.count() == xs.size());
}

TEST(KvbenchRun, MemEngine_EveryWorkloadReported_ScansNotApplicable) {
  const EngineInfo* mem = nullptr;
  for (const auto& e : KnownEngines()) {
    if (e.name == "mem") mem = &e;
  }
  ASSERT_NE(mem, nullptr);
  RunConfig config;
  config.num = 2000;
  config.seeks = 100;
  config.sync_puts = 20;
  config.dir = fmt::format("/tmp/kvbench_test_{}", ::getpid());
  std::filesystem::create_directories(config.dir);
  const auto results = RunEngine(*mem, AllWorkloads(), config, nullptr);
  ASSERT_EQ(results.size(), AllWorkloads().size());
  for (const auto& r : results) {
    SCOPED_TRACE(r.workload);
    const bool scans =
        r.workload == "readseq" || r.workload == "seekrandom" || r.workload == "ycsb-e";
    if (scans) {
      EXPECT_EQ(r.status, "n/a");
      continue;
    }
    ASSERT_EQ(r.status, "ok") << r.error;
    EXPECT_EQ(r.ops, r.workload == "fillsync" ? 20u : 2000u);
    EXPECT_GT(r.ops_per_sec, 0);
    EXPECT_TRUE(r.p50_us && r.p99_us && r.p999_us);
    EXPECT_LE(*r.p50_us, *r.p99_us);
    EXPECT_LE(*r.p99_us, *r.p999_us);
    EXPECT_EQ(r.write_amp.has_value(), WritesData(r.workload));
    EXPECT_EQ(r.space_amp.has_value(), WritesData(r.workload));
    if (r.write_amp) {
      EXPECT_GT(*r.write_amp, 0.5) << "the WAL writes at least the user bytes";
    }
    EXPECT_TRUE(r.peak_rss_mb.has_value());
    EXPECT_FALSE(r.read_amp.has_value()) << "phase 1's table reads no files";
  }
  std::filesystem::remove_all(config.dir);
  // Nothing left behind but the (removed) run folder.
  EXPECT_FALSE(std::filesystem::exists(config.dir));
}

}  // namespace
// The course's trees count what they read, so their read workloads carry a read amplification;
// their write workloads do not (write and space amplification instead).
TEST(KvbenchRun, TreeEngines_ReadWorkloadsReportReadAmplification) {
  for (const char* name : {"lsm", "btree"}) {
    SCOPED_TRACE(name);
    const EngineInfo* engine = nullptr;
    for (const auto& e : KnownEngines()) {
      if (e.name == name) engine = &e;
    }
    ASSERT_NE(engine, nullptr);
    RunConfig config;
    config.num = 2000;
    config.dir = fmt::format("/tmp/kvbench_test_{}_{}", ::getpid(), name);
    std::filesystem::create_directories(config.dir);
    const auto results = RunEngine(*engine, {"fillrandom", "readrandom"}, config, nullptr);
    ASSERT_EQ(results.size(), 2u);
    ASSERT_EQ(results[0].status, "ok") << results[0].error;
    ASSERT_EQ(results[1].status, "ok") << results[1].error;
    EXPECT_FALSE(results[0].read_amp.has_value());
    ASSERT_TRUE(results[1].read_amp.has_value());
    EXPECT_GE(*results[1].read_amp, 0.0);
    EXPECT_LE(*results[1].read_amp, 8.0) << "a point read touches a few units at most";
    std::filesystem::remove_all(config.dir);
  }
}

}  // namespace kv::bench
